//! `jauge merge`: the datasets that several load generators (shards) measured at the same time
//! against one server, as one dataset. Each step's requests are pooled and its figures computed
//! again from all of them — percentiles from the pooled records, never averaged; counts added;
//! throughputs over the pooled requests' common wall time (the shards start each step together).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jauge::dataset::{Dataset, Step};
use jauge::objectives::Slo;
use jauge::record::RequestRecord;

use crate::cli::MergeArgs;
use crate::dataset_file::records_path;
use crate::exit::bad_input;

/// Reads the shards, merges them and writes the dataset and its pooled request log.
///
/// # Errors
/// Fewer than two shards, a file that does not read, shards of different runs, an existing
/// `--out`.
pub fn run(args: &MergeArgs) -> anyhow::Result<ExitCode> {
    if args.shards.len() < 2 {
        return Err(bad_input("jauge merge needs at least two shards' datasets"));
    }
    if args.out.exists() && !args.force {
        return Err(bad_input(format!(
            "--out {}: exists; choose another name or pass --force",
            args.out.display()
        )));
    }
    let shards = args
        .shards
        .iter()
        .map(|p| read_shard(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (dataset, records) = merge(&shards).map_err(bad_input)?;
    let log: String = records
        .iter()
        .map(|r| serde_json::to_string(r).map(|l| l + "\n"))
        .collect::<Result<_, _>>()?;
    crate::files::write_atomic(&records_path(&args.out), &log)?;
    crate::files::write_atomic(&args.out, &dataset.to_json())?;
    println!(
        "merged {} shards: {} steps, {} requests → {} (records: {})",
        shards.len(),
        dataset.steps.len(),
        records.iter().filter(|r| !r.warmup).count(),
        args.out.display(),
        records_path(&args.out).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// One shard: its dataset and its request records.
pub type Shard = (Dataset, Vec<RequestRecord>);

fn read_shard(path: &Path) -> anyhow::Result<Shard> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("{}: cannot read it: {e}", path.display())))?;
    let dataset =
        Dataset::from_json(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
    let log: PathBuf = records_path(path);
    let lines = std::fs::read_to_string(&log).map_err(|e| {
        bad_input(format!(
            "{}: cannot read the shard's request records ({e}): a merge recomputes every figure from them",
            log.display()
        ))
    })?;
    let records = lines
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<RequestRecord>(l)
                .map_err(|e| bad_input(format!("{}:{}: {e}", log.display(), i + 1)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((dataset, records))
}

/// The shards as one dataset and one request log: the first shard's description, each step's
/// requests pooled (those its shard measured for that step, not interrupted) and summarised
/// again; open-loop rates added. The GPU and server readings are the first shard's
/// (all shards read the same server); the notes say so.
///
/// # Errors
/// Shards that are not parts of one run: another deployment, endpoint, lengths or steps.
pub fn merge(shards: &[Shard]) -> Result<(Dataset, Vec<RequestRecord>), String> {
    let (first, _) = shards.first().ok_or("no shard to merge")?;
    for (i, (d, _)) in shards.iter().enumerate().skip(1) {
        let differs = |what: &str| {
            Err(format!(
                "shard {} is not part of the same run as shard 1: its {what} differs",
                i + 1
            ))
        };
        if d.source != first.source {
            return differs("source");
        }
        if serde_json::to_value(&d.deployment).ok() != serde_json::to_value(&first.deployment).ok()
        {
            return differs("deployment");
        }
        let (w, f) = (&d.workload, &first.workload);
        if w.endpoint != f.endpoint
            || w.output_tokens != f.output_tokens
            || w.prompt_tokens != f.prompt_tokens
        {
            return differs("workload (endpoint, prompt or output tokens)");
        }
        if d.steps.len() != first.steps.len() {
            return differs("number of steps");
        }
    }
    let slo = Slo {
        ttft_ms: first.workload.slo_ttft_ms,
        tpot_ms: first.workload.slo_tpot_ms,
    };
    let mut merged = first.clone();
    let mut log = Vec::new();
    merged.steps.clear();
    for (index, step) in first.steps.iter().enumerate() {
        let parts: Vec<(&Step, &Vec<RequestRecord>)> = shards
            .iter()
            .map(|(d, records)| (&d.steps[index], records))
            .collect();
        if let Some((s, _)) = parts
            .iter()
            .find(|(s, _)| s.prompt_tokens != step.prompt_tokens)
        {
            return Err(format!(
                "step {}: the shards measured different prompt sizes ({} and {})",
                index + 1,
                step.prompt_tokens,
                s.prompt_tokens
            ));
        }
        // Every shard files its share under the whole step's users.
        let concurrency = step.concurrency;
        if let Some((s, _)) = parts.iter().find(|(s, _)| s.concurrency != concurrency) {
            return Err(format!(
                "step {}: the shards measured different steps ({} and {} users)",
                index + 1,
                concurrency,
                s.concurrency
            ));
        }
        let pooled: Vec<RequestRecord> = parts
            .iter()
            .flat_map(|(s, records)| {
                records.iter().filter(move |r| {
                    !r.interrupted
                        && r.concurrency == s.concurrency
                        && r.prompt_tokens == s.prompt_tokens
                })
            })
            .cloned()
            .collect();
        let mut summary = jauge::aggregate::step(
            concurrency,
            step.prompt_tokens,
            step.output_tokens,
            &pooled,
            slo,
        );
        summary.rate_rps = step
            .rate_rps
            .map(|_| parts.iter().filter_map(|(s, _)| s.rate_rps).sum());
        summary.gpu = step.gpu.clone();
        summary.server = step.server.clone();
        summary.people = step.people.map(|_| jauge::dataset::PeopleStep {
            in_flight_mean: parts
                .iter()
                .filter_map(|(s, _)| s.people)
                .map(|p| p.in_flight_mean)
                .sum(),
            in_flight_littles_law: parts
                .iter()
                .filter_map(|(s, _)| s.people)
                .map(|p| p.in_flight_littles_law)
                .sum(),
        });
        merged.steps.push(summary);
        log.extend(pooled);
    }
    merged.workload.rate_rps = first
        .workload
        .rate_rps
        .map(|_| shards.iter().filter_map(|(d, _)| d.workload.rate_rps).sum());
    merged.notes.retain(|n| !n.starts_with("Shard "));
    // The shards' verdicts were on their shares: the merged steps are judged again by whoever
    // reads them (jauge show, compare, the site).
    merged.limits.clear();
    merged.notes.push(format!(
        "Merged from {} shards measured together: each step's requests pooled and its figures computed again from them; its GPU and server readings are the first shard's.",
        shards.len()
    ));
    Ok((merged, log))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jauge::dataset::ErrorKind;
    use proptest::prelude::*;

    /// A shard of `users` users: its dataset (the example's deployment, one step) and records.
    fn shard(users: u32, records: Vec<RequestRecord>) -> Shard {
        // `users`: the whole step's, under which every shard files its share.
        let mut d = jauge::dataset::example();
        d.steps.truncate(1);
        d.workload.concurrency = vec![users];
        d.workload.prompt_tokens = vec![64];
        d.limits.clear();
        d.steps[0] = jauge::aggregate::step(users, 64, 16, &records, Slo::default());
        (d, records)
    }

    fn record() -> impl Strategy<Value = (f64, f64, f64, u32, bool)> {
        (
            0.0..5_000.0f64,
            1.0..800.0f64,
            0.0..3_000.0f64,
            1u32..40,
            proptest::bool::weighted(0.1),
        )
    }

    proptest! {
        /// Merging shards gives the figures of all their records summarised together: the
        /// percentiles of the pool, not an average of the shards'.
        #[test]
        fn merging_shards_equals_summarising_all_their_records(
            shards in proptest::collection::vec(proptest::collection::vec(record(), 1..30), 2..5)
        ) {
            let mut all = Vec::new();
            let mut parts = Vec::new();
            let total = shards.len() as u32 * 3;
            for rows in &shards {
                let records: Vec<RequestRecord> = rows.iter().enumerate().map(|(j, &(sent, ttft, rest, tokens, failed))| {
                    let mut r = RequestRecord::completed(total, 64, j as u32, sent, sent + ttft, sent + ttft + rest, tokens);
                    if failed {
                        r.error = Some(ErrorKind::Timeout);
                    }
                    r
                }).collect();
                all.extend(records.iter().cloned());
                parts.push(shard(total, records));
            }
            let (merged, log) = merge(&parts).unwrap();
            let whole = jauge::aggregate::step(total, 64, 16, &all, Slo::default());
            let step = &merged.steps[0];
            prop_assert_eq!(step.concurrency, total);
            prop_assert_eq!(step.requests, whole.requests);
            prop_assert_eq!(&step.latency, &whole.latency);
            prop_assert_eq!(&step.throughput, &whole.throughput);
            prop_assert_eq!(&step.token_counts, &whole.token_counts);
            prop_assert_eq!(log.len(), all.len());
            prop_assert_eq!(&merged.workload.concurrency, &vec![total]);
        }
    }

    #[test]
    fn shards_of_different_runs_are_refused() {
        let r = vec![RequestRecord::completed(1, 64, 0, 0.0, 10.0, 20.0, 3)];
        let a = shard(1, r.clone());
        let mut b = shard(1, r);
        b.0.workload.output_tokens = 99;
        let err = merge(&[a, b]).unwrap_err();
        assert!(err.contains("shard 2") && err.contains("workload"), "{err}");
    }
}
