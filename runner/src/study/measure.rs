//! Parts 1 and 2 of the study in one dataset: every concurrency of the grid for every prompt
//! size (GPU memory, KV-cache use, tok/s, TTFT, ITL as the load grows), then, per prompt
//! size, a bisection between the grid's last concurrency that met the objectives and its first
//! that did not, for the most users under them.

use std::process::ExitCode;

use jauge::dataset::Dataset;
use jauge::objectives::{judge, Percentile, Verdict};
use jauge::search::UsersSearch;

use crate::limit::search;
use crate::plan::StudyPlan;
use crate::session::Session;

/// The percentile the objectives apply to.
pub const PERCENTILE: Percentile = Percentile::P95;

/// Measures the grid and the users search; the dataset as written.
pub async fn run(study: &StudyPlan) -> anyhow::Result<(ExitCode, Dataset)> {
    let plan = &study.speed;
    let (load, rules) = (&plan.load, &plan.rules);
    let grid_steps = (load.concurrency.len() * load.prompt_tokens.len()) as u64;
    let search_steps = 3 * load.prompt_tokens.len() as u64;
    let mut session = Session::open(plan, grid_steps + search_steps).await?;
    let mut server_down = false;
    for &prompt_tokens in &load.prompt_tokens {
        if session.row_blocked(prompt_tokens, server_down)? {
            session.progress.skip(load.concurrency.len() as u64 + 3);
            continue;
        }
        // The grid: every concurrency, whatever the objectives say (memory and speed curves).
        let mut found = UsersSearch::new(study.max_users);
        let mut interrupted = false;
        for &concurrency in &load.concurrency {
            let resumed = session.done_step(concurrency, prompt_tokens).is_some();
            let Some(step) = session
                .step_at(
                    concurrency,
                    prompt_tokens,
                    (2 * concurrency).max(4),
                    rules.slo,
                )
                .await?
            else {
                interrupted = true;
                break;
            };
            if resumed {
                session.progress.skip(1);
            }
            let verdict = judge(&step, rules, None);
            // Errors beyond the budget: climbing further only breaks it harder.
            let errors = matches!(&verdict, Verdict::Breach(b) if b.is_errors());
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
        let Some(found) = search(&mut session, prompt_tokens, found, &requests, rules).await?
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
            "most users with TTFT {p} ≤ {} ms and TPOT {p} ≤ {} ms: {} ({} after the grid; {why})",
            rules.slo.ttft_ms.unwrap_or_default(),
            rules.slo.tpot_ms.unwrap_or_default(),
            passed.map_or("none".to_string(), |c| c.to_string()),
            match probes {
                0 => "no probe".to_string(),
                1 => "1 probe".to_string(),
                n => format!("{n} probes"),
            },
            p = rules.percentile,
        );
        session
            .file
            .set_limit(prompt_tokens, passed, stopped, reason, detail);
        session.file.save()?;
    }
    let table = crate::summary::table(session.dataset());
    let dataset = session.dataset().clone();
    let code = session.finish(&table)?;
    Ok((code, dataset))
}
