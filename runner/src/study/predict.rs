//! `jauge study --predict`: the study's three answers from the simulator, for one deployment
//! or for every deployment of a preset (`--preset seed`), written as `simulated` datasets and
//! the same report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jauge::catalogue::Catalogue;
use jauge::dataset::{Dataset, Limit, LimitReason};
use jauge::deployment::DeploymentSpec;
use jauge::objectives::Slo;
use jauge::study::{Comparison, Preset};

use super::report::{self, Entry, Outcome, Study};
use crate::cli::StudyArgs;
use crate::exit::bad_input;
use crate::files::write_atomic;
use crate::simulate::{simulated_dataset, FactorsFrom, Modes, SimGrid};
use jauge::sim::Setup;

/// Concurrencies of a predicted sweep: cheap to simulate, so finer and wider than measured.
const PREDICTED_CONCURRENCY: [u32; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/// Runs `jauge study --predict`.
pub fn run(args: &StudyArgs) -> anyhow::Result<ExitCode> {
    let cat = Catalogue::builtin();
    let (preset, out) = match &args.preset {
        Some(id) => {
            let mut preset =
                Preset::builtin(id).map_err(|e| bad_input(format!("--preset: {e}")))?;
            args.deployment.check_engine()?;
            // `--engine vllm@0.4.2` deploys the whole preset under that release (the study ran
            // vLLM of 2024), next to today's in its own folder.
            let release = args.deployment.vllm_release();
            if let Some(version) = &release {
                version
                    .parse::<jauge::sizing::VllmVersion>()
                    .map_err(|e| bad_input(format!("--engine: {e}")))?;
                for deployment in preset
                    .comparisons
                    .iter_mut()
                    .flat_map(|c| c.deployments.iter_mut())
                {
                    deployment.vllm_version = Some(version.clone());
                }
                preset.title = format!("{} (vLLM {version})", preset.title);
            }
            let folder = match &release {
                Some(version) => format!("datasets/simulated/{id}-vllm-{version}"),
                None => format!("datasets/simulated/{id}"),
            };
            let out = args.out.clone().unwrap_or_else(|| PathBuf::from(folder));
            (preset, out)
        }
        None => {
            let deployment = single_deployment(args, cat)?;
            let out = args
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from(crate::files::stamped("jauge-study-predicted")));
            let preset = Preset {
                id: "predicted".into(),
                title: format!("Predicted: {}", deployment.label()),
                source: "jauge study --predict".into(),
                comparisons: vec![Comparison {
                    id: deployment.slug(),
                    title: deployment.label(),
                    question: "What would this deployment serve?".into(),
                    deployments: vec![deployment],
                }],
            };
            (preset, out)
        }
    };
    std::fs::create_dir_all(&out)
        .map_err(|e| bad_input(format!("--out {}: cannot create it: {e}", out.display())))?;
    let slo = Slo {
        ttft_ms: Some(args.slo_ttft_ms),
        tpot_ms: Some(args.slo_tpot_ms),
    };
    println!(
        "jauge study --predict → {} (SIMULATED: jauge's simulator, no server, no GPU)\n  objectives: TTFT p95 ≤ {} ms and TPOT p95 ≤ {} ms; prompts {:?}, {} output tokens",
        out.display(),
        args.slo_ttft_ms,
        args.slo_tpot_ms,
        args.prompt_tokens,
        args.output_tokens
    );
    let mut comparisons = Vec::new();
    for comparison in &preset.comparisons {
        let mut entries = Vec::new();
        for deployment in &comparison.deployments {
            let outcome = match deployment.deployable(cat) {
                Err(why) => Outcome::CannotRun(why),
                Ok(request) => {
                    let dataset = predict_one(&request, args, slo)?;
                    let path = out.join(format!("{}.json", deployment.slug()));
                    write_atomic(&path, &dataset.to_json())?;
                    Outcome::Datasets(vec![dataset])
                }
            };
            println!(
                "  {}: {}",
                deployment.label(),
                match &outcome {
                    Outcome::CannotRun(why) => format!("cannot run — {why}"),
                    Outcome::Datasets(d) => report::one_line(&d[0]),
                }
            );
            if let Outcome::Datasets(d) = &outcome {
                if let Some(checked) = crate::simulate::checked_line(&d[0]) {
                    println!("    {checked}");
                }
            }
            entries.push(Entry {
                deployment: Some(deployment.clone()),
                outcome,
            });
        }
        comparisons.push((comparison.clone(), entries));
    }
    if args.preset.is_some() {
        reindex(&out)?;
    }
    let study = Study {
        title: preset.title.clone(),
        simulated: true,
        comparisons,
    };
    report::write_and_show(&out, &study)?;
    Ok(ExitCode::SUCCESS)
}

