//! `jauge size`: the sizing model from the terminal.

use std::path::Path;
use std::process::ExitCode;

use jauge::catalogue::{Catalogue, InterconnectKind, ModelSpec};
use jauge::sizing::engines::{
    from_llamacpp, from_llamacpp_on_mac, size_with, Engine, EngineSizing,
};
use jauge::sizing::llamacpp::{
    fit_metal, size_catalogue, size_gguf, LlamaCppSettings, MetalFit, METAL_DEVICE,
};
use jauge::sizing::{size, Sizing, SizingRequest};
use jauge::units::{Bytes, Gib};

use crate::cli::{DeploymentArgs, ListWhat, SizeArgs};
use crate::exit::bad_input;
use crate::table::{render, thousands};

/// Runs `jauge size`.
pub fn run(args: &SizeArgs) -> anyhow::Result<ExitCode> {
    if let Some(what) = args.list {
        crate::output::print(&list(what, args.json))?;
        return Ok(ExitCode::SUCCESS);
    }
    let engine: Engine = match &args.deployment.engine {
        Some(e) => e
            .parse()
            .map_err(|e: jauge::SizingError| bad_input(e.to_string()))?,
        None => Engine::Vllm(jauge::sizing::VllmVersion::DEFAULT),
    };
    if let Some(id) = &args.deployment.gpu {
        let cat = Catalogue::builtin();
        if !matches!(engine, Engine::LlamaCpp)
            && cat.gpu(id).is_err()
            && cat.apple().device(id).is_some()
        {
            return Err(bad_input(format!(
                "--gpu {id}: an Apple Silicon Mac is sized for --engine llama.cpp (Metal) only"
            )));
        }
    }
    if !matches!(engine, Engine::Vllm(_)) {
        let sizing = match engine {
            Engine::LlamaCpp => size_llamacpp(args)?,
            // The deployment's weights and KV bytes come from the same request; the engine
            // decides the rest.
            other => with_request(
                &DeploymentArgs {
                    engine: None,
                    ..args.deployment.clone()
                },
                args.legacy_model.as_ref(),
                args.context,
                |request| size_with(request, &other).map_err(|e| bad_input(e.to_string())),
            )??,
        };
        if args.json {
            crate::output::print(&format!("{}\n", serde_json::to_string_pretty(&sizing)?))?;
        } else {
            crate::output::print(&engine_report(&sizing))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let sizing = size_from_args(args)?;
    if args.json {
        crate::output::print(&format!("{}\n", serde_json::to_string_pretty(&sizing)?))?;
    } else {
        crate::output::print(&report(&sizing))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The sizing that the arguments ask for; every input problem is a bad-input error.
pub fn size_from_args(args: &SizeArgs) -> anyhow::Result<Sizing> {
    with_request(
        &args.deployment,
        args.legacy_model.as_ref(),
        args.context,
        |request| size(request).map_err(|e| bad_input(e.to_string())),
    )?
}

/// Builds the sizing request the deployment arguments describe (a catalogue model, or a
/// `config.json` given as `--catalog-model`), with `context` tokens per request, and hands it
/// to `f`; every input problem is a bad-input error. `legacy_model` is the old `--model`.
pub fn with_request<T>(
    args: &DeploymentArgs,
    legacy_model: Option<&String>,
    context: Option<u32>,
    f: impl FnOnce(&SizingRequest<'_>) -> T,
) -> anyhow::Result<T> {
    let cat = Catalogue::builtin();
    let spec = args.spec(legacy_model)?;
    let file_model = load_model_file(&spec.model)?;
    let request = match &file_model {
        Some(model) => spec.request_for(model, cat),
        None => spec.request(cat),
    }
    .map_err(|e| bad_input(e.to_string()))?;
    Ok(f(&SizingRequest {
        context_tokens: context,
        ..request
    }))
}

/// A model described by a `config.json` path (or a folder holding one); `None` when the
/// argument is not a path, so that it is looked up in the catalogue.
fn load_model_file(arg: &str) -> anyhow::Result<Option<ModelSpec>> {
    let path = Path::new(arg);
    let looks_like_path =
        arg.ends_with(".json") || path.is_file() || path.join("config.json").is_file();
    if !looks_like_path {
        return Ok(None);
    }
    let file = if path.is_dir() {
        path.join("config.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        bad_input(format!(
            "--catalog-model {}: cannot read it: {e}",
            file.display()
        ))
    })?;
    // Name it after its folder (`Mistral-7B-v0.3/config.json` → `Mistral-7B-v0.3`).
    let id = file
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "custom-model".to_string());
    ModelSpec::from_hf_config(&text, &id)
        .map(Some)
        .map_err(|e| bad_input(format!("--model {}: {e}", file.display())))
}

/// How much of a GGUF file is read: its header and tensor list sit at the start (a large
/// vocabulary's tokens take a few MiB).
const GGUF_HEADER_LIMIT: u64 = 256 << 20;

/// `jauge size --engine llama.cpp`: a GGUF file (`--catalog-model model.gguf`) or a catalogue
/// model in a GGUF format (`--quant gguf-q4_k_m`), on `--gpu` or the CPU.
fn size_llamacpp(args: &SizeArgs) -> anyhow::Result<EngineSizing> {
    let d = &args.deployment;
    let model_arg = d
        .catalog_model
        .clone()
        .or(args.legacy_model.clone())
        .ok_or_else(|| {
            bad_input(
                "--catalog-model is required: a .gguf file or a catalogue id with --quant gguf-…",
            )
        })?;
    let mut settings = LlamaCppSettings::new(d.max_model_len.unwrap_or(4096));
    if let Some(n) = args.parallel {
        if n == 0 {
            return Err(bad_input("--parallel: at least 1 slot"));
        }
        settings.parallel = n;
    }
    let cache_type = |flag: &str, value: &Option<String>, default| -> anyhow::Result<_> {
        value.as_ref().map_or(Ok(default), |v| {
            v.parse().map_err(|_| {
                bad_input(format!(
                    "{flag} {v}: not a llama.cpp cache type (f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1)"
                ))
            })
        })
    };
    settings.cache_type_k =
        cache_type("--cache-type-k", &args.cache_type_k, settings.cache_type_k)?;
    settings.cache_type_v =
        cache_type("--cache-type-v", &args.cache_type_v, settings.cache_type_v)?;
    let cat = Catalogue::builtin();
    let gpu = match &d.gpu {
        Some(id) => {
            let target = gpu_target(cat, id)?;
            settings.gpu_device = Some(match target {
                GpuTarget::Cuda { .. } => "CUDA0".into(),
                GpuTarget::Mac(_) => METAL_DEVICE.into(),
            });
            settings.n_gpu_layers = args.n_gpu_layers;
            Some(target)
        }
        None => {
            if args.n_gpu_layers.is_some_and(|n| n > 0) {
                return Err(bad_input(
                    "--n-gpu-layers: give --gpu, the GPU the layers go to",
                ));
            }
            None
        }
    };
    let (sizing, model, quant) = if model_arg.to_ascii_lowercase().ends_with(".gguf") {
        let bytes = read_head(Path::new(&model_arg), GGUF_HEADER_LIMIT)?;
        let s = size_gguf(&bytes, &settings)
            .map_err(|e| bad_input(format!("--catalog-model {model_arg}: {e}")))?;
        let name = Path::new(&model_arg)
            .file_stem()
            .map_or(model_arg.clone(), |n| n.to_string_lossy().into_owned());
        (s, name, "gguf (per tensor)".to_string())
    } else {
        let model = cat
            .model(&model_arg)
            .map_err(|e| bad_input(e.to_string()))?;
        let quant_id = d.quant.clone().ok_or_else(|| {
            bad_input("--quant: a GGUF format for llama.cpp (gguf-q4_k_m, gguf-q8_0, …; see --list quants)")
        })?;
        let quant = cat.quant(&quant_id).map_err(|e| bad_input(e.to_string()))?;
        let s = size_catalogue(model, quant, &settings).map_err(|e| bad_input(e.to_string()))?;
        (s, model.id.clone(), quant.id.clone())
    };
    Ok(match gpu {
        Some(GpuTarget::Mac(device)) => {
            // --total-memory-gib replaces the working-set limit (an `iogpu.wired_limit_mb` set
            // on that Mac, or a newer macOS's figure).
            let limit = d.total_memory_gib.map(|g| Gib(g).bytes_floor());
            let fit = fit_metal(&sizing, &device, limit);
            from_llamacpp_on_mac(&sizing, &model, &quant, fit)
        }
        Some(GpuTarget::Cuda { id, memory_gib }) => {
            from_llamacpp(&sizing, &model, &quant, Some((id.as_str(), memory_gib)))
        }
        None => from_llamacpp(&sizing, &model, &quant, None),
    })
}

/// Where llama.cpp's offloaded layers go.
enum GpuTarget {
    /// A catalogue GPU (`CUDA0`) and its memory, GiB.
    Cuda { id: String, memory_gib: f64 },
    /// An Apple Silicon Mac (`MTL0`).
    Mac(Box<jauge::catalogue::AppleDevice>),
}

/// `--gpu ID` for llama.cpp: a catalogue GPU, else an Apple Silicon Mac (`m2-max-96gb`).
fn gpu_target(cat: &Catalogue, id: &str) -> anyhow::Result<GpuTarget> {
    let cuda = match cat.gpu(id) {
        Ok(g) => {
            return Ok(GpuTarget::Cuda {
                id: g.id.clone(),
                memory_gib: g.memory_gib,
            })
        }
        Err(e) => e,
    };
    match cat.apple_device(id) {
        Ok(device) => Ok(GpuTarget::Mac(Box::new(device))),
        // `m…` names a Mac: its error lists the valid sizes.
        Err(mac) if id.trim().to_ascii_lowercase().starts_with('m') => Err(bad_input(format!(
            "{mac}; Apple Silicon Macs: `jauge size --list devices`"
        ))),
        Err(_) => Err(bad_input(format!(
            "{cuda}; Apple Silicon Macs (llama.cpp): `jauge size --list devices`"
        ))),
    }
}

/// The first `limit` bytes of a file.
fn read_head(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| {
        bad_input(format!(
            "--catalog-model {}: cannot read it: {e}",
            path.display()
        ))
    })?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes).map_err(|e| {
        bad_input(format!(
            "--catalog-model {}: cannot read it: {e}",
            path.display()
        ))
    })?;
    Ok(bytes)
}

