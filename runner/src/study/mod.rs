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

use clap::Parser;

use crate::cli::{RunArgs, StudyArgs};
use crate::exit::bad_input;

/// The files of a measured study, inside `--out`.
pub const SPEED_FILE: &str = "speed.json";
/// The maximum-context search's dataset.
pub const CONTEXT_FILE: &str = "context.json";

/// Runs `jauge study`.
pub async fn run(args: &StudyArgs) -> anyhow::Result<ExitCode> {
    check(args)?;
    if args.predict {
        return predict::run(args);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::files::stamped("jauge-study")));
    prepare_dir(&out, args.resume)?;
    println!(
        "jauge study → {}\n  objectives: TTFT p95 ≤ {} ms and TPOT p95 ≤ {} ms (a chat user's; change with --slo-ttft-ms, --slo-tpot-ms)",
        out.display(),
        args.slo_ttft_ms,
        args.slo_tpot_ms
    );

    println!("\n1–2. Memory, speed and users: concurrency {:?} × prompt tokens {:?}, then a search for the most users under the objectives", args.concurrency, args.prompt_tokens);
    let speed_path = out.join(SPEED_FILE);
    let speed_args = run_args(args, &speed_path, &args.concurrency, &args.prompt_tokens, 1)?;
    let (code, speed) = measure::run(&speed_args, args).await?;
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
    let context_path = out.join(CONTEXT_FILE);
    let concurrency: Vec<u32> = std::iter::once(1).chain(users).collect();
    // No warm-up: each probe's prompt size is new, and a refused one costs nothing.
    let context_args = run_args(
        args,
        &context_path,
        &concurrency,
        &[args.prompt_tokens[0]],
        0,
    )?;
    let (code, context) = context::run(&context_args, args, &concurrency).await?;
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

fn check(args: &StudyArgs) -> anyhow::Result<()> {
    if args.preset.is_some() && !args.predict {
        return Err(bad_input(
            "--preset: a preset's deployments are predicted; add --predict",
        ));
    }
    if args.predict && args.url.is_some() {
        return Err(bad_input(
            "--predict answers from the simulator: leave out --url",
        ));
    }
    if args.prompt_tokens.is_empty()
        || args.prompt_tokens.contains(&0)
        || args.prompt_tokens.windows(2).any(|w| w[1] <= w[0])
    {
        return Err(bad_input(
            "--prompt-tokens: whole numbers above 0, increasing (e.g. 512,2048)",
        ));
    }
    if args.concurrency.is_empty()
        || args.concurrency.contains(&0)
        || args.concurrency.windows(2).any(|w| w[1] <= w[0])
    {
        return Err(bad_input(
            "--concurrency: whole numbers above 0, increasing (e.g. 1,4,16,32)",
        ));
    }
    if let Some(&longest) = args.prompt_tokens.last() {
        crate::session::check_prompt_tokens("--prompt-tokens", longest)?;
    }
    crate::session::check_prompt_tokens("--max-context", args.max_context)?;
    if args.context_step == 0 || args.context_step > args.max_context {
        return Err(bad_input(
            "--context-step: at least 1 token, and at most --max-context",
        ));
    }
    if !(args.slo_ttft_ms > 0.0 && args.slo_tpot_ms > 0.0) {
        return Err(bad_input(
            "--slo-ttft-ms and --slo-tpot-ms: above 0 milliseconds",
        ));
    }
    Ok(())
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

/// `jauge run`'s arguments for one part of the study, as if typed, so every default and check
/// of `jauge run` applies unchanged.
fn run_args(
    args: &StudyArgs,
    out: &Path,
    concurrency: &[u32],
    prompt_tokens: &[u32],
    warmup: u32,
) -> anyhow::Result<RunArgs> {
    let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let mut argv: Vec<String> = vec![
        "jauge study".into(),
        "--concurrency".into(),
        list(concurrency),
        "--prompt-tokens".into(),
        list(prompt_tokens),
        "--output-tokens".into(),
        args.output_tokens.to_string(),
        "--slo-ttft-ms".into(),
        args.slo_ttft_ms.to_string(),
        "--slo-tpot-ms".into(),
        args.slo_tpot_ms.to_string(),
        "--full-grid".into(),
        "--warmup".into(),
        warmup.to_string(),
        "--timeout".into(),
        humantime::format_duration(args.timeout).to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    let mut opt = |flag: &str, value: Option<String>| {
        if let Some(v) = value {
            argv.push(flag.into());
            argv.push(v);
        }
    };
    opt("--url", args.url.clone());
    opt("--model", args.model.clone());
    opt(
        "--catalog-model",
        args.catalog_model
            .clone()
            .or_else(|| args.url.is_none().then(|| "mistral-7b-v0.1".to_string())),
    );
    opt(
        "--gpu",
        args.gpu
            .clone()
            .or_else(|| args.url.is_none().then(|| "a100-40gb".to_string())),
    );
    opt("--gpu-count", args.gpus.map(|n| n.to_string()));
    opt("--quant", args.quant.clone());
    opt("--api-key-env", args.api_key_env.clone());
    opt(
        "--api-key-file",
        args.api_key_file.as_ref().map(|p| p.display().to_string()),
    );
    opt("--gpus", args.nvml_gpus.as_ref().map(|v| list(v)));
    opt(
        "--max-model-len",
        match (&args.url, args.max_model_len) {
            (None, len) => Some(len.unwrap_or(8192).to_string()),
            (Some(_), Some(_)) => {
                return Err(bad_input(
                    "--max-model-len applies to the built-in server only (no --url); a real server reports its own",
                ))
            }
            (Some(_), None) => None,
        },
    );
    opt("--endpoint", args.chat.then(|| "chat".to_string()));
    if args.time_scale != 1.0 {
        if args.url.is_some() {
            return Err(bad_input(
                "--time-scale applies to the built-in server only (no --url)",
            ));
        }
        argv.push("--time-scale".into());
        argv.push(args.time_scale.to_string());
    }
    if args.no_gpu {
        argv.push("--no-gpu".into());
    }
    if args.quiet {
        argv.push("--quiet".into());
    }
    if args.resume && out.exists() {
        argv.push("--resume".into());
    }
    #[derive(Parser)]
    struct Wrapped {
        #[command(flatten)]
        run: RunArgs,
    }
    Wrapped::try_parse_from(&argv)
        .map(|w| RunArgs {
            read_limit: args.read_limit.clone(),
            ..w.run
        })
        .map_err(|e| bad_input(format!("jauge study: {e}")))
}
