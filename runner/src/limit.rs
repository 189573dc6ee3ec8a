//! `jauge limit`: the largest number of simultaneous users whose requests meet latency
//! objectives, per prompt size — an exponential climb, then a bisection, each probe a
//! measured step written to the dataset.

use std::process::ExitCode;

use jauge::dataset::{LimitReason, Step};

use crate::aggregate::Slo;
use crate::cli::LimitArgs;
use crate::exit::bad_input;
use crate::session::{set_limit, Grid, Session};
use crate::table::render;
use jauge::sim::next_probe;

/// A probe's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Met every objective.
    Pass,
    /// Broke one: why, in words.
    Fail(LimitReason, String),
}

/// Whether a step meets the objectives at the chosen percentile and the error budget.
pub fn judge(step: &Step, slo: Slo, percentile: u32, max_error_rate: f64) -> Probe {
    let sent = step.requests.sent.max(1);
    if f64::from(step.requests.failed) / f64::from(sent) > max_error_rate {
        let context = step
            .errors
            .keys()
            .any(|k| *k == jauge::dataset::ErrorKind::ContextLength);
        let reason = if context {
            LimitReason::ContextLength
        } else {
            LimitReason::Errors
        };
        return Probe::Fail(
            reason,
            format!("{} of {sent} requests failed", step.requests.failed),
        );
    }
    match jauge::sim::meets(step, slo, percentile) {
        Ok(()) => Probe::Pass,
        Err(why) if why.starts_with("TTFT") => Probe::Fail(LimitReason::SloTtft, why),
        Err(why) => Probe::Fail(LimitReason::SloTpot, why),
    }
}

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
    if ![50, 90, 95, 99].contains(&args.percentile) {
        return Err(bad_input("--percentile: one of 50, 90, 95, 99"));
    }
    if args.max_concurrency == 0 {
        return Err(bad_input("--max-concurrency: at least 1"));
    }
    let most = crate::session::MAX_REQUESTS_PER_STEP;
    if args.min_requests == 0 || args.min_requests > most {
        return Err(bad_input(format!(
            "--min-requests: between 1 and {most} (a probe's records are held until it ends)"
        )));
    }
    let slo = Slo {
        ttft_ms: run.slo_ttft_ms,
        tpot_ms: run.slo_tpot_ms,
    };
    if args.simulate {
        return simulated(args, slo);
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
            Bracket::default(),
            args.max_concurrency,
            &requests,
            slo,
            args.percentile,
        )
        .await?
        else {
            break;
        };
        server_down |= found.server_down;
        let (reason, stopped, why) =
            found.verdict(&format!("--max-concurrency {}", args.max_concurrency));
        let (passed, probes) = (found.passed, found.probes);
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

/// What a search for the most users knows: the largest concurrency that met the objectives,
/// the smallest that did not (and why), the probes measured, and whether the server went down.
#[derive(Debug, Clone, Default)]
pub struct Bracket {
    /// The largest concurrency that passed.
    pub passed: Option<u32>,
    /// The smallest that failed: concurrency, reason, in words.
    pub failed: Option<(u32, LimitReason, String)>,
    /// Probes measured by the search.
    pub probes: u32,
    /// Every request of a probe failed to connect.
    pub server_down: bool,
}

impl Bracket {
    /// How the row ended: its reason, the concurrency that broke, and why in words (`ceiling`
    /// names the limit that held when nothing broke).
    pub fn verdict(&self, ceiling: &str) -> (LimitReason, Option<u32>, String) {
        match &self.failed {
            Some((c, reason, why)) => (*reason, Some(*c), why.clone()),
            None => (LimitReason::GridEnd, None, format!("held up to {ceiling}")),
        }
    }
}

/// The climb-and-bisect search of one prompt size from what `bracket` already knows (nothing,
/// or a grid's verdicts), each probe `requests(users)` requests and a step of the dataset.
/// `None` when Ctrl-C interrupted it.
pub async fn search(
    session: &mut Session<'_>,
    prompt_tokens: u32,
    mut bracket: Bracket,
    ceiling: u32,
    requests: &dyn Fn(u32) -> u32,
    slo: Slo,
    percentile: u32,
) -> anyhow::Result<Option<Bracket>> {
    let max_error_rate = session.args.max_error_rate;
    while !bracket.server_down {
        let Some(concurrency) = next_probe(
            bracket.passed,
            bracket.failed.as_ref().map(|f| f.0),
            ceiling.max(1),
        ) else {
            break;
        };
        let Some(step) = session
            .step_at(concurrency, prompt_tokens, requests(concurrency), slo)
            .await?
        else {
            return Ok(None);
        };
        bracket.probes += 1;
        match judge(&step, slo, percentile, max_error_rate) {
            Probe::Pass => bracket.passed = Some(concurrency),
            Probe::Fail(reason, detail) => {
                bracket.server_down |= server_down(&step);
                session.progress.say(&format!(
                    "prompt {prompt_tokens} · {concurrency} users: fails: {detail}"
                ));
                bracket.failed = Some((concurrency, reason, detail));
            }
        }
    }
    Ok(Some(bracket))
}

/// Every request of the step failed to connect: the server is gone.
pub fn server_down(step: &Step) -> bool {
    step.requests.completed == 0
        && step
            .errors
            .keys()
            .all(|k| *k == jauge::dataset::ErrorKind::Connection)
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
fn simulated(args: &LimitArgs, slo: Slo) -> anyhow::Result<ExitCode> {
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
            slo,
            args.percentile,
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
                .why
                .unwrap_or_else(|| "held up to --max-concurrency".into()),
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

    /// The true limit 10 under a ceiling of 256: climb 1, 2, 4, 8, 16 (fails), then bisect
    /// 12 (fails), 10 (passes), 11 (fails).
    #[test]
    fn the_search_climbs_then_bisects_to_adjacent_values() {
        let truth = 10;
        let (mut passed, mut failed, mut probed) = (None, None, Vec::new());
        while let Some(c) = next_probe(passed, failed, 256) {
            probed.push(c);
            if c <= truth {
                passed = Some(c);
            } else {
                failed = Some(c);
            }
        }
        assert_eq!(probed, [1, 2, 4, 8, 16, 12, 10, 11]);
        assert_eq!((passed, failed), (Some(10), Some(11)));
    }

    #[test]
    fn the_ceiling_and_the_floor_end_the_search() {
        assert_eq!(next_probe(Some(64), None, 64), None);
        assert_eq!(next_probe(Some(32), None, 48), Some(48));
        assert_eq!(next_probe(None, Some(1), 64), None);
    }

    /// 19 of 20: p̂ = 0.95, Wilson 95 % interval ≈ [0.764, 0.991].
    #[test]
    fn wilson_interval_by_hand() {
        let (lo, hi) = wilson(19.0, 20.0);
        assert!(
            (lo - 0.7639).abs() < 1e-3 && (hi - 0.9911).abs() < 1e-3,
            "{lo} {hi}"
        );
    }

    #[test]
    fn probes_are_judged_at_the_chosen_percentile() {
        let step = jauge::dataset::example().steps[0].clone(); // TTFT p50 120, p95 204 ms
        let slo = Slo {
            ttft_ms: Some(150.0),
            tpot_ms: None,
        };
        assert_eq!(judge(&step, slo, 50, 0.05), Probe::Pass);
        assert!(matches!(
            judge(&step, slo, 95, 0.05),
            Probe::Fail(LimitReason::SloTtft, _)
        ));
    }
}
