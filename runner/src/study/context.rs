//! Part 3 of the study: the largest prompt the deployment accepts and serves, at one user and
//! at the most users found in part 2, by a search on prompt tokens up to the server's own
//! ceiling ([`jauge::search::ContextSearch`]). Every probe is a measured step.

use std::process::ExitCode;

use jauge::dataset::{ContextLimit, Dataset, ErrorKind, LimitReason, Step};
use jauge::search::ContextSearch;

use crate::cli::{RunArgs, StudyArgs};
use crate::session::{Grid, Session};
use jauge::objectives::{judge, Percentile, Rules, Slo, Verdict};

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

/// Runs the searches; the dataset as written.
pub async fn run(
    run: &RunArgs,
    study: &StudyArgs,
    concurrencies: &[u32],
) -> anyhow::Result<(ExitCode, Dataset)> {
    let slo = Slo {
        ttft_ms: run.slo_ttft_ms,
        tpot_ms: run.slo_tpot_ms,
    };
    let most = concurrencies.iter().copied().max().unwrap_or(1);
    let mut session = Session::open(
        run,
        "study (maximum context)",
        4 * concurrencies.len() as u64,
        most,
        Grid::Context,
    )
    .await?;
    if session.dataset.steps.is_empty() {
        session.dataset.workload.concurrency = concurrencies.to_vec();
        session.dataset.workload.prompt_tokens.clear();
    }
    let ceiling = session
        .facts
        .max_model_len
        .map(|len| len.saturating_sub(run.output_tokens));
    let search = ContextSearch {
        start: *study.prompt_tokens.last().unwrap_or(&1024),
        ceiling,
        step: study.context_step,
        cap: study.max_context,
    };
    session.progress.say(&format!(
        "  search: {} up to {} tokens, to within {} tokens; a probe passes when every user's request is served",
        match ceiling {
            Some(c) => format!("the server's ceiling first (max_model_len {} − {} output tokens = {c}), then bisection below it", c + run.output_tokens, run.output_tokens),
            None => format!("doubling from {} (the server reports no max_model_len), then bisection", search.start),
        },
        search.cap,
        search.step
    ));
    for &concurrency in concurrencies {
        if session
            .dataset
            .context_limits
            .iter()
            .any(|l| l.concurrency == concurrency)
        {
            continue;
        }
        let (mut passed, mut failed): (Option<u32>, Option<(u32, Step)>) = (None, None);
        let mut probes = 0;
        while let Some(prompt) = search.next(passed, failed.as_ref().map(|f| f.0)) {
            let Some(step) = session
                .step_at(concurrency, prompt, concurrency, slo)
                .await?
            else {
                let table = table(&session.dataset);
                let dataset = session.dataset.clone();
                return Ok((session.finish(&table)?, dataset));
            };
            probes += 1;
            // A probe passes when every user's request is served: no objective, no error.
            let served = Rules {
                max_error_rate: 0.0,
                ..Rules::objectives(Slo::default(), Percentile::P95)
            };
            match judge(&step, &served, None) {
                Verdict::Breach(breach) => {
                    let down = breach.reason() == LimitReason::ServerDown;
                    failed = Some((prompt, step));
                    if down {
                        break;
                    }
                }
                _ if step.requests.completed > 0 => passed = Some(prompt),
                _ => failed = Some((prompt, step)),
            }
        }
        let limit = context_limit(concurrency, run.output_tokens, passed, failed, probes);
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
        session.dataset.context_limits.push(limit);
        session.save()?;
    }
    let table = table(&session.dataset);
    let dataset = session.dataset.clone();
    let code = session.finish(&table)?;
    Ok((code, dataset))
}

/// What the search found, with the server's own words at the first prompt it did not serve.
pub fn context_limit(
    concurrency: u32,
    output_tokens: u32,
    passed: Option<u32>,
    failed: Option<(u32, Step)>,
    probes: u32,
) -> ContextLimit {
    let (refused, reason, detail) = match &failed {
        None => (
            None,
            LimitReason::GridEnd,
            "every probe was served, up to the search's cap (--max-context)".to_string(),
        ),
        Some((prompt, step)) => {
            let kind = step.errors.iter().max_by_key(|(_, n)| **n).map(|(k, _)| *k);
            let reason = match kind {
                Some(ErrorKind::ContextLength) => LimitReason::ContextLength,
                Some(ErrorKind::Connection) if step.requests.completed == 0 => {
                    LimitReason::ServerDown
                }
                _ => LimitReason::Errors,
            };
            let message = kind
                .and_then(|k| step.error_messages.get(&k))
                .cloned()
                .unwrap_or_else(|| "failed".to_string());
            (
                Some(*prompt),
                reason,
                format!(
                    "at {prompt} prompt tokens {} of {} requests failed: {message}",
                    step.requests.failed, step.requests.sent
                ),
            )
        }
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
