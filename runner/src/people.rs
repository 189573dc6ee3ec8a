//! `jauge people`: how many people a deployment serves, per workload, from the simulator.

use std::process::ExitCode;

use jauge::people::{Edits, Span, Workload};
use jauge::sim::{engine_for, max_people, MaxPeople, PeopleLoad, PeopleOutcome};
use jauge::sizing::engines::Engine;
use jauge::sizing::size;

use crate::cli::PeopleArgs;
use crate::exit::bad_input;
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
        let load = PeopleLoad {
            prefix_cache: !args.no_prefix_cache,
            window_s: args.window_s,
            seed: args.seed,
            ..PeopleLoad::new(1, workload)
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
    let edits = Edits {
        think_s: args.think_s,
        turns: args.turns.as_deref().map(parse_span).transpose()?,
        answer_tokens: None,
        ttft_p95_s: args.ttft_p95_s,
        min_output_tok_s: args.min_output_tok_s,
    };
    names
        .into_iter()
        .map(|name| {
            Workload::preset(name)
                .map(|w| w.edited(&edits))
                .map_err(|e| bad_input(format!("--workload: {e}")))
        })
        .collect()
}

fn parse_span(text: &str) -> anyhow::Result<Span> {
    text.parse()
        .map_err(|e: String| bad_input(format!("--turns {e}")))
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