/// The report of an engine other than vLLM: the same headline and KV figures, then the
/// engine's own memory terms, rules and notes.
pub fn engine_report(s: &EngineSizing) -> String {
    let mut out = format!(
        "{} on {} × {} · weights {} · {}@{} rules\n\n",
        s.model, s.gpus, s.gpu, s.quant, s.engine, s.engine_version
    );
    out.push_str(&format!(
        "  {}: {} KV-cache tokens ({:.2} GiB{}), {:.2} requests of {} tokens at once\n\n",
        if s.fits { "FITS" } else { "DOES NOT FIT" },
        thousands(s.kv_cache_tokens),
        jauge::units::Bytes(s.kv_cache_bytes).gib().0,
        if s.gpus > 1 { " per GPU" } else { "" },
        s.max_concurrency,
        thousands(u64::from(s.context_tokens))
    ));
    let rows: Vec<Vec<String>> = s
        .memory_gib_per_gpu
        .rows()
        .into_iter()
        .map(|(term, value)| vec![term, value])
        .collect();
    out.push_str("  Memory\n");
    out.push_str(&indent(&render(&["", ""], &rows)));
    if let Some(fit) = &s.metal {
        out.push_str(&metal_report(fit));
    }
    for (title, lines) in [("Notes", &s.notes), ("Rules applied", &s.rules)] {
        if !lines.is_empty() {
            out.push_str(&format!("\n  {title}\n"));
            for line in lines {
                out.push_str(&format!("    - {line}\n"));
            }
        }
    }
    if s.estimated {
        out.push_str(
            "\n  Some terms are estimates, not the engine's exact rule (see the notes).\n",
        );
    }
    out
}

