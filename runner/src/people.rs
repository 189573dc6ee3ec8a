//! `jauge people`: how many people a deployment serves, per workload, from the simulator; and
//! the table of a measured people run (`jauge run`/`limit --workload`) beside the prediction.

use std::process::ExitCode;

use jauge::people::{Edits, Span, Workload};
use jauge::sim::{engine_for, max_people, simulate_people, MaxPeople, PeopleLoad, PeopleOutcome};
use jauge::sizing::engines::Engine;
use jauge::sizing::size;

use crate::cli::{PeopleArgs, WorkloadEditArgs};
use crate::exit::bad_input;
use crate::plan::MeasurePlan;
use crate::size::with_request;

pub fn run(args: &PeopleArgs) -> anyhow::Result<ExitCode> {
    if let Some(name) = &args.deployment.engine {
        let engine: Engine = name
            .parse()
            .map_err(|e: jauge::SizingError| bad_input(e.to_string()))?;
        if !matches!(engine, Engine::Vllm(_)) {
            return Err(bad_input(format!(
                "--engine {name}: jauge people predicts with the simulator of a vLLM-like engine; \
                 for other engines, `jauge size --engine` gives the memory answer"
            )));
        }
    }
    for (flag, value) in [
        ("--window-s", Some(args.window_s)),
        ("--warmup-s", args.warmup_s),
    ] {
        if value.is_some_and(|v| !(0.0..=1e7).contains(&v)) {
            return Err(bad_input(format!("{flag}: seconds, from 0 to 10,000,000")));
        }
    }
    if args.window_s <= 0.0 {
        return Err(bad_input("--window-s: above 0"));
    }
    let workloads = workloads(args)?;
    let (deployment, engine) = with_request(&args.deployment, None, None, |request| {
        let sizing = size(request).map_err(|e| bad_input(e.to_string()))?;
        let engine = engine_for(request).map_err(|e| bad_input(e.to_string()))?;
        let line = format!(
            "{} on {} × {}, {}, vLLM {}'s memory accounting: {} KV-cache tokens",
            sizing.model,
            sizing.gpus,
            sizing.gpu,
            sizing.quant,
            sizing.vllm_version,
            jauge::units::thousands(sizing.kv_cache_tokens)
        );
        anyhow::Ok((line, engine))
    })??;
    let mut answers = Vec::new();
    for workload in &workloads {
        if !args.json {
            eprintln!("searching the most people for `{}`…", workload.name);
        }
        let defaults = PeopleLoad::new(1, workload);
        let load = PeopleLoad {
            prefix_cache: !args.no_prefix_cache,
            window_s: args.window_s,
            warmup_s: args.warmup_s.unwrap_or(defaults.warmup_s),
            seed: args.seed,
            ..defaults
        };
        answers.push((workload, max_people(&engine, &load, args.ceiling)));
    }
    let text = if args.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&json(&deployment, args, &answers))?
        )
    } else {
        report(&deployment, args, &answers)
    };
    crate::output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The workloads asked for, with the user's edits.
fn workloads(args: &PeopleArgs) -> anyhow::Result<Vec<Workload>> {
    let names: Vec<&str> = if args.workload == "all" {
        Workload::NAMES.to_vec()
    } else {
        args.workload.split(',').map(str::trim).collect()
    };
    names
        .into_iter()
        .map(|name| workload(name, &args.edits))
        .collect()
}

/// The workload called `name`, with the user's edits.
///
/// # Errors
/// An unknown name, or an edit that does not parse.
pub fn workload(name: &str, args: &WorkloadEditArgs) -> anyhow::Result<Workload> {
    let span = |flag: &str, text: &Option<String>| {
        text.as_deref()
            .map(|t| {
                t.parse::<Span>()
                    .map_err(|e| bad_input(format!("{flag} {e}")))
            })
            .transpose()
    };
    let edits = Edits {
        think_s: args.think_s,
        turns: span("--turns", &args.turns)?,
        answer_tokens: span("--answer-tokens", &args.answer_tokens)?,
        ttft_p95_s: args.ttft_p95_s,
        min_output_tok_s: args.min_output_tok_s,
    };
    for (flag, value) in [
        ("--think-s", args.think_s),
        ("--ttft-p95-s", args.ttft_p95_s),
        ("--min-output-tok-s", args.min_output_tok_s),
    ] {
        if value.is_some_and(|v| !v.is_finite() || v < 0.0) {
            return Err(bad_input(format!("{flag}: a number of 0 or more")));
        }
    }
    let path = std::path::Path::new(name);
    let base = if path.extension().is_some_and(|e| e == "json") || path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("--workload {name}: cannot read it: {e}")))?;
        Workload::from_json(&text).map_err(|e| bad_input(format!("--workload {name}: {e}")))?
    } else {
        Workload::preset(name).map_err(|e| bad_input(format!("--workload: {e}")))?
    };
    Ok(base.edited(&edits))
}

