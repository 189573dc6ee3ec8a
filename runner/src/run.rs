//! `jauge run`: the sweep over a fixed grid, from the plan to the dataset on disk.

use std::process::ExitCode;

use jauge::dataset::LimitReason;
use jauge::objectives::judge;

use crate::cli::RunArgs;
use crate::plan::MeasurePlan;
use crate::session::Session;
use crate::summary;

/// Runs `jauge run`; exit 0 when the sweep completed, 130 when interrupted.
pub async fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let plan = MeasurePlan::run(args)?;
    let load = &plan.load;
    let rules = &plan.rules;
    let total_steps = (load.concurrency.len() * load.prompt_tokens.len()) as u64;
    let mut session = Session::open(&plan, total_steps).await?;
    let grid = match (&load.people, &load.trace) {
        (_, Some(t)) => format!(
            "the trace {} ({}, {} requests over {:.1} s)",
            t.file,
            t.trace.format.name(),
            t.trace.len(),
            t.trace.duration_s()
        ),
        (Some(p), None) => format!(
            "people {:?} following the {} workload ({}), each step {} of warm-up then {} measured",
            load.concurrency,
            p.workload.name,
            p.workload.describe(),
            humantime::format_duration(p.warmup),
            humantime::format_duration(p.window)
        ),
        (None, None) => format!(
            "concurrency {:?} × prompt tokens {:?}, {} output tokens",
            load.concurrency, load.prompt_tokens, load.output_tokens
        ),
    };
    session.progress.say(&format!(
        "  grid: {grid}; stops at > {:.0} % errors{}{}{}",
        rules.max_error_rate * 100.0,
        rules
            .slo
            .ttft_ms
            .map(|v| format!(", TTFT p95 > {v:.0} ms"))
            .unwrap_or_default(),
        rules
            .slo
            .tpot_ms
            .map(|v| format!(", TPOT p95 > {v:.1} ms"))
            .unwrap_or_default(),
        rules
            .min_throughput_gain
            .map(|g| format!(", throughput gain < {:.0} %", g * 100.0))
            .unwrap_or_default(),
    ));

    let mut server_down = false;
    'rows: for &prompt_tokens in &load.prompt_tokens {
        if session.row_blocked(prompt_tokens, server_down)? {
            session.progress.skip(load.concurrency.len() as u64);
            continue;
        }
        let mut best: Option<f64> = None;
        let mut last_ok: Option<u32> = None;
        for (position, &concurrency) in load.concurrency.iter().enumerate() {
            if let Some(done) = session.done_step(concurrency, prompt_tokens) {
                // Resumed: this step is on disk; replay its verdict.
                best = best
                    .into_iter()
                    .chain(done.throughput.output_tok_s)
                    .reduce(f64::max);
                last_ok = Some(concurrency);
                session.progress.skip(1);
                continue;
            }
            let requests = match load.duration_per_step {
                Some(_) => None,
                None => Some(load.requests_per_step.unwrap_or((2 * concurrency).max(8))),
            };
            let Some(step) = session
                .measure(concurrency, prompt_tokens, requests, rules.slo)
                .await?
            else {
                break 'rows;
            };
            let verdict = judge(&step, rules, best);
            best = best
                .into_iter()
                .chain(step.throughput.output_tok_s)
                .reduce(f64::max);
            session.file.dataset.steps.push(step);
            // A shard runs every step: its share's verdict is not the step's.
            let Some((reason, held, detail)) = verdict.stop().filter(|_| load.shard.is_none())
            else {
                last_ok = Some(concurrency);
                session.file.save()?;
                continue;
            };
            let (ok, stopped) = if held {
                (Some(concurrency), None)
            } else {
                (last_ok, Some(concurrency))
            };
            session.progress.say(&match load.people {
                Some(_) => format!("stops at {concurrency} people: {detail}"),
                None => {
                    format!("prompt {prompt_tokens}: row stops at {concurrency} users: {detail}")
                }
            });
            server_down |= reason == LimitReason::ServerDown;
            session
                .file
                .set_limit(prompt_tokens, ok, stopped, reason, detail);
            session.file.save()?;
            session
                .progress
                .skip((load.concurrency.len() - position - 1) as u64);
            continue 'rows;
        }
        session.file.set_limit(
            prompt_tokens,
            last_ok,
            None,
            LimitReason::GridEnd,
            "every concurrency of the grid held".into(),
        );
        session.file.save()?;
    }
    let table = match (&load.people, &load.trace) {
        (Some(_), _) => crate::people::measured_report(&plan, session.dataset()),
        (None, Some(_)) => crate::replay::report(&plan, session.dataset()),
        (None, None) => summary::table(session.dataset()),
    };
    session.finish(&table)
}