/// llama.cpp on a Mac: the Metal buffers against the working-set limit, where the limit comes
/// from, and the `sysctl` that would raise it.
fn metal_report(fit: &MetalFit) -> String {
    let gib = |b: u64| Bytes(b).gib().0;
    let headroom = fit.headroom_bytes as f64 / 1_073_741_824.0;
    let rows = vec![
        vec![
            format!("{METAL_DEVICE} buffers (model + KV + compute)"),
            format!("{:.2} GiB", gib(fit.metal_bytes)),
        ],
        vec![
            "GPU working-set limit".into(),
            format!("{:.2} GiB", gib(fit.working_set_bytes)),
        ],
        vec![
            if headroom >= 0.0 {
                "headroom"
            } else {
                "short by"
            }
            .into(),
            format!("{:.2} GiB", headroom.abs()),
        ],
        vec![
            "unified memory (host buffers outside the limit)".into(),
            format!(
                "{:.2} GiB ({:.2} GiB)",
                gib(fit.unified_memory_bytes),
                gib(fit.host_bytes)
            ),
        ],
    ];
    let mut out = format!(
        "\n  Metal on {}: {}\n",
        fit.name,
        if fit.fits {
            "FITS the GPU working set"
        } else {
            "DOES NOT FIT the GPU working set"
        }
    );
    out.push_str(&indent(&render(&["", ""], &rows)));
    out.push_str(&format!(
        "    limit: {}\n",
        fit.working_set_source.describe()
    ));
    if let Some(hint) = &fit.sysctl_hint {
        out.push_str(&format!("    would fit with: {hint}\n"));
    } else if !fit.fits {
        out.push_str("    the buffers and the host's do not fit this Mac's RAM: no sysctl helps\n");
    }
    out
}

