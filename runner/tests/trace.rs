//! Trace replay: a trace's requests sent at their times with their lengths, measured against
//! the built-in server and replayed by the simulator.

use std::process::{Command, Output};

mod common;
use common::{dataset, dir, records, text, JAUGE};

fn jauge(args: &[&str]) -> Output {
    Command::new(JAUGE).args(args).output().unwrap()
}

const TRACES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/traces");

/// Each request leaves when the trace says (its intended time exactly, its actual one a few
/// milliseconds after) with the trace's input and output lengths, which the built-in server's
/// counts confirm.
#[test]
fn a_replay_reproduces_the_traces_arrivals_and_lengths() {
    for (file, scale) in [("jauge-sample.jsonl", "4"), ("mooncake-sample.jsonl", "16")] {
        let path = format!("{TRACES}/{file}");
        let trace = jauge::trace::Trace::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let out = dir(&format!("trace-{scale}")).join("replay.json");
        let o = jauge(&[
            "run",
            "--trace",
            &path,
            "--time-scale",
            scale,
            "-q",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let report = String::from_utf8_lossy(&o.stdout);
        assert!(report.contains("Trace replay"), "{report}");
        assert!(report.contains(" predicted"), "{report}");
        let d = dataset(&out);
        assert!(d.workload.lengths_from.as_deref().unwrap().contains(file));
        let step = &d.steps[0];
        assert_eq!(step.requests.unwrap().completed as usize, trace.len());
        let mut log = records(&out);
        log.sort_by_key(|r| r["index"].as_u64());
        assert_eq!(log.len(), trace.len());
        for (r, t) in log.iter().zip(&trace.requests) {
            let intended = r["intended_ms"].as_f64().unwrap();
            let sent = r["sent_ms"].as_f64().unwrap();
            assert!((intended - t.at_s * 1000.0).abs() < 0.01, "{r}");
            // Loaded CI machines are late by a few milliseconds (times the scale).
            assert!((0.0..500.0).contains(&(sent - intended)), "{r}");
            assert_eq!(
                r["usage_prompt_tokens"].as_u64(),
                Some(u64::from(t.input_tokens))
            );
            assert_eq!(
                r["usage_output_tokens"].as_u64(),
                Some(u64::from(t.output_tokens))
            );
        }
    }
}

/// The simulator replays the same trace: every arrival at its time, every length as given.
#[test]
fn the_simulator_replays_a_trace_exactly() {
    let trace = jauge::trace::Trace::parse(
        &std::fs::read_to_string(format!("{TRACES}/azure-code-sample.csv")).unwrap(),
    )
    .unwrap();
    let cat = jauge::catalogue::Catalogue::builtin();
    let r = jauge::sizing::SizingRequest::new(
        cat.model("mistral-7b-v0.1").unwrap(),
        cat.gpu("a100-40gb").unwrap(),
    );
    let engine = jauge::sim::engine_for(&r).unwrap();
    let mut replayed = jauge::sim::simulate_trace(&engine, &trace, true);
    replayed.sort_by_key(|r| r.index);
    assert_eq!(replayed.len(), trace.len());
    for (r, t) in replayed.iter().zip(&trace.requests) {
        assert_eq!(r.sent_ms, t.at_s * 1000.0);
        assert_eq!(
            (r.prompt_tokens, r.output_tokens()),
            (t.input_tokens, t.output_tokens)
        );
        assert!(r.ttft_ms().unwrap() > 0.0);
    }
}

#[test]
fn a_bad_trace_is_refused_with_its_line() {
    let d = dir("trace-bad");
    let bad = d.join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 5}\n{\"timestamp\": 5}\n",
    )
    .unwrap();
    for (args, says) in [
        (vec!["--trace", bad.to_str().unwrap()], "line 2"),
        (
            vec!["--trace", "/nonexistent/trace.jsonl"],
            "cannot read it",
        ),
        (
            vec!["--trace", bad.to_str().unwrap(), "--trace-format", "yaml"],
            "--trace-format",
        ),
    ] {
        let mut all = vec!["run"];
        all.extend(args.iter().copied());
        let o = jauge(&all);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(says), "{says}: {}", text(&o));
    }
}
