//! How SGLang sizes its KV token pool, release by release, read in SGLang's own code.
//!
//! Every rule below was read in the wheel SGLang published on PyPI for the release named in its
//! citation (`python/sglang/srt/...` in the repository is `sglang/srt/...` in the wheel; line
//! numbers are the wheel's, which are the tagged tree's). [`RULES`] lists them with the releases
//! each covers.
//!
//! The pool, per GPU:
//!
//! * `pre` = free memory (CUDA `mem_get_info`, GiB) after `torch.distributed` and NCCL start,
//!   before the weights load (the minimum over ranks);
//! * `post` = free memory after the weights load;
//! * `rest = post − pre × (1 − mem_fraction_static)`, i.e. `pre × mem_fraction_static − weights`;
//! * `max_total_num_tokens = rest × 2^30 // cell_size`, rounded down to whole pages, where
//!   `cell_size` is the KV bytes of one token on this GPU over all its layers.
//!
//! So `mem_fraction_static` is a share of the memory free *at start*, not of the device total,
//! and `pre × (1 − mem_fraction_static)` is all that is left for activations and CUDA graphs.
//! What changed between releases is the default of `mem_fraction_static` (a table by TP, then
//! by GPU memory, then a formula of the chunked-prefill size and CUDA-graph batch size).
//!
//! This module also holds the types the engine modules share: [`EngineVersion`], [`Rule`],
//! [`Citation`], [`RuleSpec`] and [`EngineError`].
//!
//! ```
//! use jauge::sizing::sglang::{size_sglang, SglangInput};
//! use jauge::units::Bytes;
//!
//! // Llama-3.1-8B (BF16) on one H100 80GB with SGLang 0.4.6.post1's defaults.
//! let input = SglangInput::new(
//!     "0.4.6.post1".parse()?,
//!     Bytes(85_029_158_912),   // CUDA's total for an H100 80GB (79.19 GiB)
//!     Bytes(16_060_522_496),   // weights on the GPU
//!     131_072,                 // 32 layers × 8 KV heads × 128 × 2 (K, V) × 2 B
//!     1,
//! );
//! let sizing = size_sglang(&input)?;
//! assert_eq!(sizing.settings.mem_fraction_static, 0.88);
//! assert!(sizing.kv_cache_tokens > 400_000);
//! assert!(sizing.rules.iter().any(|r| r.id == "sglang.pool"));
//! # Ok::<(), jauge::sizing::sglang::EngineError>(())
//! ```

use std::fmt;

use serde::Serialize;

use crate::units::{Bytes, Gib};

/// Why an engine sizing could not be done.
///
/// One enum for both engine modules: callers branch only on "bad version" against "bad
/// settings", and each message names the value and what would be accepted.
///
/// ```
/// use jauge::sizing::sglang::{EngineError, EngineVersion};
/// let err = "latest".parse::<EngineVersion>().unwrap_err();
/// assert!(matches!(err, EngineError::Version { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// Not a version string, or a release older than the rules cover.
    #[error("engine version `{version}`: {message}")]
    Version {
        /// What was given.
        version: String,
        /// Why it was refused.
        message: String,
    },
    /// A setting outside what the engine accepts.
    #[error("{setting} = {value}: {message}")]
    Setting {
        /// The engine's name for the setting.
        setting: &'static str,
        /// The value given, printed.
        value: String,
        /// The range accepted.
        message: &'static str,
    },
}

/// An engine release: `MAJOR.MINOR.PATCH`, with an optional `.postN` or `rcN`.
///
/// SGLang numbers hot fixes `0.4.6.post1`; TensorRT-LLM numbers candidates `1.0.0rc3`. A
/// release candidate orders before its release, a post release after it.
///
/// ```
/// use jauge::sizing::sglang::EngineVersion;
/// let post: EngineVersion = "0.4.6.post1".parse()?;
/// let rc: EngineVersion = "v1.0.0rc3".parse()?;
/// assert_eq!((post.to_string(), rc.to_string()), ("0.4.6.post1".into(), "1.0.0rc3".into()));
/// assert!(EngineVersion::new(0, 4, 6) < post && rc < EngineVersion::new(1, 0, 0));
/// assert!("1.x".parse::<EngineVersion>().is_err());
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct EngineVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
    /// `N` of `.postN` (0 for none).
    pub post: u32,
    /// `N` of `rcN` (`None` for a final release).
    pub rc: Option<u32>,
}

impl EngineVersion {
    /// A final release from its parts.
    ///
    /// ```
    /// use jauge::sizing::sglang::EngineVersion;
    /// assert!(EngineVersion::new(0, 5, 10) > EngineVersion::new(0, 5, 9));
    /// ```
    pub const fn new(major: u32, minor: u32, patch: u32) -> EngineVersion {
        EngineVersion {
            major,
            minor,
            patch,
            post: 0,
            rc: None,
        }
    }

    /// The same release with `.postN`.
    ///
    /// ```
    /// use jauge::sizing::sglang::EngineVersion;
    /// assert_eq!(EngineVersion::new(0, 4, 7).post(1).to_string(), "0.4.7.post1");
    /// ```
    pub const fn post(self, n: u32) -> EngineVersion {
        EngineVersion { post: n, ..self }
    }

    /// The same release as candidate `rcN`.
    ///
    /// ```
    /// use jauge::sizing::sglang::EngineVersion;
    /// assert_eq!(EngineVersion::new(1, 0, 0).rc(3).to_string(), "1.0.0rc3");
    /// ```
    pub const fn rc(self, n: u32) -> EngineVersion {
        EngineVersion {
            rc: Some(n),
            ..self
        }
    }

    /// Ordering key: a candidate sorts before its release, a post release after.
    fn key(&self) -> (u32, u32, u32, u64, u32) {
        let rc = self.rc.map_or(u64::MAX, u64::from);
        (self.major, self.minor, self.patch, rc, self.post)
    }
}

