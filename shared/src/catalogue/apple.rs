//! Apple Silicon Macs as llama.cpp devices: unified memory, the GPU's working-set limit
//! (`MTLDevice.recommendedMaxWorkingSetSize`, which llama.cpp's Metal backend reports as the
//! device's memory), bandwidth and GPU cores, from `shared/data/apple.json`.
//!
//! A device is a chip with one of its memory sizes (`m2-max-96gb`). Its working-set limit is a
//! value logged on that (chip, RAM) pair where one was found, with its URL; otherwise macOS's
//! default rule (2/3 of the RAM up to 32 GB, 3/4 from 36 GB), and the device says which.
//!
//! ```
//! use jauge::catalogue::{Catalogue, WorkingSetSource};
//! let cat = Catalogue::builtin();
//! let logged = cat.apple_device("m2-max-96gb")?;
//! assert_eq!(logged.working_set.0, 73728 << 20);
//! assert!(matches!(logged.working_set_source, WorkingSetSource::Logged { .. }));
//! let ruled = cat.apple_device("m4-max-128gb")?;
//! assert!(matches!(ruled.working_set_source, WorkingSetSource::Rule { .. }));
//! # Ok::<(), jauge::CatalogueError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::units::Bytes;

const MIB: f64 = 1024.0 * 1024.0;
const GIB: u64 = 1 << 30;

/// `shared/data/apple.json`: the chips, the logged working sets, the default rule.
///
/// ```
/// let apple = jauge::catalogue::Catalogue::builtin().apple();
/// assert!(apple.chips.iter().any(|c| c.id == "m3-ultra"));
/// assert!(apple.working_set_logs.iter().all(|l| l.url.starts_with("https://")));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppleCatalogue {
    /// macOS's default working-set rule, its sources and how to override it.
    pub working_set_rule: WorkingSetRule,
    /// Chips, oldest first.
    pub chips: Vec<AppleChip>,
    /// `recommendedMaxWorkingSetSize` as logged on a Mac whose chip and RAM are known.
    pub working_set_logs: Vec<WorkingSetLog>,
}

/// The default rule as the sources state it.
///
/// ```
/// let rule = &jauge::catalogue::Catalogue::builtin().apple().working_set_rule;
/// assert!(rule.text.contains("3/4") && !rule.sources.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkingSetRule {
    /// The rule, its agreement with the logs and its caveats.
    pub text: String,
    /// Where it is stated.
    pub sources: Vec<String>,
    /// How to raise the limit (`sudo sysctl iogpu.wired_limit_mb=N`), with its sources.
    #[serde(rename = "override")]
    pub override_hint: String,
}

/// One chip (M1 … M4 Max, M3 Ultra).
///
/// ```
/// let cat = jauge::catalogue::Catalogue::builtin();
/// let chip = cat.apple().chips.iter().find(|c| c.id == "m4-max").unwrap();
/// assert_eq!(chip.variants.len(), 2); // 32-core GPU at 410 GB/s, 40-core at 546 GB/s
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppleChip {
    /// Catalogue id (`m2-max`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Unified-memory sizes offered, GB as Apple sells them (GiB of RAM).
    pub memory_gb: Vec<u32>,
    /// GPU variants: core counts and their bandwidth.
    pub variants: Vec<GpuVariant>,
    /// Where the memory, core and bandwidth figures come from.
    pub sources: ChipSources,
}

/// One GPU configuration of a chip.
///
/// ```
/// let v = jauge::catalogue::GpuVariant { gpu_cores: 30, bandwidth_gb_s: Some(300.0), memory_gb: Some(vec![36, 96]) };
/// assert!(v.offered_with(36) && !v.offered_with(48));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuVariant {
    /// GPU cores.
    pub gpu_cores: u32,
    /// Memory bandwidth, GB/s; none where no source gives it.
    pub bandwidth_gb_s: Option<f64>,
    /// The memory sizes this variant comes with, where a source pairs them; none: any of the
    /// chip's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_gb: Option<Vec<u32>>,
}

impl GpuVariant {
    /// Whether this variant is offered with `memory_gb` of RAM (as far as the sources say).
    ///
    /// ```
    /// let v = jauge::catalogue::GpuVariant { gpu_cores: 10, bandwidth_gb_s: None, memory_gb: None };
    /// assert!(v.offered_with(24));
    /// ```
    pub fn offered_with(&self, memory_gb: u32) -> bool {
        self.memory_gb
            .as_ref()
            .is_none_or(|list| list.contains(&memory_gb))
    }
}

