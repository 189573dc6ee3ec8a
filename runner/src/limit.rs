//! `jauge limit`: the largest number of simultaneous users whose requests meet latency
//! objectives, per prompt size — an exponential climb, then a bisection, each probe a
//! measured step written to the dataset.

use std::process::ExitCode;

use jauge::objectives::{judge, Percentile, Rules};
use jauge::search::UsersSearch;

use crate::cli::LimitArgs;
use crate::exit::bad_input;
use crate::session::{set_limit, Grid, Session};
use crate::table::render;
use jauge::objectives::Slo;

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
    let run = &args.run;
    if run.slo_ttft_ms.is_none() && run.slo_tpot_ms.is_none() {
        return Err(bad_input(
            "jauge limit needs an objective: --slo-ttft-ms and/or --slo-tpot-ms",
        ));
    }
    let Some(percentile) = Percentile::from_number(args.percentile) else {
        return Err(bad_input("--percentile: one of 50, 90, 95, 99"));
    };
    if args.max_concurrency == 0 {
        return Err(bad_input("--max-concurrency: at least 1"));
    }
    let most = crate::session::MAX_REQUESTS_PER_STEP;
    if args.min_requests == 0 || args.min_requests > most {
        return Err(bad_input(format!(
            "--min-requests: between 1 and {most} (a probe's records are held until it ends)"
        )));
    }
    let rules = Rules {
        max_error_rate: run.max_error_rate,
        ..Rules::objectives(
            Slo {
                ttft_ms: run.slo_ttft_ms,
                tpot_ms: run.slo_tpot_ms,
            },
            percentile,
        )
    };
    let slo = rules.slo;
    if args.simulate {
        return simulated(args, &rules);
    }
    let probes_per_row = 2 * (32 - args.max_concurrency.leading_zeros()) as u64 + 1;
    let mut session = Session::open(
        run,
        "limit",
        probes_per_row * run.prompt_tokens.len() as u64,
        args.max_concurrency,
        Grid::Searched,
    )
    .await?;
    session.progress.say(&format!(
        "  search: prompt tokens {:?}, {} output tokens, up to {} users; a probe passes when p{} of {} and fewer than {:.0} % errors",
        run.prompt_tokens,
        run.output_tokens,
        args.max_concurrency,
        args.percentile,
        [slo.ttft_ms.map(|v| format!("TTFT ≤ {v} ms")), slo.tpot_ms.map(|v| format!("TPOT ≤ {v} ms"))]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and "),
        run.max_error_rate * 100.0
    ));
    let mut server_down = false;
    for &prompt_tokens in &run.prompt_tokens {
        if session.row_blocked(prompt_tokens, server_down)? {
            continue;
        }
        let requests = |c: u32| {
            run.requests_per_step
                .unwrap_or((3 * c).max(args.min_requests))
        };
        let Some(found) = search(
            &mut session,
            prompt_tokens,
            UsersSearch::new(args.max_concurrency),
            &requests,
            &rules,
        )
        .await?
        else {
            break;
        };
        server_down |= found.server_down();
        let (reason, stopped, why) =
            found.outcome(&format!("--max-concurrency {}", args.max_concurrency));
        let (passed, probes) = (found.passed(), found.probes());
        let confidence = passed
            .and_then(|c| session.done_step(c, prompt_tokens))
            .map(|s| {
                let good = s.throughput.goodput_requests_s.unwrap_or(0.0) * s.duration_s;
                let n = f64::from(s.requests.sent);
                let (lo, hi) = wilson(good.round(), n);
                format!(
                    "at {} users {:.1} % of {} requests met the objectives (95 % CI {:.1}–{:.1} %)",
                    s.concurrency,
                    good / n.max(1.0) * 100.0,
                    s.requests.sent,
                    lo * 100.0,
                    hi * 100.0
                )
            })
            .unwrap_or_else(|| "no concurrency met the objectives".to_string());
        set_limit(
            &mut session.dataset,
            prompt_tokens,
            passed,
            stopped,
            reason,
            format!("limit search, {probes} probes: {why}; {confidence}"),
        );
        session.save()?;
    }
    let table = table(&session);
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
                "prompt {prompt_tokens} · {concurrency} users: fails: {detail}"
            ));
        }
        search.record(concurrency, verdict);
    }
    Ok(Some(search))
}

fn table(session: &Session<'_>) -> String {
    let d = &session.dataset;
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
fn simulated(args: &LimitArgs, rules: &Rules) -> anyhow::Result<ExitCode> {
    let run = &args.run;
    let cat = jauge::catalogue::Catalogue::builtin();
    let model_id = run
        .catalog_model
        .as_deref()
        .ok_or_else(|| bad_input("--simulate needs --catalog-model"))?;
    let gpu_id = run
        .gpu
        .as_deref()
        .ok_or_else(|| bad_input("--simulate needs --gpu"))?;
    let model = cat.model(model_id).map_err(|e| bad_input(e.to_string()))?;
    let gpu = cat.gpu(gpu_id).map_err(|e| bad_input(e.to_string()))?;
    let quant = match &run.quant {
        Some(q) => Some(cat.quant(q).map_err(|e| bad_input(e.to_string()))?),
        None => None,
    };
    let request = jauge::sizing::SizingRequest {
        gpu_count: run.gpu_count.unwrap_or(1),
        quant,
        max_num_seqs: run.max_num_seqs,
        max_model_len: run.max_model_len,
        ..jauge::sizing::SizingRequest::new(model, gpu)
    };
    let mut rows = Vec::new();
    for &prompt_tokens in &run.prompt_tokens {
        let found = match jauge::sim::max_users(
            &request,
            prompt_tokens,
            run.output_tokens,
            rules,
            args.max_concurrency,
            args.min_requests,
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
        model.id, request.gpu_count, gpu.id, run.output_tokens
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