impl PartialOrd for EngineVersion {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EngineVersion {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for EngineVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(rc) = self.rc {
            write!(f, "rc{rc}")?;
        }
        if self.post > 0 {
            write!(f, ".post{}", self.post)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for EngineVersion {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |message: &str| EngineError::Version {
            version: s.to_string(),
            message: message.to_string(),
        };
        let text = s.trim().trim_start_matches('v');
        // A local suffix (`+cu124`) says how it was built, not which rules apply.
        let text = text.split('+').next().unwrap_or("");
        let mut parts = text.split('.');
        let mut numbers = [0u32; 3];
        let mut rc = None;
        let mut post = 0;
        for (i, slot) in numbers.iter_mut().enumerate() {
            let Some(part) = parts.next() else {
                if i < 2 {
                    return Err(bad(
                        "expected MAJOR.MINOR[.PATCH], like 0.4.6.post1 or 1.0.0rc3",
                    ));
                }
                break;
            };
            let (digits, rest) = match part.find(|c: char| !c.is_ascii_digit()) {
                Some(at) => part.split_at(at),
                None => (part, ""),
            };
            *slot = digits
                .parse()
                .map_err(|_| bad("expected MAJOR.MINOR[.PATCH], like 0.4.6.post1 or 1.0.0rc3"))?;
            if !rest.is_empty() {
                let n = rest
                    .strip_prefix("rc")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| bad("only an `rcN` suffix may follow a number"))?;
                rc = Some(n);
            }
        }
        for part in parts {
            match part.strip_prefix("post").and_then(|n| n.parse().ok()) {
                Some(n) => post = n,
                None if part.starts_with("dev") => {}
                None => return Err(bad("only `.postN` or `.devN` may follow MAJOR.MINOR.PATCH")),
            }
        }
        Ok(EngineVersion {
            major: numbers[0],
            minor: numbers[1],
            patch: numbers[2],
            post,
            rc,
        })
    }
}

/// Where a rule was read: repository, release and `file:line` in that release.
///
/// ```
/// use jauge::sizing::sglang::RULES;
/// let c = &RULES[0].citation;
/// assert_eq!(c.repo, "sgl-project/sglang");
/// assert!(c.location.contains(".py:"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Citation {
    /// `owner/name` on GitHub.
    pub repo: &'static str,
    /// The release tag read (`v0.4.6.post1`).
    pub release: &'static str,
    /// `path:line` (or `path` and the function where no tagged line could be read).
    pub location: &'static str,
}

/// One rule of an engine's memory accounting and the releases it covers (`from ..= until`).
///
/// ```
/// use jauge::sizing::sglang::{EngineVersion, RULES};
/// let v = EngineVersion::new(0, 4, 3);
/// let mfs = RULES.iter().find(|r| r.id.starts_with("sglang.mfs") && r.covers(v)).unwrap();
/// assert_eq!(mfs.id, "sglang.mfs.tp_table_0.4");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RuleSpec {
    /// Stable id, `engine.term.variant`.
    pub id: &'static str,
    /// The first release it covers.
    pub from: EngineVersion,
    /// The last release it covers (`None`: still current in the newest release read).
    pub until: Option<EngineVersion>,
    /// What the rule says, in one sentence.
    pub what: &'static str,
    /// Where it was read.
    pub citation: Citation,
}

impl RuleSpec {
    /// Whether `version` falls in this rule's releases.
    ///
    /// ```
    /// use jauge::sizing::sglang::{EngineVersion, RULES};
    /// assert!(RULES.iter().any(|r| r.covers(EngineVersion::new(0, 5, 3))));
    /// ```
    pub fn covers(&self, version: EngineVersion) -> bool {
        version >= self.from && self.until.is_none_or(|until| version <= until)
    }
}

/// A rule as applied: what it decided for this input, and where it comes from.
///
/// ```
/// use jauge::sizing::sglang::{size_sglang, SglangInput};
/// use jauge::units::Bytes;
/// let input = SglangInput::new("0.5.3".parse()?, Bytes(85_029_158_912), Bytes(16 << 30), 131_072, 1);
/// let rule = &size_sglang(&input)?.rules[0];
/// assert!(!rule.decided.is_empty() && rule.citation.release.starts_with('v'));
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// The [`RuleSpec::id`] applied.
    pub id: &'static str,
    /// What it decided here, with the numbers.
    pub decided: String,
    /// Where it was read.
    pub citation: Citation,
}

impl Rule {
    pub(crate) fn from_spec(rules: &[RuleSpec], id: &'static str, decided: String) -> Rule {
        let spec = rules
            .iter()
            .find(|r| r.id == id)
            .expect("every rule applied is in its module's table");
        Rule {
            id,
            decided,
            citation: spec.citation,
        }
    }
}

const SGLANG: &str = "sgl-project/sglang";

const fn cite(release: &'static str, location: &'static str) -> Citation {
    Citation {
        repo: SGLANG,
        release,
        location,
    }
}

const fn v(major: u32, minor: u32, patch: u32) -> EngineVersion {
    EngineVersion::new(major, minor, patch)
}

/// The oldest SGLang release these rules cover.
const OLDEST: EngineVersion = v(0, 2, 0);
/// The newest SGLang release read; later ones get its rules and a note.
const NEWEST_READ: EngineVersion = v(0, 5, 23);