/// A chip's sources, by fact.
///
/// ```
/// let cat = jauge::catalogue::Catalogue::builtin();
/// assert!(cat.apple().chips.iter().all(|c| !c.sources.bandwidth.is_empty()));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChipSources {
    /// The memory sizes.
    pub memory: String,
    /// The GPU core counts.
    pub gpu_cores: String,
    /// The bandwidth.
    pub bandwidth: String,
}

/// A logged `recommendedMaxWorkingSetSize`.
///
/// ```
/// let cat = jauge::catalogue::Catalogue::builtin();
/// let log = cat.apple().working_set_logs.iter().find(|l| l.memory_gb == 36).unwrap();
/// assert_eq!(log.bytes().0, 27648 << 20); // "28991.03 MB" printed in decimal MB
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkingSetLog {
    /// The chip ids it may belong to (two where the thread does not say which).
    pub chips: Vec<String>,
    /// The Mac's RAM, GB.
    pub memory_gb: u32,
    /// The value in MiB, whatever unit the line printed (see `note`).
    pub mib: f64,
    /// The line as logged.
    pub verbatim: String,
    /// Where.
    pub url: String,
    /// How the line was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl WorkingSetLog {
    /// The value in bytes (the log rounds to 0.01 MiB).
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// assert!(cat.apple().working_set_logs.iter().all(|l| l.bytes().0 > 0));
    /// ```
    pub fn bytes(&self) -> Bytes {
        Bytes((self.mib * MIB).round() as u64)
    }
}

/// Where a device's working-set limit comes from.
///
/// ```
/// let cat = jauge::catalogue::Catalogue::builtin();
/// let d = cat.apple_device("m1-16gb")?;
/// assert!(d.working_set_source.describe().contains("logged"));
/// # Ok::<(), jauge::CatalogueError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkingSetSource {
    /// Logged on this chip with this RAM.
    Logged {
        /// The line as logged.
        verbatim: String,
        /// Where.
        url: String,
        /// How the line was read, or which chips the log may belong to.
        note: Option<String>,
    },
    /// Computed from macOS's default rule: no log was found for this (chip, RAM).
    Rule {
        /// The fraction applied (`2/3`, `3/4`).
        fraction: &'static str,
        /// The rule, its agreement with the logs and its caveats.
        text: String,
        /// Where the rule is stated.
        sources: Vec<String>,
    },
    /// Given by the user (`--total-memory-gib`).
    Given,
}

impl WorkingSetSource {
    /// One line for a report.
    ///
    /// ```
    /// assert!(jauge::catalogue::WorkingSetSource::Given.describe().contains("given"));
    /// ```
    pub fn describe(&self) -> String {
        match self {
            WorkingSetSource::Logged {
                verbatim,
                url,
                note,
            } => format!(
                "logged: `{verbatim}` ({url}){}",
                note.as_ref().map_or(String::new(), |n| format!("; {n}"))
            ),
            WorkingSetSource::Rule {
                fraction, sources, ..
            } => format!(
                "computed from macOS's default rule ({fraction} of the RAM; 2/3 up to 32 GB, 3/4 \
                 from 36 GB, which every logged value agrees with; newer macOS may give more), \
                 not logged for this chip and RAM (rule: {})",
                sources.join(", ")
            ),
            WorkingSetSource::Given => {
                "given with --total-memory-gib (replaces the working-set limit)".into()
            }
        }
    }
}

/// A Mac: a chip with one memory size, resolved.
///
/// ```
/// let d = jauge::catalogue::Catalogue::builtin().apple_device("m3-max-36gb")?;
/// assert_eq!(d.unified_memory.0, 36 << 30);
/// assert_eq!(d.bandwidth_gb_s, Some(300.0)); // only the 30-core GPU comes with 36 GB
/// # Ok::<(), jauge::CatalogueError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppleDevice {
    /// Device id (`m2-max-96gb`).
    pub id: String,
    /// Human name (`Apple M2 Max, 96 GB`).
    pub name: String,
    /// The chip's id.
    pub chip: String,
    /// RAM, GB as sold.
    pub memory_gb: u32,
    /// Unified memory, bytes (`hw.memsize`).
    pub unified_memory: Bytes,
    /// The GPU's working-set limit, bytes: what llama.cpp's Metal device (`MTL0`) offers.
    pub working_set: Bytes,
    /// Where [`Self::working_set`] comes from.
    pub working_set_source: WorkingSetSource,
    /// The GPU variants offered with this memory.
    pub variants: Vec<GpuVariant>,
    /// Memory bandwidth, GB/s, when every variant offered with this memory has the same known
    /// figure; none otherwise (see `variants`).
    pub bandwidth_gb_s: Option<f64>,
    /// Where the chip's figures come from.
    pub sources: ChipSources,
}

