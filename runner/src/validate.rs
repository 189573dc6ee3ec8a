//! `jauge validate`: check dataset files and print every error with its JSON path.

use std::process::ExitCode;

use jauge::dataset::Dataset;

use crate::cli::ValidateArgs;

/// Runs `jauge validate`: one line per valid file, one line per error of an invalid one.
pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut invalid = 0;
    for path in &args.files {
        let shown = path.display();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                println!("{shown}: cannot read: {e}");
                invalid += 1;
                continue;
            }
        };
        match Dataset::from_json(&text) {
            Ok(d) => println!(
                "{shown}: ok ({}, {} on {} × {}, {} steps)",
                d.source,
                d.deployment
                    .model
                    .catalogue_id
                    .as_deref()
                    .unwrap_or(&d.deployment.model.served_name),
                d.deployment.gpus.count,
                d.deployment
                    .gpus
                    .catalogue_id
                    .as_deref()
                    .unwrap_or(&d.deployment.gpus.name),
                d.steps.len()
            ),
            Err(e) => {
                invalid += 1;
                for violation in e.violations() {
                    println!("{shown}: {violation}");
                }
            }
        }
    }
    if invalid > 0 {
        eprintln!("{invalid} of {} file(s) invalid", args.files.len());
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