/// SGLang's rules, each with the releases it covers and where it was read.
///
/// ```
/// use jauge::sizing::sglang::{EngineVersion, RULES};
/// // Exactly one default of mem_fraction_static for every release from 0.2.0 on.
/// for v in ["0.2.0", "0.3.6", "0.4.6.post1", "0.4.7", "0.4.7.post1", "0.5.3", "0.5.23"] {
///     let v: EngineVersion = v.parse()?;
///     let n = RULES.iter().filter(|r| r.id.starts_with("sglang.mfs.") && r.covers(v)).count();
///     assert_eq!(n, 1, "{v}");
/// }
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
pub const RULES: &[RuleSpec] = &[
    RuleSpec {
        id: "sglang.pool",
        from: v(0, 2, 0),
        until: None,
        what: "rest = free after weights − free before weights × (1 − mem_fraction_static); \
               max_total_num_tokens = rest × 2^30 // cell_size (KV bytes per token on this GPU, \
               all layers), then rounded down to whole pages",
        citation: cite(
            "v0.4.0",
            "python/sglang/srt/model_executor/model_runner.py:466 (also v0.2.0 \
             srt/managers/controller/model_runner.py:173, v0.5.13 \
             srt/model_executor/model_runner_kv_cache_mixin.py:74)",
        ),
    },
    RuleSpec {
        id: "sglang.mfs.tp_table_0.2.0",
        from: v(0, 2, 0),
        until: Some(v(0, 2, 6)),
        what:
            "mem_fraction_static default by TP: 0.89 (1), 0.88 (2), 0.86 (4), 0.84 (8), 0.80 (16)",
        citation: cite("v0.2.0", "python/sglang/srt/server_args.py:71"),
    },
    RuleSpec {
        id: "sglang.mfs.tp_table_0.2.7",
        from: v(0, 2, 7),
        until: Some(v(0, 3, 5).post(99)),
        what:
            "mem_fraction_static default by TP: 0.88 (1), 0.87 (2), 0.85 (4), 0.83 (8), 0.79 (16)",
        citation: cite("v0.2.7", "python/sglang/srt/server_args.py:92"),
    },
    RuleSpec {
        id: "sglang.mfs.tp_table_0.3.6",
        from: v(0, 3, 6),
        until: Some(v(0, 3, 6).post(99)),
        what: "as 0.2.7 but 0.82 at TP 8",
        citation: cite("v0.3.6", "python/sglang/srt/server_args.py:156"),
    },
    RuleSpec {
        id: "sglang.mfs.tp_table_0.4",
        from: v(0, 4, 0),
        until: Some(v(0, 4, 5).post(99)),
        what: "as 0.2.7 but 0.81 at TP 8",
        citation: cite("v0.4.0", "python/sglang/srt/server_args.py:158"),
    },
    RuleSpec {
        id: "sglang.mfs.large_gpu_0.4.6",
        from: v(0, 4, 6),
        until: Some(v(0, 4, 6).post(99)),
        what: "TP table of 0.4.0 when nvidia-smi reports ≤ 81920 MiB; above, \
               (gpu_mem − 13 GiB) / gpu_mem",
        citation: cite("v0.4.6.post1", "python/sglang/srt/server_args.py:224"),
    },
    RuleSpec {
        id: "sglang.mfs.large_gpu_0.4.7",
        from: v(0, 4, 7),
        until: Some(v(0, 4, 7)),
        what: "TP×PP table when ≤ 81920 MiB, else 0.88; > 180000 MiB: 0.79; > 96 GiB: \
               min(f + 48 GiB × (1 − f) / gpu_mem, (gpu_mem − 18 GiB) / gpu_mem)",
        citation: cite("v0.4.7", "python/sglang/srt/server_args.py:253"),
    },
    RuleSpec {
        id: "sglang.mfs.reserved_table",
        from: v(0, 4, 7).post(1),
        until: Some(v(0, 5, 2).post(99)),
        what: "mem_fraction_static = round((gpu_mem − reserved) / gpu_mem, 3), reserved (MiB) = \
               (2.8 + TP×PP/10) GiB under 35 GiB, (9.5 + TP×PP/2) GiB under 90 GiB, \
               (12 + TP×PP/2) GiB under 160 GiB, 32 GiB above",
        citation: cite("v0.4.7.post1", "python/sglang/srt/server_args.py:283"),
    },
    RuleSpec {
        id: "sglang.mfs.reserved_formula",
        from: v(0, 5, 3),
        until: None,
        what:
            "reserved (MiB) = 512 + 1.5 × max(chunked_prefill_size, 2048) + 2 × cuda_graph_max_bs \
               + TP×PP/8 GiB [+ 8 per piecewise CUDA-graph size from 0.5.10], at least 10 GiB \
               above 60 GiB; mem_fraction_static = round((gpu_mem − reserved) / gpu_mem, 3)",
        citation: cite("v0.5.3", "python/sglang/srt/server_args.py:639"),
    },
    RuleSpec {
        id: "sglang.piecewise_graphs",
        from: v(0, 5, 10),
        until: None,
        what: "piecewise CUDA graphs on by default (non-MLA): 8 MiB reserved per capture size up \
               to piecewise_cuda_graph_max_tokens = chunked_prefill_size (≤ context length from \
               0.5.13); SGLang switches them off for many models and features",
        citation: cite("v0.5.10", "python/sglang/srt/server_args.py:1308"),
    },
    RuleSpec {
        id: "sglang.chunked_prefill.off",
        from: v(0, 2, 0),
        until: Some(v(0, 2, 15)),
        what: "no chunked prefill by default",
        citation: cite("v0.2.7", "python/sglang/srt/server_args.py:70"),
    },
    RuleSpec {
        id: "sglang.chunked_prefill.8192",
        from: v(0, 3, 0),
        until: Some(v(0, 3, 6).post(99)),
        what: "chunked_prefill_size 8192 (0.3.6: 2048 below 25000 MiB)",
        citation: cite("v0.3.0", "python/sglang/srt/server_args.py:54"),
    },
    RuleSpec {
        id: "sglang.chunked_prefill.by_gpu_0.4",
        from: v(0, 4, 0),
        until: Some(v(0, 4, 7)),
        what:
            "chunked_prefill_size 2048 below 25000 MiB, else 8192 (0.4.7: 16384 above 180000 MiB)",
        citation: cite("v0.4.0", "python/sglang/srt/server_args.py:172"),
    },
    RuleSpec {
        id: "sglang.chunked_prefill.by_gpu_0.4.7.post1",
        from: v(0, 4, 7).post(1),
        until: Some(v(0, 5, 2).post(99)),
        what: "chunked_prefill_size 2048 below 35 GiB, 8192 below 160 GiB, else 16384",
        citation: cite("v0.4.7.post1", "python/sglang/srt/server_args.py:305"),
    },
    RuleSpec {
        id: "sglang.chunked_prefill.by_gpu_0.5.3",
        from: v(0, 5, 3),
        until: None,
        what: "chunked_prefill_size / cuda_graph_max_bs: < 20 GiB 2048/8; < 35 GiB 2048/16 (24 \
               from 0.5.6; 80 at TP ≥ 4); < 60 GiB 4096/32 (160); < 160 GiB 8192/256 (512); \
               else 16384/512",
        citation: cite("v0.5.3", "python/sglang/srt/server_args.py:567"),
    },
    RuleSpec {
        id: "sglang.max_running_requests",
        from: v(0, 2, 7),
        until: None,
        what: "max_running_requests = min(setting or max_total_num_tokens // 2, req pool), \
               req pool = min(max(tokens / context_len × 512, 2048), 5120 through 0.3.0, 4096 from 0.3.1)",
        citation: cite(
            "v0.4.6.post1",
            "python/sglang/srt/managers/tp_worker.py:110, \
             python/sglang/srt/model_executor/model_runner.py:738",
        ),
    },
    RuleSpec {
        id: "sglang.free_at_init",
        from: v(0, 2, 0),
        until: None,
        what: "free memory before weights = CUDA total − CUDA context − NCCL and other start-up \
               allocations: not in SGLang's code; jauge estimates it unless given",
        citation: cite(
            "v0.4.6.post1",
            "python/sglang/srt/model_executor/model_runner.py:376 (get_available_gpu_memory \
             after init_torch_distributed)",
        ),
    },
];

/// SGLang's settings that shape the pool; `None` is the release's default.
///
/// ```
/// let s = jauge::sizing::sglang::SglangSettings::default();
/// assert!(s.mem_fraction_static.is_none() && s.piecewise_cuda_graph.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct SglangSettings {
    /// `--mem-fraction-static`.
    pub mem_fraction_static: Option<f64>,
    /// `--chunked-prefill-size` (0 or negative in SGLang means off; here `Some(0)`).
    pub chunked_prefill_size: Option<u32>,
    /// `--cuda-graph-max-bs`.
    pub cuda_graph_max_bs: Option<u32>,
    /// `--max-running-requests`.
    pub max_running_requests: Option<u32>,
    /// Piecewise CUDA graphs (0.5.10+: on unless disabled); `None` is the release's default.
    pub piecewise_cuda_graph: Option<bool>,
    /// `--context-length`; `None`: the model's (used for the request pool only).
    pub context_length: Option<u32>,
    /// `--page-size` (1 by default).
    pub page_size: Option<u32>,
    /// `--pp-size` (1 by default).
    pub pp_size: Option<u32>,
}

