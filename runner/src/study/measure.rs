//! Parts 1 and 2 of the study in one dataset: every concurrency of the grid for every prompt
//! size (GPU memory, KV-cache use, tok/s, TTFT, ITL as the load grows), then, per prompt
//! size, a bisection between the grid's last concurrency that met the objectives and its first
//! that did not, for the most users under them.

use std::process::ExitCode;

use jauge::dataset::Dataset;
use jauge::objectives::{judge, Percentile, Rules, Slo};
use jauge::search::UsersSearch;

use crate::cli::{RunArgs, StudyArgs};
use crate::limit::search;
use crate::session::{set_limit, Grid, Session};

/// The percentile the objectives apply to.
pub const PERCENTILE: Percentile = Percentile::P95;

/// Measures the grid and the users search; the dataset as written.
pub async fn run(run: &RunArgs, study: &StudyArgs) -> anyhow::Result<(ExitCode, Dataset)> {
    let rules = Rules {
        max_error_rate: run.max_error_rate,
        ..Rules::objectives(
            Slo {
                ttft_ms: run.slo_ttft_ms,
                tpot_ms: run.slo_tpot_ms,
            },
            PERCENTILE,
        )
    };
    let slo = rules.slo;
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
    for &prompt_tokens in &run.prompt_tokens {
        if session.row_blocked(prompt_tokens, server_down)? {
            session.progress.skip(run.concurrency.len() as u64 + 3);
            continue;
        }
        // The grid: every concurrency, whatever the objectives say (memory and speed curves).
        let mut found = UsersSearch::new(study.max_users);
        let mut interrupted = false;
        for &concurrency in &run.concurrency {
            let resumed = session.done_step(concurrency, prompt_tokens).is_some();
            let Some(step) = session
                .step_at(concurrency, prompt_tokens, (2 * concurrency).max(4), slo)
                .await?
            else {
                interrupted = true;
                break;
            };
            if resumed {
                session.progress.skip(1);
            }
            let verdict = judge(&step, &rules, None);
            // Errors beyond the budget: climbing further only breaks it harder.
            let errors = matches!(&verdict, jauge::objectives::Verdict::Breach(b) if b.is_errors());
            found.learn(concurrency, verdict);
            if errors {
                break;
            }
        }
        if interrupted {
            break;
        }
        // Then the search between the grid's verdicts, each probe a step of its own: one and a
        // half rounds per user, enough for a p95 once the users' requests have spread out.
        let requests = |c: u32| (3 * c / 2).max(4);
        let Some(found) = search(&mut session, prompt_tokens, found, &requests, &rules).await?
        else {
            break;
        };
        server_down |= found.server_down();
        let (reason, stopped, why) = found.outcome(&format!("--max-users {}", study.max_users));
        let (passed, probes) = (found.passed(), found.probes());
        session
            .progress
            .skip(3u64.saturating_sub(u64::from(probes)));
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
