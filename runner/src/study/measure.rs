//! Parts 1 and 2 of the study in one dataset: every concurrency of the grid for every prompt
//! size (GPU memory, KV-cache use, tok/s, TTFT, ITL as the load grows), then, per prompt
//! size, a bisection between the grid's last concurrency that met the objectives and its first
//! that did not, for the most users under them.

use std::process::ExitCode;

use jauge::dataset::{Dataset, ErrorKind, LimitReason};
use jauge::sim::next_probe;

use crate::aggregate::Slo;
use crate::cli::{RunArgs, StudyArgs};
use crate::limit::{judge, Probe};
use crate::session::{set_limit, Grid, Session};

/// The percentile the objectives apply to.
pub const PERCENTILE: u32 = 95;

/// Measures the grid and the users search; the dataset as written.
pub async fn run(run: &RunArgs, study: &StudyArgs) -> anyhow::Result<(ExitCode, Dataset)> {
    let slo = Slo {
        ttft_ms: run.slo_ttft_ms,
        tpot_ms: run.slo_tpot_ms,
    };
    let grid_steps = (run.concurrency.len() * run.prompt_tokens.len()) as u64;
    let search_steps = 3 * run.prompt_tokens.len() as u64;
    let mut session = Session::open(
        run,
        "study",
        grid_steps + search_steps,
        study.max_users,
        Grid::Searched,
    )
    .await?;
    if session.dataset.steps.is_empty() {
        // The grid, which the search's probes then join.
        session.dataset.workload.concurrency = run.concurrency.clone();
    }
    let mut server_down = false;
    'rows: for &prompt_tokens in &run.prompt_tokens {
        if session.row_blocked(prompt_tokens, server_down)? {
            session.progress.skip(run.concurrency.len() as u64 + 3);
            continue;
        }
        // The grid: every concurrency, whatever the objectives say (memory and speed curves).
        let mut passed: Option<u32> = None;
        let mut failed: Option<(u32, LimitReason, String)> = None;
        for &concurrency in &run.concurrency {
            let step = match session.done_step(concurrency, prompt_tokens) {
                Some(done) => {
                    session.progress.skip(1);
                    done.clone()
                }
                None => {
                    let requests = (2 * concurrency).max(4);
                    let Some(step) = session
                        .measure(concurrency, prompt_tokens, Some(requests), slo)
                        .await?
                    else {
                        break 'rows;
                    };
                    session.dataset.steps.push(step.clone());
                    session.save()?;
                    step
                }
            };
            match judge(&step, slo, PERCENTILE, run.max_error_rate) {
                Probe::Pass if failed.is_none() => passed = Some(concurrency),
                Probe::Pass => {}
                Probe::Fail(reason, why) => {
                    if failed.is_none() {
                        failed = Some((concurrency, reason, why));
                    }
                    if down(&step) {
                        server_down = true;
                        break;
                    }
                    // Errors beyond the budget: climbing further only breaks it harder.
                    if matches!(reason, LimitReason::Errors | LimitReason::ContextLength) {
                        break;
                    }
                }
            }
        }
        // The search between the grid's bracket, each probe a step of its own.
        let mut probes = 0;
        while !server_down {
            let Some(concurrency) =
                next_probe(passed, failed.as_ref().map(|f| f.0), study.max_users.max(1))
            else {
                break;
            };
            let step = match session.done_step(concurrency, prompt_tokens) {
                Some(done) => done.clone(),
                None => {
                    // One and a half rounds per user: enough for a p95 once the users'
                    // requests have spread out, and a third cheaper than the grid's two.
                    let requests = (3 * concurrency / 2).max(4);
                    let Some(step) = session
                        .measure(concurrency, prompt_tokens, Some(requests), slo)
                        .await?
                    else {
                        break 'rows;
                    };
                    session.dataset.steps.push(step.clone());
                    grid_add(&mut session.dataset, concurrency);
                    session.save()?;
                    step
                }
            };
            probes += 1;
            match judge(&step, slo, PERCENTILE, run.max_error_rate) {
                Probe::Pass => passed = Some(concurrency),
                Probe::Fail(reason, why) => {
                    server_down |= down(&step);
                    failed = Some((concurrency, reason, why));
                }
            }
        }
        session.progress.skip(3u64.saturating_sub(probes));
        let (reason, stopped, why) = match failed {
            Some((c, reason, why)) => (reason, Some(c), why),
            None => (
                LimitReason::GridEnd,
                None,
                format!("held up to --max-users {}", study.max_users),
            ),
        };
        let detail = format!(
            "most users with TTFT p{PERCENTILE} ≤ {} ms and TPOT p{PERCENTILE} ≤ {} ms: {} ({} after the grid; {why})",
            run.slo_ttft_ms.unwrap_or_default(),
            run.slo_tpot_ms.unwrap_or_default(),
            passed.map_or("none".to_string(), |c| c.to_string()),
            match probes {
                0 => "no probe".to_string(),
                1 => "1 probe".to_string(),
                n => format!("{n} probes"),
            },
        );
        set_limit(
            &mut session.dataset,
            prompt_tokens,
            passed,
            stopped,
            reason,
            detail,
        );
        session.save()?;
    }
    let table = crate::summary::table(&session.dataset);
    let dataset = session.dataset.clone();
    let code = session.finish(&table)?;
    Ok((code, dataset))
}

/// Every request failed to connect: the server is gone.
fn down(step: &jauge::dataset::Step) -> bool {
    step.requests.completed == 0 && step.errors.keys().all(|k| *k == ErrorKind::Connection)
}

/// Keeps the workload's concurrency list the set of concurrencies measured.
pub(crate) fn grid_add(dataset: &mut Dataset, concurrency: u32) {
    let grid = &mut dataset.workload.concurrency;
    if !grid.contains(&concurrency) {
        grid.push(concurrency);
        grid.sort_unstable();
    }
}