/// The settings as SGLang resolves them.
///
/// ```
/// use jauge::sizing::sglang::{size_sglang, SglangInput};
/// use jauge::units::Bytes;
/// let input = SglangInput::new("0.5.3".parse()?, Bytes(85_029_158_912), Bytes(16 << 30), 131_072, 1);
/// let s = size_sglang(&input)?.settings;
/// assert_eq!((s.chunked_prefill_size, s.cuda_graph_max_bs), (8192, 256));
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SglangResolved {
    /// `mem_fraction_static` used.
    pub mem_fraction_static: f64,
    /// Chunked-prefill size (0: off).
    pub chunked_prefill_size: u32,
    /// Largest CUDA-graph batch (0 where the release's default does not depend on the GPU and
    /// jauge does not model it).
    pub cuda_graph_max_bs: u32,
    /// Piecewise CUDA graphs counted in the reserve.
    pub piecewise_cuda_graph: bool,
    /// Tokens per page.
    pub page_size: u32,
    /// Pipeline stages.
    pub pp_size: u32,
    /// The GPU memory SGLang's defaults key on (nvidia-smi `memory.total`), MiB.
    pub gpu_memory_mib: f64,
}

/// What to size with SGLang: one GPU's memory and what the model puts on it.
///
/// ```
/// use jauge::sizing::sglang::SglangInput;
/// use jauge::units::Bytes;
/// let i = SglangInput::new("0.4.0".parse()?, Bytes(85_029_158_912), Bytes(1 << 34), 131_072, 2);
/// assert_eq!(i.tp, 2);
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SglangInput {
    /// The release whose rules apply.
    pub version: EngineVersion,
    /// The device's total memory as CUDA reports it (`torch.cuda.mem_get_info()[1]`).
    pub total_memory: Bytes,
    /// nvidia-smi's `memory.total` in MiB, which SGLang's defaults key on; `None`: taken as
    /// `total_memory` in MiB (nvidia-smi reports ~0.45 GiB more on an H100, which matters only
    /// next to a threshold).
    pub nvidia_smi_total_mib: Option<f64>,
    /// Free memory after start-up, before weights (`pre`); `None`: estimated.
    pub free_before_weights: Option<Bytes>,
    /// Weights on each GPU.
    pub weights_per_gpu: Bytes,
    /// KV-cache bytes of one token on one GPU, all its layers (SGLang's `cell_size`).
    pub kv_bytes_per_token_per_gpu: u64,
    /// Tensor-parallel size.
    pub tp: u32,
    /// Model's maximum context, for the request pool; `None`: 32768.
    pub model_context_length: Option<u32>,
    /// Engine settings.
    pub settings: SglangSettings,
}

impl SglangInput {
    /// An input with the release's default settings and estimated start-up memory.
    ///
    /// ```
    /// use jauge::sizing::sglang::SglangInput;
    /// use jauge::units::Bytes;
    /// let i = SglangInput::new("0.5.3".parse()?, Bytes(1 << 36), Bytes(1 << 34), 65_536, 1);
    /// assert!(i.free_before_weights.is_none());
    /// # Ok::<(), jauge::sizing::sglang::EngineError>(())
    /// ```
    pub fn new(
        version: EngineVersion,
        total_memory: Bytes,
        weights_per_gpu: Bytes,
        kv_bytes_per_token_per_gpu: u64,
        tp: u32,
    ) -> SglangInput {
        SglangInput {
            version,
            total_memory,
            nvidia_smi_total_mib: None,
            free_before_weights: None,
            weights_per_gpu,
            kv_bytes_per_token_per_gpu,
            tp,
            model_context_length: None,
            settings: SglangSettings::default(),
        }
    }
}

/// One GPU's memory under SGLang, GiB, term by term.
///
/// ```
/// use jauge::sizing::sglang::{size_sglang, SglangInput};
/// use jauge::units::Bytes;
/// let input = SglangInput::new("0.4.0".parse()?, Bytes(85_029_158_912), Bytes(16 << 30), 131_072, 1);
/// let m = size_sglang(&input)?.memory_gib_per_gpu;
/// let sum = m.startup + m.weights + m.kv_cache + m.reserve;
/// assert!((sum - m.total).abs() < 1e-9);
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SglangMemory {
    /// The device total (CUDA).
    pub total: f64,
    /// CUDA context, NCCL and anything else allocated before the weights.
    pub startup: f64,
    /// Weights.
    pub weights: f64,
    /// The KV pool (`rest`; negative when the weights leave none).
    pub kv_cache: f64,
    /// `pre × (1 − mem_fraction_static)`: all there is for activations and CUDA graphs.
    pub reserve: f64,
}

/// SGLang's KV pool for one deployment.
///
/// ```
/// use jauge::sizing::sglang::{size_sglang, SglangInput};
/// use jauge::units::Bytes;
/// let input = SglangInput::new("0.5.3".parse()?, Bytes(85_029_158_912), Bytes(16 << 30), 131_072, 1);
/// let s = size_sglang(&input)?;
/// assert_eq!(s.kv_cache_bytes, s.kv_cache_tokens * 131_072);
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SglangSizing {
    /// The release applied.
    pub version: String,
    /// KV pool bytes on each GPU (tokens × cell size).
    pub kv_cache_bytes: u64,
    /// `max_total_num_tokens` (each TP rank holds its heads of the same tokens).
    pub kv_cache_tokens: u64,
    /// `max_running_requests` SGLang would use.
    pub max_running_requests: u64,
    /// Memory per GPU, GiB.
    pub memory_gib_per_gpu: SglangMemory,
    /// Settings with defaults resolved.
    pub settings: SglangResolved,
    /// The rules applied, in order.
    pub rules: Vec<Rule>,
    /// Whether any term is an estimate rather than SGLang's rule.
    pub estimated: bool,
    /// What was estimated and why.
    pub notes: Vec<String>,
}

/// CUDA context with lazy loading: 287,047,680 B (pytorch/pytorch#86509, as in
/// shared/reference/vllm-memory.md).
const CUDA_CONTEXT: Bytes = Bytes(287_047_680);
/// NCCL and custom all-reduce buffers per GPU once TP > 1: ~0.42 GiB, the TP-2 non-torch growth
/// vLLM's logs show on H100 (0.55 GiB) less its single-GPU share (0.13 GiB); SGLang creates its
/// groups before measuring `pre`, so they come out of it.
const NCCL_ESTIMATE: Bytes = Bytes(450_971_566);

