//! `jauge people`: the most people per workload, from the simulator, with the requests in
//! flight they imply beside them.

use std::process::{Command, Output};

use serde_json::Value;

fn jauge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jauge"))
        .args(args)
        .output()
        .unwrap()
}

const MISTRAL_ON_A100: [&str; 5] = [
    "people",
    "--catalog-model",
    "mistral-7b-v0.1",
    "--gpu",
    "a100-40gb",
];

fn people_json(extra: &[&str]) -> Value {
    let mut args = MISTRAL_ON_A100.to_vec();
    args.extend_from_slice(&["--json", "--window-s", "300"]);
    args.extend_from_slice(extra);
    let o = jauge(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn people_with_think_time_outnumber_their_requests_in_flight() {
    let v = people_json(&["--workload", "chat,fixed"]);
    assert_eq!(v["source"], "simulated");
    let by_name = |name: &str| {
        v["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["workload"] == name)
            .unwrap()
            .clone()
    };
    let (chat, fixed) = (by_name("chat"), by_name("fixed"));
    // The assumptions travel with the answer.
    let assumed = &chat["assumptions"];
    assert_eq!(assumed["think_s_mean"], 30.0);
    assert_eq!(assumed["turns"], serde_json::json!([3, 8]));
    assert!(assumed["described"]
        .as_str()
        .unwrap()
        .contains("500-token system prompt"));
    let people = chat["people"].as_u64().unwrap();
    let in_flight = chat["served"]["requests_in_flight"].as_f64().unwrap();
    assert!(people as f64 > 1.5 * in_flight, "{chat}");
    // Little's law and the time average tell the same story.
    let little = chat["served"]["requests_in_flight_littles_law"]
        .as_f64()
        .unwrap();
    assert!((little - in_flight).abs() / in_flight < 0.15, "{chat}");
    // Fixed requests sent back to back: a person is a request in flight.
    let fixed_people = fixed["people"].as_f64().unwrap();
    let fixed_in_flight = fixed["served"]["requests_in_flight"].as_f64().unwrap();
    assert!(
        (fixed_people - fixed_in_flight).abs() / fixed_people < 0.05,
        "{fixed}"
    );
    // The search's two ends: served within the objectives, one more person breaks one.
    assert_eq!(chat["served"]["meets_objectives"], true);
    assert_eq!(chat["broken"]["meets_objectives"], false);
    assert_eq!(chat["broken"]["people"].as_u64(), Some(people + 1));
}

#[test]
fn code_completions_reuse_their_file_unless_the_cache_is_off() {
    let cached = people_json(&["--workload", "code"]);
    let uncached = people_json(&["--workload", "code", "--no-prefix-cache"]);
    let hits = cached["workloads"][0]["served"]["prefix_hit_rate"]
        .as_f64()
        .unwrap();
    assert!(hits > 0.5, "{cached}");
    assert_eq!(uncached["prefix_cache"], false);
    assert!(uncached["workloads"][0]["served"]["prefix_hit_rate"].is_null());
    assert!(
        cached["workloads"][0]["people"].as_u64() > uncached["workloads"][0]["people"].as_u64()
    );
}

#[test]
fn the_table_says_predicted_and_states_its_assumptions() {
    let o = jauge(&MISTRAL_ON_A100);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("predicted by jauge's simulator"), "{text}");
    assert!(text.contains("not measured"));
    for name in ["fixed", "chat", "rag", "code"] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} row in {text}"
        );
    }
    assert!(text.contains("30 s between an answer and the next request on average"));
}