fn report(deployment: &str, args: &PeopleArgs, answers: &[(&Workload, MaxPeople)]) -> String {
    let mut out = format!(
        "People served — predicted by jauge's simulator (calibrated on published measurements), not measured\n\
         {deployment}; prefix caching {}\n\n",
        if args.no_prefix_cache { "off" } else { "on" }
    );
    let header = [
        "workload",
        " people",
        " requests in flight",
        " (Little's law)",
        " TTFT p95",
        " answer speed p5",
        " prefix cache hits",
        "objectives per person",
    ];
    let mut table = Vec::new();
    for (w, answer) in answers {
        let o = answer.served;
        table.push(vec![
            w.name.to_string(),
            answer.people.to_string(),
            o.map_or("—".into(), |o| format!("{:.1}", o.in_flight_mean)),
            o.map_or("—".into(), |o| format!("{:.1}", o.in_flight_littles_law)),
            o.and_then(|o| o.ttft_p95_s)
                .map_or("—".into(), |v| format!("{v:.2} s")),
            o.and_then(|o| o.output_tok_s_p5)
                .map_or("—".into(), |v| format!("{v:.1} tok/s")),
            o.and_then(|o| o.prefix_hit_rate)
                .map_or("—".into(), |v| format!("{:.0} %", v * 100.0)),
            format!(
                "TTFT p95 ≤ {} s, ≥ {} tok/s",
                w.ttft_p95_s, w.min_output_tok_s
            ),
        ]);
    }
    out.push_str(&crate::table::render(&header, &table));
    out.push('\n');
    for (w, answer) in answers {
        out.push_str(&format!("{}: {}\n", w.name, w.describe()));
        match answer.broken {
            Some(b) => out.push_str(&format!("  at {} people: {}\n", b.people, broken(w, &b))),
            None => out.push_str(&format!(
                "  still within the objectives at the search's ceiling ({} people; --ceiling)\n",
                args.ceiling
            )),
        }
    }
    out.push_str(&format!(
        "\nEach population was simulated for {} s after a warm-up; \"requests in flight\" is their time average, \
         beside what Little's law gives from the turns per second and their mean duration.\n",
        args.window_s
    ));
    out
}

fn broken(w: &Workload, o: &PeopleOutcome) -> String {
    let ttft = o
        .ttft_p95_s
        .map_or("no turn answered".into(), |v| format!("TTFT p95 {v:.2} s"));
    let speed = o
        .output_tok_s_p5
        .map_or(String::new(), |v| format!(", answer speed p5 {v:.1} tok/s"));
    format!(
        "{ttft}{speed} (objectives: ≤ {} s, ≥ {} tok/s)",
        w.ttft_p95_s, w.min_output_tok_s
    )
}

fn json(
    deployment: &str,
    args: &PeopleArgs,
    answers: &[(&Workload, MaxPeople)],
) -> serde_json::Value {
    let outcome = |o: &PeopleOutcome| {
        serde_json::json!({
            "people": o.people,
            "turns": o.turns,
            "ttft_p95_s": o.ttft_p95_s,
            "output_tok_s_p5": o.output_tok_s_p5,
            "requests_in_flight": o.in_flight_mean,
            "requests_in_flight_littles_law": o.in_flight_littles_law,
            "prefix_hit_rate": o.prefix_hit_rate,
            "output_tok_s": o.output_tok_s,
            "meets_objectives": o.meets,
        })
    };
    serde_json::json!({
        "source": "simulated",
        "deployment": deployment,
        "prefix_cache": !args.no_prefix_cache,
        "window_s": args.window_s,
        "workloads": answers.iter().map(|(w, a)| serde_json::json!({
            "workload": w.name,
            "people": a.people,
            "objectives": { "ttft_p95_s": w.ttft_p95_s, "min_output_tok_s": w.min_output_tok_s },
            // What was assumed, so that a reader can rerun it.
            "assumptions": {
                "described": w.describe(),
                "system_tokens": w.system_tokens,
                "user_tokens": [w.user_tokens.min, w.user_tokens.max],
                "answer_tokens": [w.answer_tokens.min, w.answer_tokens.max],
                "turns": [w.turns.min, w.turns.max],
                "think_s_mean": w.think_s,
                "documents": w.documents,
                "document_tokens": w.document_tokens,
            },
            "served": a.served.as_ref().map(outcome),
            "broken": a.broken.as_ref().map(outcome),
        })).collect::<Vec<_>>(),
    })
}

