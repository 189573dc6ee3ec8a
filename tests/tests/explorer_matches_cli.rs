//! The planner's numbers are `jauge size --json`'s numbers for the same inputs: the planner
//! sizes a selection as `jauge size ... --max-model-len C --context C`.

use clap::Parser;
use jauge::catalogue::Catalogue;
use jauge_explorer::plan::Selection;
use jauge_runner::cli::{Cli, Command};

fn cli_json(args: &[String]) -> serde_json::Value {
    let Command::Size(size_args) = Cli::parse_from(args).command else {
        unreachable!("parsed a size command")
    };
    serde_json::to_value(jauge_runner::size::size_from_args(&size_args).unwrap()).unwrap()
}

#[test]
fn planner_sizing_equals_jauge_size_json() {
    let queries = [
        "?model=mixtral-8x7b-v0.1&gpu=a100-40gb&gpus=2",
        "?model=mixtral-8x7b-v0.1&gpu=a100-40gb&gpus=2&quant=awq",
        "?model=mistral-7b-v0.1&gpu=v100-16gb&context=2048",
        "?model=llama-3-70b&gpu=h100-80gb&gpus=4&kv=fp8&util=0.95",
        "?model=gemma-2-27b&gpu=l40s&gpus=2&quant=gguf-q4_k_m&context=4096",
        // The study's 2024 release: the caching allocator's reserve, replayed.
        "?model=mistral-7b-v0.1&gpu=a100-40gb&context=16384&vllm=0.4.2",
        "?model=mixtral-8x7b-v0.1&gpu=a100-80gb&gpus=2&quant=fp8&vllm=0.5.4",
    ];
    for query in queries {
        let selection = Selection::from_query(query);
        let model = Catalogue::builtin().model(&selection.model).unwrap();
        let planner = serde_json::to_value(selection.size_with(model).unwrap()).unwrap();
        let context = selection.context_for(model).to_string();
        let mut args: Vec<String> = [
            "jauge",
            "size",
            "--catalog-model",
            &selection.model,
            "--gpu",
            &selection.gpu,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        args.extend(["--gpus".into(), selection.gpus.to_string()]);
        args.extend([
            "--max-model-len".into(),
            context.clone(),
            "--context".into(),
            context,
        ]);
        args.extend(["--kv-cache-dtype".into(), selection.kv_cache_dtype.clone()]);
        args.extend([
            "--gpu-memory-utilization".into(),
            selection.gpu_memory_utilization.to_string(),
        ]);
        if let Some(q) = &selection.quant {
            args.extend(["--quant".into(), q.clone()]);
        }
        args.extend([
            "--engine".into(),
            format!("vllm@{}", selection.vllm_version),
        ]);
        assert_eq!(planner, cli_json(&args), "{query}");
    }
}
