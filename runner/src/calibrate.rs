//! `jauge calibrate`: fit the performance model on measured datasets and say how wrong it is.

use std::process::ExitCode;

use jauge::calibrate::calibrate;
use jauge::dataset::Dataset;

use crate::cli::CalibrateArgs;
use crate::exit::bad_input;
use crate::files::write_atomic;
use crate::table::render;

/// Runs `jauge calibrate`.
pub fn run(args: &CalibrateArgs) -> anyhow::Result<ExitCode> {
    let mut datasets = Vec::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("{}: cannot read it: {e}", path.display())))?;
        datasets.push(
            Dataset::from_json(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))?,
        );
    }
    let calibration = calibrate(&datasets);
    if calibration.entries.is_empty() {
        return Err(bad_input(
            "no measured dataset of a catalogue model and GPU among these (simulated ones cannot calibrate the simulator)",
        ));
    }
    let pct = |v: f64| format!("{v:.1} %");
    let rows: Vec<Vec<String>> = calibration
        .entries
        .iter()
        .map(|e| {
            vec![
                format!("{} · {} · {}", e.gpu, e.engine, e.quantization),
                e.datasets.to_string(),
                format!(
                    "{:.2} / {:.2} / {:.1} ms",
                    e.efficiency.bandwidth,
                    e.efficiency.compute,
                    e.efficiency.step_overhead_s * 1000.0
                ),
                pct(e.defaults.mean()),
                pct(e.in_sample.mean()),
                e.leave_one_out.map_or("n/a (one dataset)".into(), |l| {
                    format!(
                        "{} (TTFT {}, TPOT {}, tok/s {})",
                        pct(l.mean()),
                        pct(l.ttft_pct),
                        pct(l.tpot_pct),
                        pct(l.output_tok_s_pct)
                    )
                }),
            ]
        })
        .collect();
    print!(
        "{}",
        render(
            &[
                "GPU · engine · quantisation",
                " datasets",
                " bandwidth / compute / step",
                " error before",
                " in-sample",
                "held-out error (leave one out)"
            ],
            &rows
        )
    );
    if let Some(out) = &args.out {
        write_atomic(out, &calibration.to_json())?;
        println!(
            "\ncalibration: {} (jauge simulate --calibration {})",
            out.display(),
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
