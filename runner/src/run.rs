//! `jauge run`: the sweep over a fixed grid, from the command line to the dataset on disk.

use std::process::ExitCode;

use jauge::dataset::LimitReason;
use jauge::objectives::{judge, Percentile, Rules, Slo};

use crate::cli::RunArgs;
use crate::session::{set_limit, Grid, Session};
use crate::summary;

/// Runs `jauge run`; exit 0 when the sweep completed, 130 when interrupted.
pub async fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let total_steps = (args.concurrency.len() * args.prompt_tokens.len()) as u64;
    let mut session = Session::open(args, "run", total_steps, 1, Grid::Fixed).await?;
    let rules = Rules {
        slo: Slo {
            ttft_ms: args.slo_ttft_ms,
            tpot_ms: args.slo_tpot_ms,
        },
        percentile: Percentile::P95,
        max_error_rate: args.max_error_rate,
        min_throughput_gain: (!args.full_grid).then_some(args.min_throughput_gain),
        stop_on_preemption: args.stop_on_preemption,
        stop_on_queue: args.stop_on_queue,
    };
    session.progress.say(&format!(
        "  grid: concurrency {:?} × prompt tokens {:?}, {} output tokens; stops at > {:.0} % errors{}{}{}",
        args.concurrency,
        args.prompt_tokens,
        args.output_tokens,
        args.max_error_rate * 100.0,
        args.slo_ttft_ms.map(|v| format!(", TTFT p95 > {v} ms")).unwrap_or_default(),
        args.slo_tpot_ms.map(|v| format!(", TPOT p95 > {v} ms")).unwrap_or_default(),
        if args.full_grid { String::new() } else { format!(", throughput gain < {:.0} %", args.min_throughput_gain * 100.0) },
    ));

    let mut server_down = false;
    'rows: for &prompt_tokens in &args.prompt_tokens {
        if session.row_blocked(prompt_tokens, server_down)? {
            session.progress.skip(args.concurrency.len() as u64);
            continue;
        }
        let mut best: Option<f64> = None;
        let mut last_ok: Option<u32> = None;
        for (position, &concurrency) in args.concurrency.iter().enumerate() {
            if let Some(done) = session.done_step(concurrency, prompt_tokens) {
                // Resumed: this step is on disk; replay its verdict.
                best = Some(best.unwrap_or(0.0).max(done.throughput.output_tok_s));
                last_ok = Some(concurrency);
                session.progress.skip(1);
                continue;
            }
            let requests = match args.duration_per_step {
                Some(_) => None,
                None => Some(args.requests_per_step.unwrap_or((2 * concurrency).max(8))),
            };
            let Some(step) = session
                .measure(concurrency, prompt_tokens, requests, rules.slo)
                .await?
            else {
                break 'rows;
            };
            let verdict = judge(&step, &rules, best);
            best = Some(best.unwrap_or(0.0).max(step.throughput.output_tok_s));
            session.dataset.steps.push(step);
            let Some((reason, held, detail)) = verdict.stop() else {
                last_ok = Some(concurrency);
                session.save()?;
                continue;
            };
            let (ok, stopped) = if held {
                (Some(concurrency), None)
            } else {
                (last_ok, Some(concurrency))
            };
            session.progress.say(&format!(
                "prompt {prompt_tokens}: row stops at {concurrency} users: {detail}"
            ));
            server_down |= reason == LimitReason::ServerDown;
            set_limit(
                &mut session.dataset,
                prompt_tokens,
                ok,
                stopped,
                reason,
                detail,
            );
            session.save()?;
            session
                .progress
                .skip((args.concurrency.len() - position - 1) as u64);
            continue 'rows;
        }
        set_limit(
            &mut session.dataset,
            prompt_tokens,
            last_ok,
            None,
            LimitReason::GridEnd,
            "every concurrency of the grid held".into(),
        );
        session.save()?;
    }
    let table = summary::table(&session.dataset);
    session.finish(&table)
}