/// Sizes SGLang's KV pool.
///
/// # Errors
///
/// * [`EngineError::Version`] for a release older than 0.2.0;
/// * [`EngineError::Setting`] for a zero TP, page size or cell size, or a
///   `mem_fraction_static` outside (0, 1].
///
/// Weights that leave no room are not an error: the pool is 0 tokens and a note says so.
///
/// ```
/// use jauge::sizing::sglang::{size_sglang, SglangInput};
/// use jauge::units::Bytes;
/// let mut input = SglangInput::new("0.4.0".parse()?, Bytes(85_029_158_912), Bytes(16 << 30), 131_072, 1);
/// input.settings.mem_fraction_static = Some(1.5);
/// assert!(size_sglang(&input).is_err());
/// input.settings.mem_fraction_static = Some(0.2); // 0.2 × 78.9 GiB < 16 GiB of weights
/// assert_eq!(size_sglang(&input)?.kv_cache_tokens, 0);
/// # Ok::<(), jauge::sizing::sglang::EngineError>(())
/// ```
pub fn size_sglang(input: &SglangInput) -> Result<SglangSizing, EngineError> {
    let version = input.version;
    if version < OLDEST {
        return Err(EngineError::Version {
            version: version.to_string(),
            message: format!("jauge models SGLang {OLDEST} and later"),
        });
    }
    for (setting, value) in [
        ("--tp-size", u64::from(input.tp)),
        ("cell_size", input.kv_bytes_per_token_per_gpu),
        (
            "--page-size",
            u64::from(input.settings.page_size.unwrap_or(1)),
        ),
        ("--pp-size", u64::from(input.settings.pp_size.unwrap_or(1))),
    ] {
        if value == 0 {
            return Err(EngineError::Setting {
                setting,
                value: "0".to_string(),
                message: "must be at least 1",
            });
        }
    }
    let mut rules = Vec::new();
    let mut notes = Vec::new();
    let mut estimated = false;
    if version > NEWEST_READ {
        notes.push(format!(
            "SGLang {version} is newer than the newest release read ({NEWEST_READ}); its rules are applied"
        ));
    }
    let s = input.settings;
    let tp = input.tp;
    let pp = s.pp_size.unwrap_or(1);
    let page_size = s.page_size.unwrap_or(1);
    let gpu_mib = input
        .nvidia_smi_total_mib
        .unwrap_or(input.total_memory.0 as f64 / MIB);

    let (chunked, graph_bs, chunk_rule) = default_batch(version, gpu_mib, tp, s);
    rules.push(Rule::from_spec(
        RULES,
        chunk_rule,
        format!(
            "chunked_prefill_size {chunked}{} on {gpu_mib:.0} MiB",
            if graph_bs > 0 {
                format!(", cuda_graph_max_bs {graph_bs}")
            } else {
                String::new()
            }
        ),
    ));
    let piecewise = version >= v(0, 5, 10) && s.piecewise_cuda_graph.unwrap_or(true);
    if piecewise {
        let max_tokens = match s.context_length {
            Some(ctx) if version >= v(0, 5, 13) => chunked.min(ctx),
            _ => chunked,
        };
        rules.push(Rule::from_spec(
            RULES,
            "sglang.piecewise_graphs",
            format!(
                "{} capture sizes up to {max_tokens} tokens: {} MiB more reserve",
                piecewise_sizes(max_tokens),
                piecewise_sizes(max_tokens) * 8
            ),
        ));
    }
    let mfs = match s.mem_fraction_static {
        Some(f) => f,
        None => {
            let (f, id, how) = default_mem_fraction(version, gpu_mib, tp, pp, chunked, graph_bs, {
                if piecewise {
                    let max_tokens = match s.context_length {
                        Some(ctx) if version >= v(0, 5, 13) => chunked.min(ctx),
                        _ => chunked,
                    };
                    piecewise_sizes(max_tokens)
                } else {
                    0
                }
            });
            rules.push(Rule::from_spec(RULES, id, how));
            f
        }
    };
    if !(mfs > 0.0 && mfs <= 1.0) {
        return Err(EngineError::Setting {
            setting: "--mem-fraction-static",
            value: mfs.to_string(),
            message: "must be in (0, 1]",
        });
    }

    let total = input.total_memory;
    let pre = match input.free_before_weights {
        Some(free) => free,
        None => {
            estimated = true;
            let startup = CUDA_CONTEXT.0 + if tp > 1 { NCCL_ESTIMATE.0 } else { 0 };
            notes.push(format!(
                "free memory before weights estimated as total − {:.2} GiB (CUDA context 0.27 GiB{}); \
                 SGLang logs it as `avail mem` at `Init torch distributed ends`",
                Bytes(startup).gib().0,
                if tp > 1 { " + NCCL ~0.42 GiB" } else { "" }
            ));
            Bytes(total.0.saturating_sub(startup))
        }
    };
    rules.push(Rule::from_spec(
        RULES,
        "sglang.free_at_init",
        format!("free before weights {:.2} GiB", pre.gib().0),
    ));
    let pre_gib = pre.gib().0;
    let weights_gib = input.weights_per_gpu.gib().0;
    let post_gib = pre_gib - weights_gib;
    let rest_gib = post_gib - pre_gib * (1.0 - mfs);
    let cell = input.kv_bytes_per_token_per_gpu;
    // SGLang: int(rest_memory * (1 << 30)) // cell_size, then whole pages.
    let rest_bytes = Gib(rest_gib).bytes_floor().0;
    let tokens = rest_bytes / cell / u64::from(page_size) * u64::from(page_size);
    rules.push(Rule::from_spec(
        RULES,
        "sglang.pool",
        format!(
            "rest = {post_gib:.2} − {pre_gib:.2} × (1 − {mfs}) = {rest_gib:.2} GiB; \
             {tokens} tokens of {cell} B"
        ),
    ));
    if tokens == 0 {
        notes.push(format!(
            "the weights ({weights_gib:.2} GiB) leave no KV pool under mem_fraction_static {mfs}: \
             SGLang stops with `Not enough memory`; raise --mem-fraction-static or add GPUs"
        ));
    }

    let context = s
        .context_length
        .or(input.model_context_length)
        .unwrap_or(32_768)
        .max(1);
    let cap = if version < v(0, 3, 1) { 5120 } else { 4096 };
    let req_pool = ((tokens as f64 / f64::from(context) * 512.0) as u64).clamp(2048, cap);
    let max_running = match s.max_running_requests {
        Some(n) => u64::from(n).min(req_pool),
        None => (tokens / 2).min(req_pool),
    };
    if version >= v(0, 2, 7) {
        rules.push(Rule::from_spec(
            RULES,
            "sglang.max_running_requests",
            format!("request pool {req_pool} (cap {cap}); max_running_requests {max_running}"),
        ));
    }

    Ok(SglangSizing {
        version: version.to_string(),
        kv_cache_bytes: tokens * cell,
        kv_cache_tokens: tokens,
        max_running_requests: max_running,
        memory_gib_per_gpu: SglangMemory {
            total: total.gib().0,
            startup: total.gib().0 - pre_gib,
            weights: weights_gib,
            kv_cache: rest_gib,
            reserve: pre_gib * (1.0 - mfs),
        },
        settings: SglangResolved {
            mem_fraction_static: mfs,
            chunked_prefill_size: chunked,
            cuda_graph_max_bs: graph_bs,
            piecewise_cuda_graph: piecewise,
            page_size,
            pp_size: pp,
            gpu_memory_mib: gpu_mib,
        },
        rules,
        estimated,
        notes,
    })
}

