//! `jauge study`: the study's protocol against one deployment — memory and speed as the load
//! grows, the most users under a chat objective, and the maximum context — written as
//! datasets and a report; or, with `--predict`, the same answers from the simulator for
//! deployments the reader does not have (one, or a preset's comparisons).

mod context;
mod measure;
mod predict;
pub mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::StudyArgs;
use crate::exit::bad_input;
use crate::plan::StudyPlan;

/// The files of a measured study, inside `--out`.
pub const SPEED_FILE: &str = "speed.json";
/// The maximum-context search's dataset.
pub const CONTEXT_FILE: &str = "context.json";

/// Runs `jauge study`.
pub async fn run(args: &StudyArgs) -> anyhow::Result<ExitCode> {
    crate::plan::check_study(args)?;
    if args.predict {
        return predict::run(args);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::files::stamped("jauge-study")));
    prepare_dir(&out, args.resume)?;
    let plan = StudyPlan::new(args, out.clone())?;
    println!(
        "jauge study → {}\n  objectives: TTFT p95 ≤ {} ms and TPOT p95 ≤ {} ms (a chat user's; change with --slo-ttft-ms, --slo-tpot-ms)",
        out.display(),
        args.slo_ttft_ms,
        args.slo_tpot_ms
    );

    println!("\n1–2. Memory, speed and users: concurrency {:?} × prompt tokens {:?}, then a search for the most users under the objectives", args.concurrency, args.prompt_tokens);
    let (code, speed) = measure::run(&plan).await?;
    if code != ExitCode::SUCCESS {
        println!(
            "interrupted: continue with jauge study --resume --out {}",
            out.display()
        );
        return Ok(code);
    }

    let users = context::users_for_context(&speed);
    println!(
        "\n3. Maximum context: the largest prompt accepted and served at {}",
        match users {
            Some(n) => format!("1 user and at {n} users (the most found for the longest prompt)"),
            None => "1 user".to_string(),
        }
    );
    let concurrency: Vec<u32> = std::iter::once(1).chain(users).collect();
    let (code, context) = context::run(&plan, &plan.context(&concurrency)).await?;
    if code != ExitCode::SUCCESS {
        println!(
            "interrupted: continue with jauge study --resume --out {}",
            out.display()
        );
        return Ok(code);
    }

    let study = report::Study::single(vec![speed, context]);
    report::write_and_show(&out, &study)?;
    Ok(ExitCode::SUCCESS)
}

/// A fresh `--out` folder, or the one being resumed.
fn prepare_dir(out: &Path, resume: bool) -> anyhow::Result<()> {
    let has_study = out.join(SPEED_FILE).exists();
    if has_study && !resume {
        return Err(bad_input(format!(
            "{} already holds a study: pass --resume to continue it, or choose another --out",
            out.display()
        )));
    }
    if resume && !has_study {
        return Err(bad_input(format!(
            "--resume: {} holds no study to continue",
            out.display()
        )));
    }
    std::fs::create_dir_all(out)
        .map_err(|e| bad_input(format!("--out {}: cannot create it: {e}", out.display())))?;
    Ok(())
}
