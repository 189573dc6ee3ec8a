use super::*;

fn tiny() -> LlamaCppModel {
    LlamaCppModel::from_gguf(&Gguf::parse(&example_gguf()).unwrap()).unwrap()
}

fn sized(settings: &LlamaCppSettings) -> LlamaCppSizing {
    size(&LlamaCppRequest {
        model: tiny(),
        settings,
    })
    .unwrap()
}

#[test]
fn kv_of_the_tiny_model_by_hand() {
    // 2 KV heads × 16 dims = 32 values per token per layer for K, as many for V; f16: 2
    // bytes. -c 1000 pads to 1024 cells: 2 layers × 1024 × 32 × 2 × 2 B = 262 144 B, the
    // 0.25 MiB llama-server logs for this shape.
    let s = sized(&LlamaCppSettings::new(1000));
    assert_eq!(s.kv_bytes_per_token, 2 * 32 * 2 * 2);
    assert_eq!(s.device("CPU").unwrap().kv_bytes, 262_144);
}

#[test]
fn split_slots_round_each_slot_up_to_256_cells() {
    // -c 1000 -np 4: n_ctx 1024, 256 per slot, 4 streams: same cells as one slot.
    let mut settings = LlamaCppSettings::new(1000);
    settings.parallel = 4;
    let s = sized(&settings);
    assert_eq!(
        (s.n_ctx, s.n_ctx_seq, s.kv_streams, s.kv_tokens),
        (1024, 256, 4, 1024)
    );
    // -c 1100 -np 4: 1280 / 4 = 320 → 512 per slot, n_ctx grows to 2048.
    settings.ctx_size = 1100;
    let s = sized(&settings);
    assert_eq!((s.n_ctx, s.n_ctx_seq), (2048, 512));
    settings.kv_unified = true;
    let s = sized(&settings);
    assert_eq!((s.n_ctx, s.n_ctx_seq, s.kv_streams), (1280, 1280, 1));
}

#[test]
fn q8_0_cache_needs_heads_of_whole_blocks() {
    // Head dimension 16 is half a q8_0 block: llama.cpp refuses it (llama-context.cpp:3855).
    let mut settings = LlamaCppSettings::new(1024);
    settings.cache_type_k = GgmlType::Q8_0;
    let err = size(&LlamaCppRequest {
        model: tiny(),
        settings: &settings,
    })
    .unwrap_err();
    assert!(err.to_string().contains("head dimension 16"), "{err}");
}

#[test]
fn q8_0_cache_is_34_bytes_per_32_values() {
    let mut model = tiny();
    model.head_dim_k = 32;
    model.head_dim_v = 32;
    let mut settings = LlamaCppSettings::new(1024);
    settings.cache_type_k = GgmlType::Q8_0;
    settings.cache_type_v = GgmlType::Q8_0;
    let s = size(&LlamaCppRequest {
        model,
        settings: &settings,
    })
    .unwrap();
    // 2 KV heads × 32 = 64 values = two 34-byte blocks per row, K and V, 2 layers.
    assert_eq!(s.kv_bytes_per_token, 2 * 2 * 2 * 34);
}

#[test]
fn quantised_v_needs_flash_attention_and_k_must_be_a_cache_type() {
    let mut settings = LlamaCppSettings::new(1024);
    settings.cache_type_v = GgmlType::Q4_0;
    settings.flash_attn = false;
    assert!(size(&LlamaCppRequest {
        model: tiny(),
        settings: &settings
    })
    .is_err());
    settings.cache_type_v = GgmlType::F16;
    settings.cache_type_k = GgmlType::Q4K;
    let err = size(&LlamaCppRequest {
        model: tiny(),
        settings: &settings,
    })
    .unwrap_err();
    assert!(err.to_string().contains("q4_K"), "{err}");
}

#[test]
fn partial_offload_puts_the_output_layer_first_and_embeddings_never() {
    let mut settings = LlamaCppSettings::new(1024);
    settings.gpu_device = Some("CUDA0".into());
    settings.n_gpu_layers = Some(1);
    let s = sized(&settings);
    // -ngl 1: only the output layer is offloaded (llama-model.cpp:1589).
    assert!(s.output_on_gpu);
    assert_eq!(s.gpu_layers, 0);
    assert_eq!(s.device("CUDA0").unwrap().kv_bytes, 0);
    settings.n_gpu_layers = Some(2);
    let s = sized(&settings);
    assert_eq!(s.gpu_layers, 1);
    assert_eq!(
        s.device("CUDA0").unwrap().kv_bytes,
        s.device("CPU").unwrap().kv_bytes
    );
    settings.n_gpu_layers = None;
    let s = sized(&settings);
    assert_eq!(s.gpu_layers, 2);
    // Token embeddings stay: 64 × 1000 f16.
    assert!(s.device("CPU").unwrap().model_bytes >= 128_000);
    assert_eq!(s.device("CPU").unwrap().kv_bytes, 0);
}

#[test]
fn more_context_never_means_less_memory() {
    let mut last = 0;
    for ctx in (256..8192).step_by(333) {
        let s = sized(&LlamaCppSettings::new(ctx));
        let total: u64 = s.devices.iter().map(DeviceBuffers::total_bytes).sum();
        assert!(total >= last);
        last = total;
    }
}

#[test]
fn every_rule_cites_a_llama_cpp_file_and_line() {
    let s = sized(&LlamaCppSettings::new(1024));
    for r in &s.rules {
        assert!(
            r.source.contains(".c") && r.source.contains(':') || r.source.contains("ggml-alloc"),
            "{r:?}"
        );
    }
}

#[test]
fn a_catalogue_model_sizes_without_a_file() {
    let cat = crate::catalogue::Catalogue::builtin();
    let s = size_catalogue(
        cat.model("llama-3-8b").unwrap(),
        cat.quant("gguf-q4_k_m").unwrap(),
        &LlamaCppSettings::new(8192),
    )
    .unwrap();
    let weights: u64 = s.weights_by_type.iter().map(|t| t.bytes).sum();
    // 8.03 B parameters at 4.85 bits: about 4.9 GB.
    assert!((4.5e9..5.2e9).contains(&(weights as f64)), "{weights}");
    // 32 layers × 8 × 128 × 2 (K, V) × 2 B × 8192 cells = 1 GiB.
    assert_eq!(s.device("CPU").unwrap().kv_bytes, 1 << 30);
}