const MIB: f64 = 1_048_576.0;
const GIB_IN_MIB: f64 = 1024.0;

/// `(chunked_prefill_size, cuda_graph_max_bs, rule id)`; settings given win. cuda_graph_max_bs
/// is 0 where jauge does not need it (it enters the reserve only from 0.5.3).
fn default_batch(
    version: EngineVersion,
    gpu_mib: f64,
    tp: u32,
    s: SglangSettings,
) -> (u32, u32, &'static str) {
    let g = GIB_IN_MIB;
    let (chunked, graph_bs, id) = if version >= v(0, 5, 3) {
        let small_graph = if version >= v(0, 5, 6) { 24 } else { 16 };
        let (c, b) = if gpu_mib < 20.0 * g {
            (2048, 8)
        } else if gpu_mib < 35.0 * g {
            (2048, if tp < 4 { small_graph } else { 80 })
        } else if gpu_mib < 60.0 * g {
            (4096, if tp < 4 { 32 } else { 160 })
        } else if gpu_mib < 160.0 * g {
            (8192, if tp < 4 { 256 } else { 512 })
        } else {
            (16384, 512)
        };
        (c, b, "sglang.chunked_prefill.by_gpu_0.5.3")
    } else if version >= v(0, 4, 7).post(1) {
        let c = if gpu_mib < 35.0 * g {
            2048
        } else if gpu_mib < 160.0 * g {
            8192
        } else {
            16384
        };
        (c, 0, "sglang.chunked_prefill.by_gpu_0.4.7.post1")
    } else if version >= v(0, 4, 0) {
        let c = if version >= v(0, 4, 7) && gpu_mib > 180_000.0 {
            16384
        } else if gpu_mib < 25_000.0 {
            2048
        } else {
            8192
        };
        (c, 0, "sglang.chunked_prefill.by_gpu_0.4")
    } else if version >= v(0, 3, 0) {
        let c = if version >= v(0, 3, 6) && gpu_mib < 25_000.0 {
            2048
        } else {
            8192
        };
        (c, 0, "sglang.chunked_prefill.8192")
    } else {
        (0, 0, "sglang.chunked_prefill.off")
    };
    (
        s.chunked_prefill_size.unwrap_or(chunked),
        s.cuda_graph_max_bs.unwrap_or(graph_bs),
        id,
    )
}

/// SGLang's piecewise CUDA-graph capture sizes up to `max_tokens` (0.5.10
/// `server_args.py:1397`, `_generate_piecewise_cuda_graph_tokens`).
fn piecewise_sizes(max_tokens: u32) -> u32 {
    let ranges: [(u32, u32, u32); 6] = [
        (4, 32, 4),
        (48, 256, 16),
        (288, 512, 32),
        (576, 1024, 64),
        (1280, 4096, 256),
        (4608, max_tokens, 512),
    ];
    ranges
        .iter()
        .flat_map(|&(start, end, step)| (start..=end).step_by(step as usize))
        .filter(|&n| n <= max_tokens)
        .count() as u32
}

/// The TP (× PP from 0.4.7) table: 1, 2, 4, 8, 16 GPUs.
fn tp_table(parallel: u32, fractions: [f64; 5]) -> f64 {
    match parallel {
        16.. => fractions[4],
        8.. => fractions[3],
        4.. => fractions[2],
        2.. => fractions[1],
        _ => fractions[0],
    }
}