/// The human report: headline, memory per GPU, KV cache, advice.
pub fn report(s: &Sizing) -> String {
    let m = &s.memory_gib_per_gpu;
    let mut out = String::new();
    out.push_str(&format!(
        "{} on {} × {} · weights {} · KV cache {} · vllm@{} rules\n\n",
        s.model, s.gpus, s.gpu, s.quant, s.kv_cache_dtype, s.vllm_version
    ));
    if s.fits {
        out.push_str(&format!(
            "  FITS: {:.2} requests of {} tokens at once ({} KV-cache tokens)\n\n",
            s.max_concurrency,
            thousands(u64::from(s.context_tokens)),
            thousands(s.kv_cache_tokens)
        ));
    } else {
        out.push_str(&format!(
            "  DOES NOT FIT: {:.2} GiB per GPU short of one request of {} tokens\n\n",
            s.shortfall_gib_per_gpu,
            thousands(u64::from(s.max_model_len))
        ));
    }
    out.push_str(&format!("  Memory per GPU{}\n", bar(s)));
    let rows = vec![
        vec!["weights".into(), gib(m.weights)],
        vec![
            // Before 0.6.4 vLLM counted what the allocator kept, not the live peak.
            if s.rules.iter().any(|r| r.contains("reserved segments")) {
                "reserved by the profiling pass"
            } else {
                "activation peak (profiling pass)"
            }
            .into(),
            gib(m.activation_peak),
        ],
        vec!["outside PyTorch (NCCL, cuBLAS)".into(), gib(m.non_torch)],
        vec![
            if m.kv_cache >= 0.0 {
                "KV cache"
            } else {
                "KV cache (over budget)"
            }
            .into(),
            gib(m.kv_cache),
        ],
        vec![
            format!(
                "= budget ({:.2} GiB × {})",
                m.total,
                trim_float(m.budget / m.total)
            ),
            gib(m.budget),
        ],
        vec!["headroom (CUDA graphs ≈ 0.5 GiB)".into(), gib(m.headroom)],
    ];
    out.push_str(&indent(&render(&["", " GiB"], &rows)));
    out.push('\n');
    out.push_str("  KV cache\n");
    let per_gpu = if s.gpus > 1 {
        format!(" ({} per GPU)", thousands(s.kv_bytes_per_token_per_gpu))
    } else {
        String::new()
    };
    let rows = vec![
        vec![
            "bytes per token".into(),
            format!("{}{per_gpu}", thousands(s.kv_bytes_per_token)),
        ],
        vec![
            "blocks × block size".into(),
            format!(
                "{} × {} = {} tokens",
                thousands(s.kv_cache_blocks),
                s.block_size,
                thousands(s.kv_cache_tokens)
            ),
        ],
        vec![
            "max model len".into(),
            format!(
                "{} (longest that fits: {})",
                thousands(u64::from(s.max_model_len)),
                thousands(u64::from(s.max_model_len_that_fits))
            ),
        ],
        vec![
            format!(
                "max concurrency at {} tokens",
                thousands(u64::from(s.context_tokens))
            ),
            format!("{:.2}", s.max_concurrency),
        ],
        vec![
            "profiling batch".into(),
            format!(
                "{} tokens, {} sequences",
                thousands(u64::from(s.max_num_batched_tokens)),
                s.max_num_seqs
            ),
        ],
    ];
    out.push_str(&indent(&render(&["", ""], &rows)));
    if !s.advice.is_empty() {
        out.push_str("\n  Would fit with\n");
        let rows: Vec<Vec<String>> = s
            .advice
            .iter()
            .map(|a| vec![a.flag.clone(), a.effect.clone()])
            .collect();
        out.push_str(&indent(&render(&["", ""], &rows)));
    }
    if !s.notes.is_empty() {
        out.push_str("\n  Notes\n");
        for note in &s.notes {
            out.push_str(&format!("    - {note}\n"));
        }
    }
    if !s.rules.is_empty() {
        out.push_str(&format!(
            "\n  vLLM {}'s memory rules applied\n",
            s.vllm_version
        ));
        for rule in &s.rules {
            out.push_str(&format!("    - {rule}\n"));
        }
    }
    out
}