impl AppleDevice {
    /// The GPU core counts offered with this memory.
    ///
    /// ```
    /// let d = jauge::catalogue::Catalogue::builtin().apple_device("m1-max-64gb")?;
    /// assert_eq!(d.gpu_cores(), vec![24, 32]);
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn gpu_cores(&self) -> Vec<u32> {
        self.variants.iter().map(|v| v.gpu_cores).collect()
    }

    /// Bandwidth for a report: one figure, the variants' figures, or `unknown`.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// assert_eq!(cat.apple_device("m4-max-36gb")?.bandwidth_label(), "410 GB/s");
    /// assert_eq!(cat.apple_device("m1-8gb")?.bandwidth_label(), "unknown");
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn bandwidth_label(&self) -> String {
        if let Some(b) = self.bandwidth_gb_s {
            return format!("{b:.0} GB/s");
        }
        let known: Vec<String> = self
            .variants
            .iter()
            .filter_map(|v| {
                v.bandwidth_gb_s
                    .map(|b| format!("{b:.0} GB/s ({}-core GPU)", v.gpu_cores))
            })
            .collect();
        if known.is_empty() {
            "unknown".into()
        } else {
            known.join(" or ")
        }
    }
}

impl AppleCatalogue {
    /// Every device id, chip by chip, smallest memory first.
    ///
    /// ```
    /// let ids = jauge::catalogue::Catalogue::builtin().apple().device_ids();
    /// assert!(ids.contains(&"m2-max-96gb".to_string()));
    /// ```
    pub fn device_ids(&self) -> Vec<String> {
        self.chips
            .iter()
            .flat_map(|c| c.memory_gb.iter().map(move |gb| device_id(&c.id, *gb)))
            .collect()
    }

    /// Every device, resolved.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// assert_eq!(cat.apple().devices().len(), cat.apple().device_ids().len());
    /// ```
    pub fn devices(&self) -> Vec<AppleDevice> {
        self.chips
            .iter()
            .flat_map(|c| c.memory_gb.iter().map(move |gb| self.resolve(c, *gb)))
            .collect()
    }

    /// The device `id` (`m2-max-96gb`, ignoring case), if the catalogue has it.
    ///
    /// ```
    /// let apple = jauge::catalogue::Catalogue::builtin().apple();
    /// assert!(apple.device("M1-16GB").is_some() && apple.device("m1-32gb").is_none());
    /// ```
    pub fn device(&self, id: &str) -> Option<AppleDevice> {
        let wanted = id.trim().to_ascii_lowercase();
        self.chips.iter().find_map(|c| {
            c.memory_gb
                .iter()
                .find(|gb| device_id(&c.id, **gb) == wanted)
                .map(|gb| self.resolve(c, *gb))
        })
    }

    fn resolve(&self, chip: &AppleChip, memory_gb: u32) -> AppleDevice {
        let unified_memory = Bytes(u64::from(memory_gb) * GIB);
        let log = self
            .working_set_logs
            .iter()
            .find(|l| l.memory_gb == memory_gb && l.chips.contains(&chip.id));
        let (working_set, working_set_source) = match log {
            Some(l) => {
                let shared = (l.chips.len() > 1).then(|| {
                    format!(
                        "logged on a {} GB Mac that is one of {}",
                        l.memory_gb,
                        l.chips.join(", ")
                    )
                });
                let note = match (l.note.clone(), shared) {
                    (Some(n), _) => Some(n),
                    (None, s) => s,
                };
                (
                    l.bytes(),
                    WorkingSetSource::Logged {
                        verbatim: l.verbatim.clone(),
                        url: l.url.clone(),
                        note,
                    },
                )
            }
            None => {
                let (num, den, fraction) = default_fraction(memory_gb);
                (
                    Bytes(unified_memory.0 / den * num),
                    WorkingSetSource::Rule {
                        fraction,
                        text: self.working_set_rule.text.clone(),
                        sources: self.working_set_rule.sources.clone(),
                    },
                )
            }
        };
        let variants: Vec<GpuVariant> = chip
            .variants
            .iter()
            .filter(|v| v.offered_with(memory_gb))
            .cloned()
            .collect();
        let first = variants.first().and_then(|v| v.bandwidth_gb_s);
        let bandwidth_gb_s = first.filter(|b| {
            variants
                .iter()
                .all(|v| v.bandwidth_gb_s.is_some_and(|x| x == *b))
        });
        AppleDevice {
            id: device_id(&chip.id, memory_gb),
            name: format!("{}, {memory_gb} GB", chip.name),
            chip: chip.id.clone(),
            memory_gb,
            unified_memory,
            working_set,
            working_set_source,
            variants,
            bandwidth_gb_s,
            sources: chip.sources.clone(),
        }
    }
}

/// `m2-max` with 96 GB → `m2-max-96gb`.
fn device_id(chip: &str, memory_gb: u32) -> String {
    format!("{chip}-{memory_gb}gb")
}

