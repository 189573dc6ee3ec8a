//! Part 3 of the study: the largest prompt the deployment accepts and serves, at one user and
//! at the most users found in part 2, by a search on prompt tokens up to the server's own
//! ceiling ([`jauge::search::ContextSearch`]). Every probe is a measured step.

use std::process::ExitCode;

use jauge::dataset::{ContextLimit, Dataset, LimitReason};
use jauge::objectives::{judge, Breach, Percentile, Rules, Slo, Verdict};
use jauge::search::ContextSearch;

use crate::plan::{MeasurePlan, StudyPlan};
use crate::session::Session;

/// The users for the second search: the most found under the objectives for the longest
/// prompt that had an answer, when above one.
pub fn users_for_context(speed: &Dataset) -> Option<u32> {
    speed
        .limits
        .iter()
        .rev()
        .find_map(|l| l.max_concurrency_ok)
        .filter(|&n| n > 1)
}

/// Runs the searches at `plan`'s concurrencies; the dataset as written.
pub async fn run(study: &StudyPlan, plan: &MeasurePlan) -> anyhow::Result<(ExitCode, Dataset)> {
    let load = &plan.load;
    let concurrencies = &load.concurrency;
    let mut session = Session::open(plan, 4 * concurrencies.len() as u64).await?;
    if session.dataset().steps.is_empty() {
        // The probes' prompt sizes make the grid's rows.
        session.file.dataset.workload.prompt_tokens.clear();
    }
    let output_tokens = load.output_tokens;
    let ceiling = session
        .server
        .facts
        .max_model_len
        .map(|len| len.saturating_sub(output_tokens));
    let search = ContextSearch {
        start: *study.speed.load.prompt_tokens.last().unwrap_or(&1024),
        ceiling,
        step: study.context_step,
        cap: study.max_context,
    };
    session.progress.say(&format!(
        "  search: {} up to {} tokens, to within {} tokens; a probe passes when every user's request is served",
        match ceiling {
            Some(c) => format!("the server's ceiling first (max_model_len {} − {output_tokens} output tokens = {c}), then bisection below it", c + output_tokens),
            None => format!("doubling from {} (the server reports no max_model_len), then bisection", search.start),
        },
        search.cap,
        search.step
    ));
    // A probe passes when every user's request is served: no objective, no error.
    let served = Rules {
        max_error_rate: 0.0,
        ..Rules::objectives(Slo::default(), Percentile::P95)
    };
    for &concurrency in concurrencies {
        if session
            .dataset()
            .context_limits
            .iter()
            .any(|l| l.concurrency == concurrency)
        {
            continue;
        }
        let (mut passed, mut failed): (Option<u32>, Option<(u32, Breach)>) = (None, None);
        let mut probes = 0;
        while let Some(prompt) = search.next(passed, failed.as_ref().map(|f| f.0)) {
            let Some(step) = session
                .step_at(concurrency, prompt, concurrency, served.slo)
                .await?
            else {
                let table = table(session.dataset());
                let dataset = session.dataset().clone();
                return Ok((session.finish(&table)?, dataset));
            };
            probes += 1;
            match judge(&step, &served, None) {
                Verdict::Breach(breach) => {
                    let down = breach.reason() == LimitReason::ServerDown;
                    failed = Some((prompt, breach));
                    if down {
                        break;
                    }
                }
                _ => passed = Some(prompt),
            }
        }
        let limit = context_limit(concurrency, output_tokens, passed, failed, probes);
        session.progress.say(&format!(
            "{concurrency} users: maximum context {} tokens{}",
            limit
                .max_context_tokens
                .map_or("none".to_string(), |t| t.to_string()),
            limit
                .detail
                .as_ref()
                .map(|d| format!(" — {d}"))
                .unwrap_or_default()
        ));
        session.file.dataset.context_limits.push(limit);
        session.file.save()?;
    }
    let table = table(session.dataset());
    let dataset = session.dataset().clone();
    let code = session.finish(&table)?;
    Ok((code, dataset))
}

/// What the search found, with the server's own words at the first prompt it did not serve.
pub fn context_limit(
    concurrency: u32,
    output_tokens: u32,
    passed: Option<u32>,
    failed: Option<(u32, Breach)>,
    probes: u32,
) -> ContextLimit {
    let (refused, reason, detail) = match &failed {
        None => (
            None,
            LimitReason::GridEnd,
            "every probe was served, up to the search's cap (--max-context)".to_string(),
        ),
        Some((prompt, breach)) => (
            Some(*prompt),
            breach.reason(),
            format!("at {prompt} prompt tokens {breach}"),
        ),
    };
    ContextLimit {
        concurrency,
        output_tokens,
        max_context_tokens: passed,
        refused_at_tokens: refused,
        reason,
        detail: Some(crate::secrets::redact(&detail)),
        probes,
    }
}

/// The terminal's summary of the searches.
pub fn table(dataset: &Dataset) -> String {
    let rows: Vec<Vec<String>> = dataset
        .context_limits
        .iter()
        .map(|l| {
            vec![
                l.concurrency.to_string(),
                l.max_context_tokens
                    .map_or("-".to_string(), |t| t.to_string()),
                l.refused_at_tokens
                    .map_or("-".to_string(), |t| t.to_string()),
                l.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    format!(
        "Maximum context\n{}",
        crate::table::render(
            &[
                " users",
                " max prompt tokens",
                " refused at",
                "the server's answer"
            ],
            &rows
        )
    )
}