/// A 40-character bar of the budget: weights (#), activations and other (+), KV cache (=).
fn bar(s: &Sizing) -> String {
    let m = &s.memory_gib_per_gpu;
    const WIDTH: f64 = 40.0;
    let scale = WIDTH / m.total.max(m.weights + m.activation_peak + m.non_torch);
    let cells = |g: f64| (g.max(0.0) * scale).round() as usize;
    let weights = cells(m.weights);
    let other = cells(m.activation_peak + m.non_torch);
    let kv = cells(m.kv_cache);
    let free = (WIDTH as usize).saturating_sub(weights + other + kv);
    format!(
        "   [{}{}{}{}]  # weights  + activations/other  = KV cache",
        "#".repeat(weights),
        "+".repeat(other),
        "=".repeat(kv),
        ".".repeat(free)
    )
}

fn gib(value: f64) -> String {
    format!("{value:.2}")
}

fn trim_float(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// `--list`: the catalogue as a table, or JSON.
pub fn list(what: ListWhat, json: bool) -> String {
    let cat = Catalogue::builtin();
    if json {
        let value = match what {
            ListWhat::Models => serde_json::to_value(&cat.models),
            ListWhat::Gpus => serde_json::to_value(&cat.gpus),
            ListWhat::Quants => serde_json::to_value(&cat.quants),
            ListWhat::Devices => serde_json::to_value(cat.apple().devices()),
        }
        .expect("catalogue entries serialise");
        return format!(
            "{}\n",
            serde_json::to_string_pretty(&value).expect("JSON values print")
        );
    }
    match what {
        ListWhat::Models => {
            let rows: Vec<Vec<String>> = cat
                .models
                .iter()
                .map(|m| {
                    let p = m.param_counts();
                    vec![
                        m.id.clone(),
                        format!("{:.1} B", p.total as f64 / 1e9),
                        if m.is_moe() {
                            format!("{:.1} B", p.active as f64 / 1e9)
                        } else {
                            "-".into()
                        },
                        m.num_hidden_layers.to_string(),
                        format!("{}/{}", m.num_key_value_heads, m.num_attention_heads),
                        thousands(u64::from(m.max_position_embeddings)),
                        m.sliding_window
                            .map_or("-".into(), |w| thousands(u64::from(w))),
                        m.hf_repos.first().cloned().unwrap_or_default(),
                    ]
                })
                .collect();
            render(
                &[
                    "id",
                    " params",
                    " active",
                    " layers",
                    " kv/heads",
                    " max ctx",
                    " window",
                    "hugging face",
                ],
                &rows,
            )
        }
        ListWhat::Gpus => {
            let rows: Vec<Vec<String>> = cat
                .gpus
                .iter()
                .map(|g| {
                    vec![
                        g.id.clone(),
                        g.name.clone(),
                        format!("{:.2}", g.memory_gib),
                        format!("{:.0}", g.bandwidth_gb_s),
                        format!("{:.0}", g.fp16_tflops),
                        g.bf16_tflops.map_or("-".into(), |t| format!("{t:.0}")),
                        g.fp8_tflops.map_or("-".into(), |t| format!("{t:.0}")),
                        g.compute_capability.to_string(),
                        format!(
                            "{} {:.0} GB/s",
                            match g.interconnect.kind {
                                InterconnectKind::Nvlink => "NVLink",
                                InterconnectKind::Pcie => "PCIe",
                            },
                            g.interconnect.bandwidth_gb_s
                        ),
                    ]
                })
                .collect();
            render(
                &[
                    "id", "name", " GiB", " GB/s", " fp16 TF", " bf16 TF", " fp8 TF", " cc", "link",
                ],
                &rows,
            )
        }
        ListWhat::Quants => {
            let rows: Vec<Vec<String>> = cat
                .quants
                .iter()
                .map(|q| {
                    vec![
                        q.id.clone(),
                        q.name.clone(),
                        format!("{}", q.bits_per_weight),
                        format!("{:?}", q.scope)
                            .to_lowercase()
                            .replace("layers", " layers")
                            .replace("model", " model"),
                        format!("{}+", q.vllm_min_compute_capability),
                    ]
                })
                .collect();
            render(
                &["id", "name", " bits/weight", "applies to", " vLLM cc"],
                &rows,
            )
        }
        ListWhat::Devices => {
            let rows: Vec<Vec<String>> = cat
                .apple()
                .devices()
                .iter()
                .map(|d| {
                    vec![
                        d.id.clone(),
                        d.name.clone(),
                        format!("{:.2}", d.working_set.gib().0),
                        match &d.working_set_source {
                            jauge::catalogue::WorkingSetSource::Logged { .. } => "logged",
                            jauge::catalogue::WorkingSetSource::Rule { fraction, .. } => fraction,
                            jauge::catalogue::WorkingSetSource::Given => "given",
                        }
                        .into(),
                        d.bandwidth_label(),
                        d.gpu_cores()
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(" or "),
                    ]
                })
                .collect();
            let mut out = render(
                &[
                    "id",
                    "name",
                    " GPU limit GiB",
                    "limit from",
                    "bandwidth",
                    "GPU cores",
                ],
                &rows,
            );
            out.push_str(
                "\nApple Silicon Macs for `--engine llama.cpp --gpu ID` (Metal). The GPU limit is \
                 recommendedMaxWorkingSetSize: `logged` on that chip and RAM (its URL: --json), else \
                 macOS's default rule (2/3 of the RAM up to 32 GB, 3/4 from 36 GB; newer macOS may \
                 give more).\n",
            );
            out
        }
    }
}
