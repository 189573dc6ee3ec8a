//! The explorer's numbers are `jauge size --json`'s numbers for the same inputs.

use clap::Parser;
use jauge_runner::cli::{Cli, Command};

#[test]
fn explorer_cells_equal_jauge_size_json() {
    let page = jauge_explorer::render_page();
    for d in jauge_explorer::study_deployments() {
        let gpus = d.gpus.to_string();
        let max = jauge::catalogue::Catalogue::builtin()
            .model(d.model)
            .unwrap()
            .max_position_embeddings;
        let context = max.min(jauge_explorer::STUDY_CONTEXT).to_string();
        let mut args = vec![
            "jauge",
            "size",
            "--model",
            d.model,
            "--gpu",
            d.gpu,
            "--gpus",
            &gpus,
            "--max-model-len",
            &context,
            "--context",
            &context,
        ];
        if let Some(q) = d.quant {
            args.extend(["--quant", q]);
        }
        let Command::Size(size_args) = Cli::parse_from(&args).command else {
            unreachable!("parsed a size command")
        };
        let sizing = jauge_runner::size::size_from_args(&size_args).unwrap();
        let json: serde_json::Value = serde_json::to_value(&sizing).unwrap();
        let row_start = page
            .find(&format!(
                "data-model=\"{}\" data-gpu=\"{}\" data-gpus=\"{}\" data-quant=\"{}\"",
                sizing.model, sizing.gpu, sizing.gpus, sizing.quant
            ))
            .unwrap_or_else(|| panic!("no row for {d:?}"));
        let row = &page[row_start..page[row_start..].find("</tr>").unwrap() + row_start];
        for metric in [
            "fits",
            "weights_gib_per_gpu",
            "kv_cache_tokens",
            "max_concurrency",
        ] {
            let cell = format!("data-metric=\"{metric}\" data-value=\"{}\"", json[metric]);
            assert!(row.contains(&cell), "{d:?}: {cell} not in {row}");
        }
    }
}
