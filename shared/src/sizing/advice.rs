//! What to change when a deployment does not fit: more GPUs, another quantisation, a shorter
//! context, an FP8 KV cache, a higher memory share — each checked by sizing it again.

use serde::Serialize;

use super::{size_without_advice, valid_tp, KvCacheDtype, Sizing, SizingRequest};
use crate::catalogue::{Catalogue, GpuSpec, QuantKind, QuantSpec};
use crate::units::thousands;

/// One change that would make the deployment fit, and what it would give.
///
/// ```
/// let cat = jauge::catalogue::Catalogue::builtin();
/// let r = jauge::sizing::SizingRequest::new(cat.model("mixtral-8x7b-v0.1")?, cat.gpu("a100-40gb")?);
/// let sizing = jauge::sizing::size(&r)?;
/// assert!(!sizing.fits);
/// assert_eq!(sizing.advice[0].flag, "--gpus 4");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    /// The `jauge size` flag that makes the change (`--gpus 2`, `--quant awq`).
    pub flag: String,
    /// What the deployment becomes with it.
    pub effect: String,
}

/// Advice for a deployment that does not fit; empty when it fits.
pub(super) fn advise(request: &SizingRequest<'_>, sizing: &Sizing) -> Vec<Advice> {
    if sizing.fits {
        return Vec::new();
    }
    let mut advice = Vec::new();
    let effect = |s: &Sizing| {
        format!(
            "{} KV-cache tokens, {:.1} requests of {} tokens at once",
            thousands(s.kv_cache_tokens),
            s.max_concurrency,
            thousands(u64::from(s.context_tokens))
        )
    };
    let try_size = |r: &SizingRequest<'_>| size_without_advice(r).ok().filter(|s| s.fits);

    if let Some((gpus, s)) = [2u32, 4, 8]
        .into_iter()
        .filter(|n| *n > request.gpu_count && valid_tp(request.model, *n))
        .find_map(|n| {
            try_size(&SizingRequest {
                gpu_count: n,
                ..request.clone()
            })
            .map(|s| (n, s))
        })
    {
        advice.push(Advice {
            flag: format!("--gpus {gpus}"),
            effect: effect(&s),
        });
    }

    let current = Catalogue::builtin().quant(&sizing.quant).ok();
    let current_bits = current.map_or(16.0, |q| q.bits_per_weight);
    // GGUF is llama.cpp's format and only experimental in vLLM: offer it to GGUF users only.
    let gguf_ok = current.is_some_and(|q| q.kind == QuantKind::Gguf);
    let mut quants: Vec<&QuantSpec> = Catalogue::builtin()
        .quants
        .iter()
        .filter(|q| q.bits_per_weight < current_bits && q.unsupported_on(request.gpu).is_none())
        .filter(|q| gguf_ok || q.kind != QuantKind::Gguf)
        .collect();
    // Fewest bits lost first: the nearest format that fits is the one to try.
    quants.sort_by(|a, b| b.bits_per_weight.total_cmp(&a.bits_per_weight));
    let quant_alone = quants.iter().find_map(|q| {
        try_size(&SizingRequest {
            quant: Some(q),
            ..request.clone()
        })
        .map(|s| (q, s))
    });
    match quant_alone {
        Some((quant, s)) => advice.push(Advice {
            flag: format!("--quant {}", quant.id),
            effect: effect(&s),
        }),
        // Neither change alone is enough: the fewest GPUs with the nearest format that fits.
        None => {
            let combined = [2u32, 4, 8]
                .into_iter()
                .filter(|n| *n > request.gpu_count && valid_tp(request.model, *n))
                .find_map(|n| {
                    quants.iter().find_map(|q| {
                        try_size(&SizingRequest {
                            gpu_count: n,
                            quant: Some(q),
                            ..request.clone()
                        })
                        .map(|s| (n, q, s))
                    })
                });
            if let Some((gpus, quant, s)) = combined {
                advice.push(Advice {
                    flag: format!("--gpus {gpus} --quant {}", quant.id),
                    effect: effect(&s),
                });
            }
        }
    }

    if request.kv_cache_dtype != KvCacheDtype::Fp8 {
        if let Some(s) = try_size(&SizingRequest {
            kv_cache_dtype: KvCacheDtype::Fp8,
            ..request.clone()
        }) {
            advice.push(Advice {
                flag: "--kv-cache-dtype fp8".to_string(),
                effect: effect(&s),
            });
        }
    }

    if sizing.max_model_len_that_fits > 0 && sizing.max_model_len_that_fits < sizing.max_model_len {
        let len = sizing.max_model_len_that_fits;
        let shorter = SizingRequest {
            max_model_len: Some(len),
            context_tokens: request.context_tokens.map(|c| c.min(len)),
            ..request.clone()
        };
        if let Some(s) = try_size(&shorter) {
            advice.push(Advice {
                flag: format!("--max-model-len {}", s.max_model_len),
                effect: effect(&s),
            });
        }
    }

    if request.gpu_memory_utilization < 0.95 {
        if let Some(s) = try_size(&SizingRequest {
            gpu_memory_utilization: 0.95,
            ..request.clone()
        }) {
            advice.push(Advice {
                flag: "--gpu-memory-utilization 0.95".to_string(),
                effect: format!("{} (little headroom left for CUDA graphs)", effect(&s)),
            });
        }
    }
    advice
}

/// The formats that do run on `gpu`, nearest in bits first, and the GPUs that run `quant`.
pub(super) fn nearest_supported(quant: &QuantSpec, gpu: &GpuSpec) -> Vec<String> {
    let cat = Catalogue::builtin();
    let mut formats: Vec<&QuantSpec> = cat
        .quants
        .iter()
        .filter(|q| q.id != quant.id && q.unsupported_on(gpu).is_none())
        .collect();
    formats.sort_by(|a, b| {
        let distance = |q: &QuantSpec| {
            (
                (q.bits_per_weight - quant.bits_per_weight).abs(),
                q.kind != quant.kind,
            )
        };
        let (da, db) = (distance(a), distance(b));
        da.0.total_cmp(&db.0).then(da.1.cmp(&db.1))
    });
    let mut nearest: Vec<String> = formats
        .iter()
        .take(2)
        .map(|q| format!("--quant {} on {}", q.id, gpu.id))
        .collect();
    let other_gpu = cat
        .gpus
        .iter()
        .filter(|g| quant.unsupported_on(g).is_none() && g.memory_gib >= gpu.memory_gib)
        .min_by(|a, b| {
            a.memory_gib
                .total_cmp(&b.memory_gib)
                .then(a.compute_capability.cmp(&b.compute_capability))
        });
    if let Some(g) = other_gpu {
        nearest.push(format!("--quant {} on --gpu {}", quant.id, g.id));
    }
    nearest
}
