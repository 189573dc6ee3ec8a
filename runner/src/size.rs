//! `jauge size`: the sizing model from the terminal.

use std::path::Path;
use std::process::ExitCode;

use jauge::catalogue::{Catalogue, InterconnectKind, ModelSpec};
use jauge::sizing::{size, Sizing, SizingRequest};

use crate::cli::{DeploymentArgs, ListWhat, SizeArgs};
use crate::exit::bad_input;
use crate::table::{render, thousands};

/// Runs `jauge size`.
pub fn run(args: &SizeArgs) -> anyhow::Result<ExitCode> {
    if let Some(what) = args.list {
        crate::output::print(&list(what, args.json))?;
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

/// The human report: headline, memory per GPU, KV cache, advice.
pub fn report(s: &Sizing) -> String {
    let m = &s.memory_gib_per_gpu;
    let mut out = String::new();
    out.push_str(&format!(
        "{} on {} × {} · weights {} · KV cache {} · vLLM {} rules\n\n",
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
            "activation peak (profiling pass)".into(),
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
    }
}