/// The deployment the flags name, its format resolved (the checkpoint's dtype when `--quant`
/// is not given) so that its datasets and report name it.
fn single_deployment(args: &StudyArgs, cat: &Catalogue) -> anyhow::Result<DeploymentSpec> {
    let mut spec = args.deployment.spec(None).map_err(|e| {
        bad_input(format!(
            "--predict: {e} (or --preset seed for the study's comparisons)"
        ))
    })?;
    let request = spec.request(cat).map_err(|e| bad_input(e.to_string()))?;
    let sizing = jauge::sizing::size(&request).map_err(|e| bad_input(e.to_string()))?;
    spec.model = request.model.id.clone();
    spec.quant = Some(sizing.quant.to_lowercase());
    Ok(spec)
}

/// The sweep, the most users per prompt size, and the maximum context at one user and at the
/// most users found for the longest prompt, all simulated into one dataset.
fn predict_one(
    request: &jauge::sizing::SizingRequest<'_>,
    args: &StudyArgs,
    slo: Slo,
) -> anyhow::Result<Dataset> {
    let modes = Modes::closed(&PREDICTED_CONCURRENCY);
    let grid = SimGrid {
        modes: &modes,
        prompt_tokens: &args.prompt_tokens,
        output_tokens: args.output_tokens,
        requests: None,
        slo,
        seed: 0,
    };
    let factors = FactorsFrom::Shipped;
    let setup = Setup::calibrated(request);
    let mut dataset = simulated_dataset(request, &grid, &setup, &factors.describe())
        .map_err(|e| bad_input(e.to_string()))?;
    for limit in &mut dataset.limits {
        if limit.reason == LimitReason::ContextLength {
            continue;
        }
        *limit = users_limit(request, args, slo, limit.prompt_tokens)?;
    }
    let users = super::context::users_for_context(&dataset);
    for concurrency in std::iter::once(1).chain(users) {
        let limit =
            jauge::sim::max_context(request, concurrency, args.output_tokens, args.context_step)
                .map_err(|e| bad_input(e.to_string()))?;
        dataset.context_limits.push(limit);
    }
    dataset.notes.push(format!(
        "Predicted for jauge study (TTFT p95 ≤ {} ms, TPOT p95 ≤ {} ms): the most users per prompt size by the simulated search of jauge limit; the maximum context by a simulated search on prompt tokens (a request fails above max_model_len {} or past {:.0} s).",
        args.slo_ttft_ms,
        args.slo_tpot_ms,
        dataset.deployment.engine.settings.max_model_len.unwrap_or_default(),
        jauge::sim::PREDICTED_TIMEOUT_S
    ));
    Ok(dataset)
}

fn users_limit(
    request: &jauge::sizing::SizingRequest<'_>,
    args: &StudyArgs,
    slo: Slo,
    prompt_tokens: u32,
) -> anyhow::Result<Limit> {
    let rules = jauge::objectives::Rules::objectives(slo, super::measure::PERCENTILE);
    let found = jauge::sim::max_users(
        request,
        prompt_tokens,
        args.output_tokens,
        &rules,
        args.max_users,
        8,
    )
    .map_err(|e| bad_input(e.to_string()))?;
    let reason = found
        .breach
        .as_ref()
        .map_or(LimitReason::GridEnd, |b| b.reason());
    Ok(Limit {
        prompt_tokens,
        max_concurrency_ok: found.max_users,
        stopped_at_concurrency: found.breaks_at,
        reason,
        detail: Some(format!(
            "predicted: most users with TTFT p{p} ≤ {} ms and TPOT p{p} ≤ {} ms: {} ({})",
            args.slo_ttft_ms,
            args.slo_tpot_ms,
            found
                .max_users
                .map_or("none".to_string(), |c| c.to_string()),
            found.breach.as_ref().map_or(
                format!("held up to --max-users {}", args.max_users),
                |b| format!("breaks at {}: {b}", found.breaks_at.unwrap_or_default())
            ),
            p = super::measure::PERCENTILE,
        )),
    })
}

/// Rebuilds the index of the datasets folder above `out` (the nearest with an index.json), so
/// the predictions are listed where the explorer looks.
fn reindex(out: &Path) -> anyhow::Result<()> {
    let absolute = std::fs::canonicalize(out)?;
    let Some(root) = absolute
        .ancestors()
        .find(|dir| dir.join("index.json").is_file())
    else {
        println!(
            "  (no index.json above {}: run jauge index on the datasets folder to list them)",
            out.display()
        );
        return Ok(());
    };
    crate::index::rebuild(root)?;
    println!("  index: {} rebuilt", root.join("index.json").display());
    Ok(())
}
