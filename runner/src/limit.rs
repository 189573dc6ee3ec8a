//! `jauge limit`: the largest number of simultaneous users whose requests meet latency
//! objectives, per prompt size — an exponential climb, then a bisection, each probe a
//! measured step written to the dataset.

use std::process::ExitCode;

use jauge::objectives::{judge, Rules};
use jauge::search::UsersSearch;

use crate::cli::LimitArgs;
use crate::exit::bad_input;
use crate::plan::{self, LimitPlan};
use crate::session::Session;
use crate::table::render;

/// Wilson score interval (95 %) of a share `k` of `n`.
pub fn wilson(k: f64, n: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let z = 1.96_f64;
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * ((p * (1.0 - p) / n) + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Runs `jauge limit`.
pub async fn run(args: &LimitArgs) -> anyhow::Result<ExitCode> {
    let limit = plan::limit(args)?;
    if args.simulate {
        return simulated(args, &limit);
    }
    let plan = &limit.measure;
    let (load, rules) = (&plan.load, &plan.rules);
    let probes_per_row = 2 * (32 - limit.ceiling.leading_zeros()) as u64 + 1;
    let mut session = Session::open(plan, probes_per_row * load.prompt_tokens.len() as u64).await?;
    let what = match &load.people {
        Some(p) => format!(
            "people following the {} workload ({}), each probe {} of warm-up then {} measured",
            p.workload.name,
            p.workload.describe(),
            humantime::format_duration(p.warmup),
            humantime::format_duration(p.window)
        ),
        None => format!(
            "prompt tokens {:?}, {} output tokens",
            load.prompt_tokens, load.output_tokens
        ),
    };
    let unit = if load.people.is_some() {
        "people"
    } else {
        "users"
    };
    session.progress.say(&format!(
        "  search: {what}, up to {} {unit}; a probe passes when {} of {} and fewer than {:.0} % errors",
        limit.ceiling,
        rules.percentile,
        [rules.slo.ttft_ms.map(|v| format!("TTFT ≤ {v:.0} ms")), rules.slo.tpot_ms.map(|v| format!("TPOT ≤ {v:.1} ms"))]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and "),
        rules.max_error_rate * 100.0
    ));
    let mut server_down = false;
    for &prompt_tokens in &load.prompt_tokens {
        if session.row_blocked(prompt_tokens, server_down)? {
            continue;
        }
        let requests = |c: u32| {
            load.requests_per_step
                .unwrap_or(c.saturating_mul(3).max(limit.min_requests))
        };
        let Some(found) = search(
            &mut session,
            prompt_tokens,
            UsersSearch::new(limit.ceiling),
            &requests,
            rules,
        )
        .await?
        else {
            break;
        };
        server_down |= found.server_down();
        let (reason, stopped, why) = found.outcome(&format!("--max-concurrency {}", limit.ceiling));
        let (passed, probes) = (found.passed(), found.probes());
        let confidence = passed
            .and_then(|c| session.done_step(c, prompt_tokens))
            .and_then(|s| {
                let n = f64::from(s.requests?.sent);
                let good = s.throughput.goodput_requests_s.unwrap_or(0.0) * s.duration_s?;
                let (lo, hi) = wilson(good.round(), n);
                Some(format!(
                    "at {} users {:.1} % of {} requests met the objectives (95 % CI {:.1}–{:.1} %)",
                    s.concurrency,
                    good / n.max(1.0) * 100.0,
                    n,
                    lo * 100.0,
                    hi * 100.0
                ))
            })
            .unwrap_or_else(|| "no concurrency met the objectives".to_string());
        session.file.set_limit(
            prompt_tokens,
            passed,
            stopped,
            reason,
            format!("limit search, {probes} probes: {why}; {confidence}"),
        );
        session.file.save()?;
    }
    let table = match load.people {
        Some(_) => crate::people::measured_report(plan, session.dataset()),
        None => table(session.dataset()),
    };
    session.finish(&table)
}

/// The climb-and-bisect search of one prompt size from what `search` already knows (nothing,
/// or a grid's verdicts), each probe `requests(users)` requests and a step of the dataset,
/// judged by `rules`. `None` when Ctrl-C interrupted it.
pub async fn search(
    session: &mut Session<'_>,
    prompt_tokens: u32,
    mut search: UsersSearch,
    requests: &dyn Fn(u32) -> u32,
    rules: &Rules,
) -> anyhow::Result<Option<UsersSearch>> {
    while let Some(concurrency) = search.next() {
        let Some(step) = session
            .step_at(concurrency, prompt_tokens, requests(concurrency), rules.slo)
            .await?
        else {
            return Ok(None);
        };
        let verdict = judge(&step, rules, None);
        if let Some((_, _, detail)) = verdict.stop() {
            session.progress.say(&format!(
                "{}: fails: {detail}",
                match session.plan.load.people {
                    Some(_) => format!("{concurrency} people"),
                    None => format!("prompt {prompt_tokens} · {concurrency} users"),
                }
            ));
        }
        search.record(concurrency, verdict);
    }
    Ok(Some(search))
}

fn table(d: &jauge::dataset::Dataset) -> String {
    let rows: Vec<Vec<String>> = d
        .workload
        .prompt_tokens
        .iter()
        .map(|&p| {
            let limit = d.limits.iter().find(|l| l.prompt_tokens == p);
            vec![
                p.to_string(),
                limit
                    .and_then(|l| l.max_concurrency_ok)
                    .map_or("-".into(), |c| c.to_string()),
                limit
                    .and_then(|l| l.stopped_at_concurrency)
                    .map_or("-".into(), |c| c.to_string()),
                limit
                    .and_then(|l| l.detail.clone())
                    .unwrap_or_else(|| "not searched".into()),
            ]
        })
        .collect();
    format!(
        "Max simultaneous users under the objectives\n{}",
        render(
            &[
                " prompt tokens",
                " max users",
                " breaks at",
                "how it was found"
            ],
            &rows
        )
    )
}

/// `jauge limit --simulate`: the same search, each probe a simulated step.
fn simulated(args: &LimitArgs, limit: &LimitPlan) -> anyhow::Result<ExitCode> {
    let run = &args.run;
    let load = &limit.measure.load;
    let rules = &limit.measure.rules;
    let spec = run
        .deployment
        .spec(None)
        .map_err(|e| bad_input(format!("--simulate: {e}")))?;
    let cat = jauge::catalogue::Catalogue::builtin();
    let request = spec.request(cat).map_err(|e| bad_input(e.to_string()))?;
    let (model, gpu) = (request.model, request.gpu);
    let mut rows = Vec::new();
    for &prompt_tokens in &load.prompt_tokens {
        let found = match jauge::sim::max_users(
            &request,
            prompt_tokens,
            load.output_tokens,
            rules,
            limit.ceiling,
            limit.min_requests,
        ) {
            Ok(found) => found,
            // A row that cannot run says why; the other rows still answer.
            Err(e @ jauge::SizingError::ContextTooLong { .. }) => {
                rows.push(vec![
                    prompt_tokens.to_string(),
                    "-".into(),
                    "-".into(),
                    e.to_string(),
                ]);
                continue;
            }
            Err(e) => return Err(bad_input(e.to_string())),
        };
        rows.push(vec![
            prompt_tokens.to_string(),
            found.max_users.map_or("-".into(), |c| c.to_string()),
            found.breaks_at.map_or("-".into(), |c| c.to_string()),
            found
                .breach
                .map_or_else(|| "held up to --max-concurrency".into(), |b| b.to_string()),
        ]);
    }
    println!(
        "Max simultaneous users under the objectives (SIMULATED: {} on {} × {}, {} output tokens)",
        model.id, request.gpu_count, gpu.id, load.output_tokens
    );
    print!(
        "{}",
        render(
            &[
                " prompt tokens",
                " max users",
                " breaks at",
                "why it breaks"
            ],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 19 of 20: p̂ = 0.95, Wilson 95 % interval ≈ [0.764, 0.991].
    #[test]
    fn wilson_interval_by_hand() {
        let (lo, hi) = wilson(19.0, 20.0);
        assert!(
            (lo - 0.7639).abs() < 1e-3 && (hi - 0.9911).abs() < 1e-3,
            "{lo} {hi}"
        );
    }
}