/// The people steps of a dataset, measured, each beside the simulator's prediction for the
/// same people (same draws, same warm-up and window) when the deployment is known, and the
/// most people served both ways.
pub fn measured_report(plan: &MeasurePlan, d: &jauge::dataset::Dataset) -> String {
    let Some((people_plan, described)) = plan.load.people.as_ref().zip(d.workload.people.as_ref())
    else {
        return String::new();
    };
    let w = &people_plan.workload;
    let predicted = plan.predicting_engine();
    let prefix_cache = predicted.as_ref().map_or(true, |p| p.1);
    let load = |people| PeopleLoad {
        people,
        workload: w.clone(),
        prefix_cache,
        warmup_s: described.warmup_s,
        window_s: described.window_s,
        seed: described.seed,
    };
    let mut steps: Vec<&jauge::dataset::Step> = d.steps.iter().collect();
    steps.sort_by_key(|s| s.concurrency);
    let rules = &plan.rules;
    let mut rows = Vec::new();
    for s in &steps {
        let measured_ok =
            jauge::objectives::judge(s, rules, None) == jauge::objectives::Verdict::Meets;
        let speed = s
            .latency
            .tpot_ms
            .and_then(|t| t.p95)
            .filter(|v| *v > 0.0)
            .map(|v| 1000.0 / v);
        let mut row = vec![
            s.concurrency.to_string(),
            s.people
                .map_or("—".into(), |p| format!("{:.1}", p.in_flight_mean)),
            s.people
                .map_or("—".into(), |p| format!("{:.1}", p.in_flight_littles_law)),
            s.latency
                .ttft_ms
                .and_then(|t| t.p95)
                .map_or("—".into(), |v| format!("{:.2} s", v / 1000.0)),
            speed.map_or("—".into(), |v| format!("{v:.1} tok/s")),
            s.server
                .as_ref()
                .and_then(|x| x.prefix_cache_hit_pct)
                .map_or("—".into(), |v| format!("{v:.0} %")),
            if measured_ok { "meets" } else { "breaks" }.into(),
        ];
        if let Ok((engine, ..)) = &predicted {
            let o = simulate_people(engine, &load(s.concurrency));
            row.extend([
                format!("{:.1}", o.in_flight_mean),
                o.ttft_p95_s.map_or("—".into(), |v| format!("{v:.2} s")),
                o.output_tok_s_p5
                    .map_or("—".into(), |v| format!("{v:.1} tok/s")),
                o.prefix_hit_rate
                    .map_or("—".into(), |v| format!("{:.0} %", v * 100.0)),
                if o.meets { "meets" } else { "breaks" }.into(),
            ]);
        }
        rows.push(row);
    }
    let mut header = vec![
        " people",
        " requests in flight",
        " (Little's law)",
        " TTFT p95",
        " answer speed p5",
        " prefix cache hits",
        " verdict",
    ];
    if predicted.is_ok() {
        header.extend([
            " predicted: in flight",
            " TTFT p95",
            " answer speed p5",
            " prefix cache hits",
            " verdict",
        ]);
    }
    let mut out = format!(
        "People served, measured ({} dataset) — the {} workload: {}\n\
         objectives per person: TTFT p95 ≤ {} s, answers at ≥ {} tok/s; each step {} s of warm-up, then {} s measured\n",
        d.source, w.name, w.describe(), w.ttft_p95_s, w.min_output_tok_s, described.warmup_s, described.window_s
    );
    out.push_str(&crate::table::render(&header, &rows));
    let limit = d.limits.first();
    let served = limit.and_then(|l| l.max_concurrency_ok);
    let measured_line = match (limit, served) {
        (Some(l), Some(n)) => format!(
            "most people served, measured: {n}{}",
            l.stopped_at_concurrency.map_or_else(
                || match plan.load.grid {
                    crate::plan::Grid::Searched => " (the search's ceiling held)".to_string(),
                    _ => " (every population measured met them)".to_string(),
                },
                |b| format!(" (breaks at {b})")
            )
        ),
        (Some(l), None) => format!(
            "most people served, measured: none{}",
            l.stopped_at_concurrency.map_or(String::new(), |b| format!(
                " (the smallest population measured, {b}, breaks)"
            ))
        ),
        (None, _) => String::new(),
    };
    out.push_str(&format!("\n{measured_line}\n"));
    match predicted {
        Ok((engine, _, whose)) if plan.load.grid == crate::plan::Grid::Searched => {
            let ceiling = plan.load.max_streams.max(1);
            let answer = max_people(&engine, &load(1), ceiling);
            out.push_str(&format!(
                "most people served, predicted by jauge's simulator for {whose}: {}{}\n",
                answer.people,
                if answer.broken.is_none() {
                    " (the search's ceiling held)"
                } else {
                    ""
                }
            ));
        }
        Ok(_) => {}
        Err(why) => out.push_str(&format!("no prediction beside it: {why}\n")),
    }
    out
}