#[test]
fn bad_input_is_named() {
    for (args, says) in [
        (&["--workload", "gossip"][..], "unknown workload `gossip`"),
        (&["--turns", "5-2"][..], "--turns `5-2`"),
        (&["--turns", "x"][..], "--turns `x`"),
        (&["--engine", "sglang"][..], "--engine sglang"),
    ] {
        let mut all = MISTRAL_ON_A100.to_vec();
        all.extend_from_slice(args);
        let o = jauge(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

mod common;
use common::{dir, text};

#[test]
fn people_flags_that_do_not_apply_are_refused() {
    for (extra, says) in [
        (
            &["--rate", "2"][..],
            "--rate does not apply with --workload",
        ),
        (
            &["--requests-per-step", "9"][..],
            "--requests-per-step does not apply",
        ),
        (&["--answer-tokens", "9-3"][..], "--answer-tokens"),
        (&["--trace", "t.jsonl"][..], "cannot be used with"),
    ] {
        let mut args = vec!["run", "--workload", "chat"];
        args.extend_from_slice(extra);
        let o = jauge(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{extra:?}: {}", text(&o));
    }
    let o = jauge(&["run", "--workload", "gossip"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("unknown workload `gossip`"),
        "{}",
        text(&o)
    );
    let o = jauge(&["limit", "--max-concurrency", "4"]);
    assert!(text(&o).contains("or --workload"), "{}", text(&o));
}

/// The built-in server caches prompt blocks by their tokens: a chat's second turn, which
/// resends the first turn and the answer the server wrote, finds them; without the cache it
/// computes everything again.
#[tokio::test]
async fn the_built_in_server_finds_a_chats_history_in_its_prefix_cache() {
    use jauge_runner::serve_sim::{SimOptions, SimServer};
    for prefix_cache in [true, false] {
        let server = SimServer::start(
            &SimOptions {
                time_scale: 50.0,
                prefix_cache,
                ..SimOptions::default()
            },
            0,
        )
        .await
        .unwrap();
        let url = server.url();
        let http = reqwest::Client::new();
        let system = "you are a helpful assistant ".repeat(40);
        let chat = |messages: Value| {
            http.post(format!("{url}/v1/chat/completions"))
                .header("content-type", "application/json")
                .body(
                    serde_json::json!({"model": "m", "messages": messages, "max_tokens": 40})
                        .to_string(),
                )
                .send()
        };
        let first = serde_json::json!([
            {"role": "system", "content": system},
            {"role": "user", "content": "tell me about gauges"},
        ]);
        let answer: Value =
            serde_json::from_slice(&chat(first.clone()).await.unwrap().bytes().await.unwrap())
                .unwrap();
        let answer = answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string();
        let mut second = first.as_array().unwrap().clone();
        second.push(serde_json::json!({"role": "assistant", "content": answer}));
        second.push(serde_json::json!({"role": "user", "content": "and about jauges"}));
        chat(Value::Array(second))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let metrics = http
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let counter = |name: &str| {
            metrics
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
        };
        let hits = counter("vllm:prefix_cache_hits_total");
        if prefix_cache {
            // The first turn: 200 words of system prompt and its template, 4 words of question,
            // 40 of answer: 252 tokens, of which 15 full blocks are cached and reused.
            assert_eq!(hits, Some(15.0 * 16.0), "{metrics}");
            assert!(counter("vllm:prefix_cache_queries_total").unwrap() > 15.0 * 16.0);
        } else {
            assert_eq!(hits, Some(0.0), "{metrics}");
        }
        server.stop();
    }
}

/// A workload can be a file that changes a preset; a misspelt field is refused, not ignored.
#[test]
fn a_workload_file_changes_a_preset() {
    let d = dir("workload-file");
    let good = d.join("small-rag.json");
    std::fs::write(
        &good,
        r#"{"workload": "rag", "documents": 20, "document_tokens": 1000, "think_s": 20}"#,
    )
    .unwrap();
    let v = people_json(&["--workload", good.to_str().unwrap()]);
    let w = &v["workloads"][0];
    assert_eq!(w["workload"], "rag");
    assert_eq!(w["assumptions"]["documents"], 20);
    assert_eq!(w["assumptions"]["document_tokens"], 1000);
    assert_eq!(w["assumptions"]["think_s_mean"], 20.0);
    let bad = d.join("typo.json");
    std::fs::write(&bad, r#"{"workload": "rag", "document": 20}"#).unwrap();
    let mut args = MISTRAL_ON_A100.to_vec();
    args.extend(["--workload", bad.to_str().unwrap()]);
    let o = jauge(&args);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown field `document`"), "{err}");
}