/// macOS's default: 2/3 of the RAM up to 32 GB, 3/4 from 36 GB (Ollama's
/// `gpu/gpu_darwin.go` at 08f1e18 states the two fractions; ollama #2370's 36 GB log,
/// 27648 MiB = 3/4, puts the boundary below 36 GB). No Mac is sold between 32 and 36 GB.
fn default_fraction(memory_gb: u32) -> (u64, u64, &'static str) {
    if memory_gb <= 32 {
        (2, 3, "2/3")
    } else {
        (3, 4, "3/4")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn apple() -> &'static AppleCatalogue {
        Catalogue::builtin().apple()
    }

    #[test]
    fn a_logged_device_uses_the_logged_limit_and_cites_it() {
        let d = apple().device("m2-max-96gb").unwrap();
        // "recommendedMaxWorkingSetSize = 73728,00 MB": MiB, 3/4 of 98304 MiB.
        assert_eq!(d.working_set, Bytes(73728 * 1024 * 1024));
        match &d.working_set_source {
            WorkingSetSource::Logged { url, verbatim, .. } => {
                assert_eq!(url, "https://github.com/ggml-org/llama.cpp/issues/3213");
                assert!(verbatim.contains("73728,00"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unlogged_device_uses_the_rule_and_says_so() {
        let d = apple().device("m4-max-128gb").unwrap();
        // 3/4 of 128 GiB = 96 GiB.
        assert_eq!(d.working_set, Bytes(96 << 30));
        assert!(matches!(
            d.working_set_source,
            WorkingSetSource::Rule {
                fraction: "3/4",
                ..
            }
        ));
        let said = d.working_set_source.describe();
        assert!(said.contains("computed from macOS's default rule") && said.contains("not logged"));
        let small = apple().device("m4-16gb").unwrap();
        assert_eq!(small.working_set, Bytes((16u64 << 30) / 3 * 2));
    }

    #[test]
    fn every_log_agrees_with_the_rule_to_the_mib() {
        for log in &apple().working_set_logs {
            let (num, den, _) = default_fraction(log.memory_gb);
            let rule = (u64::from(log.memory_gb) << 30) / den * num;
            let diff = log.bytes().0.abs_diff(rule);
            assert!(diff < 1 << 20, "{}: {} vs {rule}", log.url, log.bytes().0);
        }
    }

    #[test]
    fn every_log_names_a_catalogue_device() {
        for log in &apple().working_set_logs {
            for chip in &log.chips {
                let id = format!("{chip}-{}gb", log.memory_gb);
                assert!(apple().device(&id).is_some(), "{id}");
            }
        }
    }

    #[test]
    fn an_ambiguous_log_says_which_chips_it_may_belong_to() {
        let d = apple().device("m3-pro-36gb").unwrap();
        assert_eq!(d.working_set, Bytes(27648 << 20));
        assert!(d.working_set_source.describe().contains("M3 Pro or M3 Max"));
    }

    #[test]
    fn bandwidth_is_given_only_where_the_variants_agree() {
        assert_eq!(
            apple().device("m4-max-128gb").unwrap().bandwidth_gb_s,
            Some(546.0)
        );
        assert_eq!(
            apple().device("m3-max-128gb").unwrap().bandwidth_gb_s,
            Some(400.0)
        );
        assert_eq!(apple().device("m1-16gb").unwrap().bandwidth_gb_s, None);
        assert_eq!(
            apple().device("m2-ultra-192gb").unwrap().gpu_cores(),
            vec![60, 76]
        );
    }

    #[test]
    fn an_unknown_id_lists_the_valid_ones() {
        let cat = Catalogue::builtin();
        let err = cat.apple_device("m1-32gb").unwrap_err().to_string();
        assert!(
            err.contains("unknown GPU `m1-32gb`") && err.contains("`m1-8gb`, `m1-16gb`"),
            "{err}"
        );
        let err = cat.apple_device("m2-max-64gb").unwrap_err().to_string();
        assert!(err.contains("`m2-max-32gb`, `m2-max-96gb`"), "{err}");
        assert!(!err.contains("m2-pro"), "{err}");
    }

    #[test]
    fn every_variant_memory_is_one_the_chip_offers() {
        for chip in &apple().chips {
            for v in &chip.variants {
                for gb in v.memory_gb.iter().flatten() {
                    assert!(chip.memory_gb.contains(gb), "{} {gb}", chip.id);
                }
            }
            for gb in &chip.memory_gb {
                assert!(
                    chip.variants.iter().any(|v| v.offered_with(*gb)),
                    "{} {gb} GB has no GPU variant",
                    chip.id
                );
            }
        }
    }
}
