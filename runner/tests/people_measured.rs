//! People measured on the built-in server against the simulator's prediction for the same
//! people. A test binary of its own: the built-in server keeps real time only when no other test
//! of its binary (the simulator's searches) takes the two cores meanwhile.

use std::process::{Command, Output};

mod common;
use common::{dataset, dir, records, text};

fn jauge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jauge"))
        .args(args)
        .output()
        .unwrap()
}

/// The population the measured tests use: Mistral-7B on an A10G, people chatting with 1 s
/// between turns and short answers, objectives tight enough that a few dozen people fill it.
const SMALL_CHAT: [&str; 16] = [
    "--catalog-model",
    "mistral-7b-v0.3",
    "--gpu",
    "a10g",
    "--workload",
    "chat",
    "--think-s",
    "1",
    "--turns",
    "2-4",
    "--answer-tokens",
    "20-60",
    "--ttft-p95-s",
    "0.3",
    "--seed",
    "0",
];

/// The simulator's answer for [`SMALL_CHAT`] with a 10 s warm-up and a 30 s window.
fn predicted_small_chat() -> (jauge::sim::EngineConfig, jauge::sim::PeopleLoad, u32) {
    let cat = jauge::catalogue::Catalogue::builtin();
    let request = jauge::sizing::SizingRequest::new(
        cat.model("mistral-7b-v0.3").unwrap(),
        cat.gpu("a10g").unwrap(),
    );
    let engine = jauge::sim::engine_for(&request).unwrap();
    let workload = jauge::people::Workload::preset("chat")
        .unwrap()
        .edited(&jauge::people::Edits {
            think_s: Some(1.0),
            turns: Some("2-4".parse().unwrap()),
            answer_tokens: Some("20-60".parse().unwrap()),
            ttft_p95_s: Some(0.3),
            min_output_tok_s: None,
        });
    let load = jauge::sim::PeopleLoad {
        warmup_s: 10.0,
        window_s: 30.0,
        ..jauge::sim::PeopleLoad::new(1, &workload)
    };
    let people = jauge::sim::max_people(&engine, &load, 1000).people;
    (engine, load, people)
}

/// The check, kept fast: people measured on the built-in server (the same scheduler in
/// real time, 5× faster, people thinking 5× faster) against the simulator's prediction. A
/// population a step of the search below the predicted most (−30 %) meets the objectives, one
/// a step above (+30 %) breaks them; and at each, the requests the people kept in flight are
/// what the simulator predicts for the same people.
#[test]
fn measured_people_on_the_built_in_server_agree_with_the_prediction() {
    let (engine, load, predicted) = predicted_small_chat();
    assert!((15..200).contains(&predicted), "{predicted}");
    let below = (f64::from(predicted) * 0.7).round() as u32;
    let above = (f64::from(predicted) * 1.3).round() as u32;
    let out = dir("people-measured").join("chat.json");
    let mut args = vec!["run"];
    args.extend(SMALL_CHAT);
    let grid = format!("{below},{above}");
    args.extend([
        "--concurrency",
        &grid,
        "--warmup-time",
        "10s",
        "--duration-per-step",
        "30s",
        "--time-scale",
        "5",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    let o = jauge(&args);
    assert!(o.status.success(), "{}", text(&o));
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(report.contains("People served, measured"), "{report}");
    assert!(report.contains("predicted: in flight"), "{report}");
    let d = dataset(&out);
    let people = d.workload.people.as_ref().expect("a people dataset");
    assert_eq!((people.name.as_str(), people.window_s), ("chat", 30.0));
    assert!(d.notes.iter().any(|n| n.contains("multiplied back by 5")));
    let rules = jauge::people::Workload::preset("chat")
        .unwrap()
        .edited(&jauge::people::Edits {
            ttft_p95_s: Some(0.3),
            ..Default::default()
        })
        .rules();
    for step in &d.steps {
        let verdict = jauge::objectives::judge(step, &rules, None);
        let meets = verdict == jauge::objectives::Verdict::Meets;
        assert_eq!(
            meets,
            step.concurrency == below,
            "{} people: {verdict:?}",
            step.concurrency
        );
        let measured = step.people.expect("requests in flight").in_flight_mean;
        let simulated = jauge::sim::simulate_people(
            &engine,
            &jauge::sim::PeopleLoad {
                people: step.concurrency,
                ..load.clone()
            },
        )
        .in_flight_mean;
        assert!(
            (measured - simulated).abs() / simulated < 0.15,
            "{} people: {measured:.1} in flight measured, {simulated:.1} predicted",
            step.concurrency
        );
        // Chats resend their history: the built-in server's prefix cache finds most of it.
        let hits = step.server.as_ref().and_then(|s| s.prefix_cache_hit_pct);
        assert!(hits.is_some_and(|h| h > 60.0), "{hits:?}");
    }
    assert_eq!(d.steps.len(), 2);
    // Every turn of a person's conversation is in the request log, the history growing.
    let turns = records(&out);
    assert!(turns.iter().all(|r| r.get("answer_text").is_none()));
}