/// SGLang rounds the formula's result to 3 decimals.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `(mem_fraction_static, rule id, what it decided)` when the user sets none.
fn default_mem_fraction(
    version: EngineVersion,
    gpu_mib: f64,
    tp: u32,
    pp: u32,
    chunked: u32,
    graph_bs: u32,
    piecewise_sizes: u32,
) -> (f64, &'static str, String) {
    let g = GIB_IN_MIB;
    const T_0_2_7: [f64; 5] = [0.88, 0.87, 0.85, 0.83, 0.79];
    if version < v(0, 2, 7) {
        let f = tp_table(tp, [0.89, 0.88, 0.86, 0.84, 0.80]);
        return (f, "sglang.mfs.tp_table_0.2.0", format!("TP {tp}: {f}"));
    }
    if version < v(0, 3, 6) {
        let f = tp_table(tp, T_0_2_7);
        return (f, "sglang.mfs.tp_table_0.2.7", format!("TP {tp}: {f}"));
    }
    if version < v(0, 4, 0) {
        let f = tp_table(tp, [0.88, 0.87, 0.85, 0.82, 0.79]);
        return (f, "sglang.mfs.tp_table_0.3.6", format!("TP {tp}: {f}"));
    }
    const T_0_4: [f64; 5] = [0.88, 0.87, 0.85, 0.81, 0.79];
    if version < v(0, 4, 6) {
        let f = tp_table(tp, T_0_4);
        return (f, "sglang.mfs.tp_table_0.4", format!("TP {tp}: {f}"));
    }
    if version < v(0, 4, 7) {
        let (f, how) = if gpu_mib <= 81_920.0 {
            let f = tp_table(tp, T_0_4);
            (f, format!("{gpu_mib:.0} MiB ≤ 81920, TP {tp}: {f}"))
        } else {
            let f = (gpu_mib - 13.0 * g) / gpu_mib;
            (f, format!("({gpu_mib:.0} − 13312) / {gpu_mib:.0} = {f:.4}"))
        };
        return (f, "sglang.mfs.large_gpu_0.4.6", how);
    }
    let parallel = tp * pp;
    if version < v(0, 4, 7).post(1) {
        let base = if gpu_mib <= 81_920.0 {
            tp_table(parallel, T_0_4)
        } else {
            0.88
        };
        let f = if gpu_mib > 180_000.0 {
            0.79
        } else if gpu_mib > 96.0 * g {
            (base + 48.0 * g * (1.0 - base) / gpu_mib).min((gpu_mib - 18.0 * g) / gpu_mib)
        } else {
            base
        };
        return (
            f,
            "sglang.mfs.large_gpu_0.4.7",
            format!("{gpu_mib:.0} MiB, TP×PP {parallel}: {f:.4}"),
        );
    }
    let p = f64::from(parallel);
    if version < v(0, 5, 3) {
        let reserved_gib = if gpu_mib < 35.0 * g {
            2.8 + p / 10.0
        } else if gpu_mib < 90.0 * g {
            9.5 + p / 2.0
        } else if gpu_mib < 160.0 * g {
            12.0 + p / 2.0
        } else {
            32.0
        };
        let f = round3((gpu_mib - reserved_gib * g) / gpu_mib);
        return (
            f,
            "sglang.mfs.reserved_table",
            format!("reserved {reserved_gib} GiB of {gpu_mib:.0} MiB: {f}"),
        );
    }
    let mut reserved = 512.0 + f64::from(chunked.max(2048)) * 1.5 + f64::from(graph_bs) * 2.0;
    reserved += p / 8.0 * g;
    reserved += f64::from(piecewise_sizes) * 8.0;
    if gpu_mib > 60.0 * g {
        reserved = reserved.max(10.0 * g);
    }
    let f = round3((gpu_mib - reserved) / gpu_mib);
    (
        f,
        "sglang.mfs.reserved_formula",
        format!("reserved {reserved:.0} MiB of {gpu_mib:.0} MiB: {f}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// H100 80GB: CUDA's total (torch `mem_get_info`), and nvidia-smi's `memory.total`.
    const H100_CUDA: Bytes = Bytes(85_029_158_912);
    const H100_SMI_MIB: f64 = 81_559.0;

    fn mfs(version: &str, smi_mib: f64, tp: u32) -> f64 {
        let mut input = SglangInput::new(
            version.parse().unwrap(),
            Bytes((smi_mib * MIB) as u64),
            Bytes(1 << 30),
            131_072,
            tp,
        );
        input.nvidia_smi_total_mib = Some(smi_mib);
        size_sglang(&input).unwrap().settings.mem_fraction_static
    }

    /// v0.2.0 `server_args.py:71`: `if self.tp_size >= 16: 0.80 … else: 0.89`;
    /// v0.2.7 `server_args.py:92` lowered each by 0.01 (0.88 at TP 1, 0.83 at TP 8).
    #[test]
    fn tp_tables_of_0_2() {
        assert_eq!(mfs("0.2.0", H100_SMI_MIB, 1), 0.89);
        assert_eq!(mfs("0.2.6", H100_SMI_MIB, 16), 0.80);
        assert_eq!(mfs("0.2.7", H100_SMI_MIB, 1), 0.88);
        assert_eq!(mfs("0.3.5", H100_SMI_MIB, 8), 0.83);
    }

    /// v0.3.6 `server_args.py:156` (`elif self.tp_size >= 8: 0.82`) and v0.4.0
    /// `server_args.py:158` (`0.81`).
    #[test]
    fn tp8_fraction_fell_in_0_3_6_and_0_4_0() {
        assert_eq!(mfs("0.3.6", H100_SMI_MIB, 8), 0.82);
        assert_eq!(mfs("0.4.0", H100_SMI_MIB, 8), 0.81);
        assert_eq!(mfs("0.4.5.post3", H100_SMI_MIB, 4), 0.85);
    }

    /// v0.4.6.post1 `server_args.py:224`: above 81920 MiB,
    /// `(gpu_mem - 1024 * 13) / gpu_mem`; an H200 (143771 MiB) gets 0.9074.
    #[test]
    fn large_gpus_reserve_13_gib_in_0_4_6() {
        assert_eq!(mfs("0.4.6.post1", H100_SMI_MIB, 1), 0.88);
        let h200 = mfs("0.4.6.post1", 143_771.0, 1);
        assert!((h200 - (143_771.0 - 13_312.0) / 143_771.0).abs() < 1e-12);
    }

    /// v0.4.7 `server_args.py:253`: `> 96 * 1024` MiB: `min(f + 48 * 1024 * (1 - f) / gpu_mem,
    /// (gpu_mem - 1024 * 18) / gpu_mem)` from f = 0.88; `> 180 * 1000`: 0.79.
    #[test]
    fn rule_of_0_4_7_alone() {
        let h200 = mfs("0.4.7", 143_771.0, 1);
        let expected =
            (0.88_f64 + 48.0 * 1024.0 * 0.12 / 143_771.0).min((143_771.0 - 18_432.0) / 143_771.0);
        assert!((h200 - expected).abs() < 1e-12);
        assert_eq!(mfs("0.4.7", 183_359.0, 1), 0.79);
    }

    /// v0.4.7.post1 `server_args.py:283`: H100/A100 class `reserved_mem = (9.5 + parallel_size
    /// / 2) * 1024`, `round((gpu_mem - reserved_mem) / gpu_mem, 3)`: TP 1 on an H100 →
    /// round((81559 − 10240) / 81559, 3) = 0.874.
    #[test]
    fn reserved_table_from_0_4_7_post1() {
        assert_eq!(mfs("0.4.7.post1", H100_SMI_MIB, 1), 0.874);
        assert_eq!(
            mfs("0.5.2", H100_SMI_MIB, 8),
            round3((81_559.0 - 13.5 * 1024.0) / 81_559.0)
        );
    }

    /// v0.5.3 `server_args.py:639`: `reserved_mem = 512 + max(chunked, 2048) * 1.5 +
    /// cuda_graph_max_bs * 2 + tp * pp / 8 * 1024`, at least 10 GiB above 60 GiB. H100 TP 1:
    /// 512 + 12288 + 512 + 128 = 13440 MiB → round((81559 − 13440) / 81559, 3) = 0.835.
    /// An L4 (23034 MiB): 512 + 3072 + 32 + 128 = 3744 → 0.837.
    #[test]
    fn reserved_formula_from_0_5_3() {
        assert_eq!(mfs("0.5.3", H100_SMI_MIB, 1), 0.835);
        assert_eq!(mfs("0.5.3", 23_034.0, 1), 0.837);
    }

    /// v0.5.10 `server_args.py:1308`: `reserved_mem += len(self.piecewise_cuda_graph_tokens) * 8`;
    /// up to 8192 tokens that is 8 + 14 + 8 + 8 + 12 + 8 = 58 sizes, 464 MiB more on an H100:
    /// round((81559 − 13904) / 81559, 3) = 0.830.
    #[test]
    fn piecewise_graphs_reserve_more_from_0_5_10() {
        assert_eq!(piecewise_sizes(8192), 58);
        assert_eq!(mfs("0.5.10", H100_SMI_MIB, 1), 0.830);
        assert_eq!(mfs("0.5.9", H100_SMI_MIB, 1), 0.835);
    }

    /// v0.4.0 `model_runner.py:466`: `rest_memory = available_gpu_memory - total_gpu_memory *
    /// (1 - self.mem_fraction_static)`; `max_num_token = int(rest_memory * (1 << 30) //
    /// cell_size)`. With pre = 78 GiB, weights 15 GiB, 0.88: rest = 63 − 9.36 = 53.64 GiB →
    /// 53.64 × 2^30 // 131072 = 439,418 tokens.
    #[test]
    fn pool_is_free_at_start_times_fraction_less_weights() {
        let mut input = SglangInput::new(
            "0.4.0".parse().unwrap(),
            H100_CUDA,
            Bytes(15 << 30),
            131_072,
            1,
        );
        input.free_before_weights = Some(Bytes(78 << 30));
        let s = size_sglang(&input).unwrap();
        let rest = 78.0 * 0.88 - 15.0;
        assert_eq!(
            s.kv_cache_tokens,
            (rest * (1u64 << 30) as f64) as u64 / 131_072
        );
        assert!(!s.estimated);
        assert!((s.memory_gib_per_gpu.reserve - 78.0 * 0.12).abs() < 1e-9);
    }

    /// v0.4.6.post1 `tp_worker.py:110` and `model_runner.py:738`: max_running_requests =
    /// min(tokens // 2, min(max(tokens / context_len × 512, 2048), 4096)).
    #[test]
    fn running_requests_are_capped_by_the_request_pool() {
        let mut input = SglangInput::new(
            "0.4.6.post1".parse().unwrap(),
            H100_CUDA,
            Bytes(15 << 30),
            131_072,
            1,
        );
        input.model_context_length = Some(131_072);
        let s = size_sglang(&input).unwrap();
        assert_eq!(s.max_running_requests, 2048);
        input.version = "0.3.0".parse().unwrap();
        input.model_context_length = Some(1024);
        assert_eq!(size_sglang(&input).unwrap().max_running_requests, 5120);
    }

    /// Log check, SGLang on AMD (sgl-project/sglang#18263,
    /// https://github.com/sgl-project/sglang/pull/18263): Qwen3-30B-A3B, TP 1,
    /// `mem_fraction_static 0.911`, `Load weight end … avail mem=230.20 GB, mem usage=56.98 GB`
    /// (SGLang's "GB" is GiB), and the unpatched budget it printed, `initial available_bytes
    /// 219721119039 / 204.63 GB`. pre = 230.20 + 56.98 GiB. jauge's rest must be within
    /// 0.02 GiB of 204.63 GiB, and its tokens within 220 (0.02 GiB) of
    /// 219721119039 // 98304 (48 layers × 4 KV heads × 128 × 2 × 2 B). jauge gets 204.641 GiB, 0.0105
    /// GiB (~11 MiB) above the log: more than the two inputs' 0.01 GiB rounding explains
    /// (±0.006 GiB), so ~5 MiB is allocated between the `Load weight end` line and the measurement.
    #[test]
    fn matches_the_budget_printed_in_sglang_pr_18263() {
        let pre = Gib(230.20 + 56.98).bytes_floor();
        let mut input = SglangInput::new(
            "0.5.8".parse().unwrap(),
            Bytes(309_220_868_096), // MI355X-class total; only pre enters the rule
            Gib(56.98).bytes_floor(),
            98_304,
            1,
        );
        input.free_before_weights = Some(pre);
        input.settings.mem_fraction_static = Some(0.911);
        let s = size_sglang(&input).unwrap();
        assert!((s.memory_gib_per_gpu.kv_cache - 204.63).abs() < 0.02);
        let logged_tokens = 219_721_119_039u64 / 98_304;
        // 0.02 GiB is ~220 tokens of 98,304 B.
        assert!(
            s.kv_cache_tokens.abs_diff(logged_tokens) <= 220,
            "{} vs {logged_tokens}",
            s.kv_cache_tokens
        );
    }

    /// Log check, vllm-project/vllm#21348 (https://github.com/vllm-project/vllm/issues/21348):
    /// SGLang with Qwen3-235B-A22B-FP8 on 4×H100, `--mem-fraction-static 0.93`, logged `KV Cache
    /// is allocated. #tokens: 367404, K size: 8.23 GB, V size: 8.23 GB`. Per GPU a token holds 94
    /// layers × 1 KV head (4 / TP 4) × 128 × 2 B = 24,064 B each of K and V; jauge's pool bytes
    /// for 367,404 tokens must equal the log's K + V within 0.01 GiB.
    #[test]
    fn pool_bytes_match_the_k_and_v_sizes_logged_in_vllm_21348() {
        let tokens = 367_404u64;
        let cell = 94 * 128 * 2 * 2;
        let bytes = tokens * cell;
        assert!((Bytes(bytes).gib().0 - 2.0 * 8.23).abs() < 0.01);
    }

    #[test]
    fn versions_parse_and_order() {
        let p = |s: &str| s.parse::<EngineVersion>().unwrap();
        assert!(p("0.4.7") < p("0.4.7.post1"));
        assert!(p("1.0.0rc3") < p("1.0.0") && p("1.0.0rc2") < p("1.0.0rc3"));
        assert_eq!(p("0.5"), v(0, 5, 0));
        assert_eq!(p("0.21.0+cu128"), v(0, 21, 0));
        assert!("0.4.x".parse::<EngineVersion>().is_err());
        assert!("0.1.26".parse::<EngineVersion>().is_ok());
    }

    #[test]
    fn older_releases_are_refused() {
        let input = SglangInput::new("0.1.26".parse().unwrap(), H100_CUDA, Bytes(0), 1, 1);
        assert!(matches!(
            size_sglang(&input),
            Err(EngineError::Version { .. })
        ));
    }

    #[test]
    fn every_rule_applied_is_cited_and_ids_are_unique() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        for version in [
            "0.2.0",
            "0.3.0",
            "0.4.6.post1",
            "0.4.7",
            "0.5.2",
            "0.5.10",
            "0.6.0",
        ] {
            let input = SglangInput::new(
                version.parse().unwrap(),
                H100_CUDA,
                Bytes(1 << 34),
                131_072,
                2,
            );
            let s = size_sglang(&input).unwrap();
            for rule in &s.rules {
                let spec = RULES.iter().find(|r| r.id == rule.id).unwrap();
                assert!(
                    spec.covers(input.version) || input.version > NEWEST_READ,
                    "{version} {}",
                    rule.id
                );
            }
        }
    }

    /// KV capacity never falls when the fraction rises.
    #[test]
    fn more_fraction_never_means_fewer_tokens() {
        let mut last = 0;
        for f in 1..=100 {
            let mut input = SglangInput::new(
                "0.5.3".parse().unwrap(),
                H100_CUDA,
                Bytes(1 << 34),
                131_072,
                1,
            );
            input.settings.mem_fraction_static = Some(f64::from(f) / 100.0);
            let tokens = size_sglang(&input).unwrap().kv_cache_tokens;
            assert!(tokens >= last);
            last = tokens;
        }
    }
}
