//! `jauge run` end to end against the built-in simulated server, over loopback.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use jauge::dataset::{ErrorKind, LimitReason, RunStatus, Source};
use serde_json::Value;

mod common;
use common::{dataset, dir, interrupt, records, serve_sim, text, wait_for_a_step, JAUGE};

/// A quick run: tiny prompts and outputs, the simulated GPU 20× faster than real time.
fn run(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--out",
        out.to_str().unwrap(),
        "--time-scale",
        "20",
        "--output-tokens",
        "8",
        "--warmup",
        "1",
        "-q",
    ];
    if !extra.contains(&"--concurrency") {
        args.extend(["--concurrency", "1,2,4"]);
    }
    if !extra.contains(&"--prompt-tokens") {
        args.extend(["--prompt-tokens", "16,64"]);
    }
    args.extend(extra);
    Command::new(JAUGE).args(&args).output().unwrap()
}

#[test]
fn a_sweep_writes_a_valid_dataset_that_agrees_with_its_records() {
    let out = dir("sweep").join("sweep.json");
    let o = run(&out, &["--full-grid"]);
    assert!(o.status.success(), "{}", text(&o));
    let d = dataset(&out);
    assert_eq!(d.source, Source::Simulated);
    assert_eq!(d.status, RunStatus::Complete);
    assert_eq!(d.steps.len(), 6);
    assert!(d
        .limits
        .iter()
        .all(|l| l.reason == LimitReason::GridEnd && l.max_concurrency_ok == Some(4)));
    assert!(d.notes.iter().any(|n| n.contains("Simulated")));
    let telemetry = d.gpu_telemetry.as_ref().unwrap();
    assert_eq!(
        telemetry.status,
        jauge::dataset::TelemetryStatus::Unavailable
    );
    assert_eq!(
        telemetry.reason.as_deref(),
        Some("the built-in simulated server uses no GPU")
    );
    for step in &d.steps {
        let server = step
            .server
            .as_ref()
            .expect("the simulated server's /metrics were scraped");
        // Steps this short can fall between two 1 Hz scrapes: the block is there, its peaks
        // may be the idle values (the preemption test checks values read mid-step).
        assert!(
            server.kv_cache_usage_pct_peak.is_some() && server.running_peak.is_some(),
            "{server:?}"
        );
        assert!(step.client.is_some());
        assert!(step.gpu.is_none() && step.energy_j_per_output_token.is_none());
    }
    let records = records(&out);
    for step in &d.steps {
        let mine: Vec<&Value> = records
            .iter()
            .filter(|r| {
                r["concurrency"] == step.concurrency
                    && r["prompt_tokens"] == step.prompt_tokens
                    && r["warmup"] == false
            })
            .collect();
        assert_eq!(mine.len() as u32, step.requests.unwrap().sent);
        assert_eq!(
            step.requests.unwrap().completed,
            step.requests.unwrap().sent,
            "no faults injected"
        );
        // Prompts are exact (token ids from /tokenize) and outputs forced.
        let counts = step.token_counts.unwrap();
        assert_eq!(counts.prompt_tokens_mean, f64::from(step.prompt_tokens));
        assert_eq!(counts.output_tokens_mean, 8.0);
        for r in &mine {
            assert_eq!(r["usage_prompt_tokens"], step.prompt_tokens);
            assert_eq!(r["usage_output_tokens"], 8);
            assert_eq!(r["chunks"], 8);
        }
        // Throughput × duration gives back the tokens the records hold.
        let tokens: f64 = mine
            .iter()
            .map(|r| r["usage_output_tokens"].as_f64().unwrap())
            .sum();
        assert!(
            (step.throughput.output_tok_s.unwrap() * step.duration_s.unwrap() - tokens).abs()
                < 1e-6 * tokens.max(1.0)
        );
        let e2e_max = mine
            .iter()
            .map(|r| r["end_ms"].as_f64().unwrap() - r["sent_ms"].as_f64().unwrap())
            .fold(0.0, f64::max);
        assert_eq!(step.latency.e2e_ms.unwrap().max, Some(e2e_max));
    }
    let printed = text(&o);
    assert!(printed.contains("max users held"), "{printed}");
    let v = Command::new(JAUGE)
        .args(["validate", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(v.status.success());
}

#[test]
fn every_fault_kind_is_recorded_and_stops_the_row() {
    let cases: &[(&[&str], ErrorKind, LimitReason)] = &[
        (
            &["--fault", "http-500:1"],
            ErrorKind::ServerError,
            LimitReason::Errors,
        ),
        (
            &["--fault", "http-503:1"],
            ErrorKind::ServerError,
            LimitReason::Errors,
        ),
        (
            &["--fault", "http-429:1"],
            ErrorKind::RateLimited,
            LimitReason::Errors,
        ),
        (
            &["--fault", "context:1"],
            ErrorKind::ContextLength,
            LimitReason::ContextLength,
        ),
        (
            &["--fault", "reset:1"],
            ErrorKind::Truncated,
            LimitReason::Errors,
        ),
        (
            &["--fault", "malformed:1"],
            ErrorKind::MalformedStream,
            LimitReason::Errors,
        ),
        (
            &["--fault", "stall:1:5s", "--timeout", "1s"],
            ErrorKind::Timeout,
            LimitReason::Errors,
        ),
    ];
    let base = dir("faults");
    for (i, (flags, kind, reason)) in cases.iter().enumerate() {
        let out = base.join(format!("fault-{i}.json"));
        let mut args = flags.to_vec();
        args.extend(["--prompt-tokens", "16", "--requests-per-step", "2"]);
        let o = run(&out, &args);
        assert!(o.status.success(), "{flags:?}: {}", text(&o));
        let d = dataset(&out);
        let step = &d.steps[0];
        assert_eq!(step.requests.unwrap().failed, 2, "{flags:?}");
        assert_eq!(
            step.errors.get(kind),
            Some(&2),
            "{flags:?}: {:?}",
            step.errors
        );
        assert!(step.error_messages.contains_key(kind));
        assert_eq!(d.limits[0].reason, *reason, "{flags:?}");
        assert_eq!(d.limits[0].stopped_at_concurrency, Some(1));
        assert_eq!(d.steps.len(), 1, "the row stopped at its first step");
        assert!(text(&o).contains("Errors"), "the error table is printed");
    }
}

#[test]
fn a_server_that_dies_ends_the_rows_and_keeps_finished_steps() {
    let out = dir("die").join("die.json");
    // 1 warm-up + 4 + 4 requests in the first row; the 9th request kills the server.
    let o = run(&out, &["--die-after", "9", "--requests-per-step", "4"]);
    assert!(o.status.success(), "{}", text(&o));
    let d = dataset(&out);
    assert_eq!(
        d.steps[0].requests.unwrap().completed,
        4,
        "the step before the death is kept"
    );
    let second_row = d.limits.iter().find(|l| l.prompt_tokens == 64).unwrap();
    assert_eq!(second_row.reason, LimitReason::ServerDown, "{:?}", d.limits);
    assert_eq!(d.status, RunStatus::Complete);
}

#[test]
fn ctrl_c_keeps_finished_steps_and_resume_completes_the_run() {
    let out = dir("interrupt").join("int.json");
    let args = [
        "run",
        "--out",
        out.to_str().unwrap(),
        "--time-scale",
        "5",
        "--output-tokens",
        "16",
        "--warmup",
        "0",
        "--concurrency",
        "1,2,4,8",
        "--prompt-tokens",
        "16,32",
        "--full-grid",
        "-q",
    ];
    let mut child = Command::new(JAUGE)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_a_step(&out);
    interrupt(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let interrupted = dataset(&out);
    assert_eq!(interrupted.status, RunStatus::Interrupted);
    let kept = interrupted.steps.len();
    assert!((1..8).contains(&kept), "{kept} steps");

    let mut resumed: Vec<&str> = args.to_vec();
    resumed.push("--resume");
    let o = Command::new(JAUGE).args(&resumed).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let done = dataset(&out);
    assert_eq!(done.status, RunStatus::Complete);
    assert_eq!(done.steps.len(), 8);
    assert_eq!(
        done.steps[..kept],
        interrupted.steps[..],
        "finished steps are kept as they were"
    );
    // The request log holds the cut step's records too, flagged, so that what is left is
    // exactly what the dataset summarises.
    let log = records(&out);
    for step in &done.steps {
        let kept_records = log
            .iter()
            .filter(|r| {
                r["concurrency"] == step.concurrency
                    && r["prompt_tokens"] == step.prompt_tokens
                    && r["warmup"] == false
                    && r.get("interrupted").is_none()
            })
            .count();
        assert_eq!(
            kept_records as u32,
            step.requests.unwrap().sent,
            "records of step {} × {}",
            step.concurrency,
            step.prompt_tokens
        );
    }

    let mut different = resumed.clone();
    let at = different.iter().position(|a| *a == "1,2,4,8").unwrap();
    different[at] = "1,2";
    let o = Command::new(JAUGE).args(&different).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("--concurrency was [1, 2, 4, 8], now [1, 2]"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_existing_dataset_is_never_overwritten() {
    let out = dir("exists").join("x.json");
    std::fs::write(&out, "keep me").unwrap();
    let o = run(&out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("pass --resume"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
}

#[test]
fn prompts_beyond_the_context_are_skipped_not_sent() {
    let out = dir("context").join("ctx.json");
    let o = run(&out, &["--max-model-len", "40"]);
    assert!(o.status.success(), "{}", text(&o));
    let d = dataset(&out);
    let row = d.limits.iter().find(|l| l.prompt_tokens == 64).unwrap();
    assert_eq!(row.reason, LimitReason::ContextLength);
    assert!(row
        .detail
        .as_deref()
        .unwrap()
        .starts_with("skipped: 64 prompt + 8 output tokens exceed"));
    assert!(d.steps.iter().all(|s| s.prompt_tokens == 16));
    assert!(records(&out).iter().all(|r| r["prompt_tokens"] == 16));
}

#[test]
fn open_loop_and_chat_runs_work() {
    let base = dir("modes");
    let out = base.join("rate.json");
    let o = run(
        &out,
        &[
            "--rate",
            "40",
            "--arrival",
            "constant",
            "--prompt-tokens",
            "16",
            "--full-grid",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let d = dataset(&out);
    assert_eq!(d.workload.rate_rps, Some(40.0));
    assert!(d
        .steps
        .iter()
        .all(|s| s.requests.unwrap().completed == s.requests.unwrap().sent));
    assert!(d
        .steps
        .iter()
        .all(|s| s.latency.ttft_from_intended_ms.unwrap().p50.unwrap()
            >= s.latency.ttft_ms.unwrap().p50.unwrap() - 1e-9));

    let out = base.join("chat.json");
    let o = run(
        &out,
        &[
            "--endpoint",
            "chat",
            "--prompt-tokens",
            "16",
            "--concurrency",
            "1",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let counts = dataset(&out).steps[0].token_counts.unwrap();
    // 16 tokens of text counted by /tokenize, plus the simulated chat template's 4 + 2.
    assert_eq!(counts.prompt_tokens_mean, 22.0);
    let notes = dataset(&out).notes;
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("Prompt tokens: asked 16, the server counted 22.0")),
        "{notes:?}"
    );
}

/// A reasoning model's stream: the reasoning counts for the first token and the gaps (as
/// vLLM's benchmark counts it), the answer's first token is timed apart, and the reasoning
/// chunks are counted — on the chat endpoint (`reasoning_content` deltas) and on completions
/// (`<think>` text).
#[test]
fn a_reasoning_models_first_answer_token_is_timed_apart() {
    let base = dir("reasoning");
    for endpoint in ["chat", "completions"] {
        let out = base.join(format!("{endpoint}.json"));
        let o = run(
            &out,
            &[
                "--endpoint",
                endpoint,
                "--reasoning-tokens",
                "5",
                "--concurrency",
                "2",
                "--prompt-tokens",
                "16",
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        let step = dataset(&out).steps[0].clone();
        let counts = step.token_counts.unwrap();
        assert_eq!(counts.reasoning_chunks_mean, Some(5.0), "{endpoint}");
        assert_eq!(counts.output_tokens_mean, 8.0);
        let (ttft, answer) = (
            step.latency.ttft_ms.unwrap(),
            step.latency.ttft_answer_ms.unwrap(),
        );
        assert!(answer.p50.unwrap() > ttft.p50.unwrap(), "{endpoint}");
        // Every token is a gap after the first, reasoning included.
        assert_eq!(
            step.latency.itl_ms.unwrap().count,
            Some(step.requests.unwrap().completed * 7)
        );
        for r in records(&out).iter().filter(|r| r["warmup"] != true) {
            assert_eq!(
                (r["reasoning_chunks"].as_u64(), r["chunks"].as_u64()),
                (Some(5), Some(8))
            );
            assert!(r["first_answer_ms"].as_f64().unwrap() > r["first_token_ms"].as_f64().unwrap());
        }
    }
    // `jauge show` says when the answer began.
    let shown = Command::new(JAUGE)
        .args(["show", base.join("chat.json").to_str().unwrap()])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("Reasoning (TTFT above counts the first reasoning token)"),
        "{shown}"
    );
    assert!(
        shown.contains("after 5.0 reasoning chunks a request on average"),
        "{shown}"
    );
    // Without reasoning nothing is added to the dataset.
    let plain = base.join("plain.json");
    assert!(
        run(&plain, &["--concurrency", "1", "--prompt-tokens", "16"])
            .status
            .success()
    );
    let step = dataset(&plain).steps[0].clone();
    assert_eq!(step.token_counts.unwrap().reasoning_chunks_mean, None);
    assert_eq!(step.latency.ttft_answer_ms, None);
    let shown = Command::new(JAUGE)
        .args(["show", plain.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&shown.stdout).contains("Reasoning"));
    // The flag is the built-in server's.
    let o = run(
        &base.join("url.json"),
        &["--url", "http://127.0.0.1:9", "--reasoning-tokens", "3"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--reasoning-tokens"));
}

/// An open loop sends each request at the due time the simulator draws for the same step
/// (`jauge::pacing`), so a measured and a simulated step of one mode send the same load; an
/// infinite rate is the closed loop of --concurrency.
#[test]
fn open_loop_due_times_are_the_simulators() {
    let base = dir("pacing");
    let out = base.join("poisson.json");
    let o = run(
        &out,
        &[
            "--rate",
            "25",
            "--arrival",
            "poisson",
            "--concurrency",
            "8",
            "--prompt-tokens",
            "16",
            "--requests-per-step",
            "12",
            "--seed",
            "7",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut intended: Vec<f64> = records(&out)
        .iter()
        .filter(|r| r["warmup"] == Value::Bool(false))
        .map(|r| r["intended_ms"].as_f64().unwrap())
        .collect();
    intended.sort_by(f64::total_cmp);
    let pacing = jauge::pacing::Pacing::open(25.0, jauge::dataset::Arrival::Poisson).unwrap();
    let due = pacing.due_times(12, jauge::pacing::step_seed(7, 8, 16));
    assert_eq!(intended.len(), due.len());
    for (measured, drawn) in intended.iter().zip(&due) {
        // Both count from the step's start; the runner's clock starts a hair before.
        assert!(
            (measured - intended[0] - drawn * 1000.0).abs() < 0.01,
            "{intended:?} vs {due:?}"
        );
    }
    let d = dataset(&out);
    assert_eq!(d.steps[0].rate_rps, Some(25.0));

    let out = base.join("inf.json");
    let o = run(
        &out,
        &[
            "--rate",
            "inf",
            "--concurrency",
            "4",
            "--prompt-tokens",
            "16",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let d = dataset(&out);
    assert_eq!((d.workload.rate_rps, d.steps[0].rate_rps), (None, None));
}

#[test]
fn secrets_never_reach_the_dataset_the_records_or_the_terminal() {
    let base = dir("secrets");
    let (server, url) = serve_sim(&["--time-scale", "20"]);
    let with_password = url.replace("http://", "http://admin:hunter2pw@");
    let out = base.join("s.json");
    let o = Command::new(JAUGE)
        .env("JAUGE_TEST_KEY", "sk-very-secret-123")
        .args([
            "run",
            "--url",
            &with_password,
            "--api-key-env",
            "JAUGE_TEST_KEY",
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--concurrency",
            "1",
            "--prompt-tokens",
            "16",
            "--output-tokens",
            "4",
            "--warmup",
            "0",
        ])
        .output()
        .unwrap();
    let unreachable = Command::new(JAUGE)
        .env("JAUGE_TEST_KEY", "sk-very-secret-123")
        .args([
            "run",
            "--url",
            "http://admin:hunter2pw@127.0.0.1:9",
            "--api-key-env",
            "JAUGE_TEST_KEY",
        ])
        .args(["--out", base.join("never.json").to_str().unwrap()])
        .output()
        .unwrap();
    drop(server);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(unreachable.status.code(), Some(1), "{}", text(&unreachable));
    assert!(
        text(&unreachable).contains("admin:***@127.0.0.1:9"),
        "{}",
        text(&unreachable)
    );
    let everything = [
        text(&o),
        text(&unreachable),
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(base.join("s.requests.jsonl")).unwrap(),
    ]
    .join("\n");
    for secret in ["sk-very-secret-123", "hunter2pw"] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    let d = dataset(&out);
    assert_eq!(
        d.source,
        Source::Measured,
        "a server given by --url is measured"
    );
}

/// A child process stopped when the test ends, even when it fails.
#[test]
fn a_local_tokenizer_makes_exact_prompts() {
    let base = dir("tokenizer");
    let tokenizer =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-tokenizer.json");
    let tokenizer = tokenizer.to_str().unwrap();
    for (endpoint, expected) in [("completions", 16.0), ("chat", 22.0)] {
        let out = base.join(format!("{endpoint}.json"));
        let o = run(
            &out,
            &[
                "--tokenizer",
                tokenizer,
                "--endpoint",
                endpoint,
                "--prompt-tokens",
                "16",
                "--concurrency",
                "1",
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        let d = dataset(&out);
        assert_eq!(
            d.steps[0].token_counts.unwrap().prompt_tokens_mean,
            expected,
            "{endpoint}"
        );
        assert!(d.notes.iter().any(|n| n.contains("tokenizer.json")));
    }
    let out = base.join("bad.json");
    let o = run(&out, &["--tokenizer", "/nonexistent/tokenizer.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("--tokenizer /nonexistent/tokenizer.json"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_full_kv_cache_stops_the_row_when_asked() {
    // Llama-3-8B on an L4 holds about 35,000 KV tokens: 64 users of 1,024 + 128 tokens overflow
    // it, and the simulated server preempts (answers long enough that the users' requests
    // overlap, whatever the /metrics scrapes catch).
    let out = dir("preempt").join("p.json");
    let o = Command::new(JAUGE)
        .args([
            "run",
            "--out",
            out.to_str().unwrap(),
            "--catalog-model",
            "llama-3-8b",
            "--gpu",
            "l4",
        ])
        .args([
            "--concurrency",
            "4,64",
            "--prompt-tokens",
            "1024",
            "--output-tokens",
            "128",
            "--requests-per-step",
            "64",
        ])
        .args([
            "--time-scale",
            "100",
            "--warmup",
            "0",
            "--stop-on-preemption",
            "--full-grid",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let d = dataset(&out);
    let step = d.steps.iter().find(|s| s.concurrency == 64).unwrap();
    assert!(
        step.server.as_ref().unwrap().preemptions.unwrap() > 0,
        "{:?}",
        step.server
    );
    assert_eq!(d.limits[0].reason, LimitReason::Preemption);
    assert_eq!(
        (
            d.limits[0].max_concurrency_ok,
            d.limits[0].stopped_at_concurrency
        ),
        (Some(4), Some(64))
    );

    let out = dir("no-metrics").join("n.json");
    let o = run(
        &out,
        &[
            "--no-server-metrics",
            "--prompt-tokens",
            "16",
            "--concurrency",
            "1",
        ],
    );
    assert!(o.status.success());
    let d = dataset(&out);
    assert!(d.steps.iter().all(|s| s.server.is_none()));
}

/// The simulated server runs at most 10 requests at once (--max-num-seqs 10): an 11th waits
/// for a running request to end (up to ~200 ms at time scale 2), far above a 60 ms TTFT
/// objective, while 10 users get their first token in well under it even on a busy machine.
/// The search must find 10, within one probe step.
#[test]
fn the_limit_search_finds_the_simulated_servers_known_limit() {
    let out = dir("limit").join("limit.json");
    let o = Command::new(JAUGE)
        .args([
            "limit",
            "--out",
            out.to_str().unwrap(),
            "--slo-ttft-ms",
            "60",
            "--max-num-seqs",
            "10",
        ])
        .args([
            "--time-scale",
            "2",
            "--prompt-tokens",
            "64",
            "--output-tokens",
            "32",
            "--min-requests",
            "20",
            "--warmup",
            "1",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let d = dataset(&out);
    let limit = &d.limits[0];
    let found = limit.max_concurrency_ok.unwrap();
    assert!((9..=11).contains(&found), "found {found}: {limit:?}");
    assert_eq!(limit.stopped_at_concurrency, Some(found + 1));
    assert_eq!(limit.reason, LimitReason::SloTtft);
    assert!(limit.detail.as_deref().unwrap().contains("95 % CI"));
    assert!(d
        .steps
        .iter()
        .all(|s| d.workload.concurrency.contains(&s.concurrency)));
    assert!(text(&o).contains("Max simultaneous users under the objectives"));

    let o = Command::new(JAUGE)
        .args([
            "limit",
            "--out",
            dir("limit-bad").join("x.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("needs an objective"), "{}", text(&o));
}

/// A TTFT objective can time the answer's first token instead of the first reasoning token:
/// a reasoning model that starts at once but answers after 30 tokens of reasoning meets a 60 ms
/// objective on its first token, and breaks it on its answer.
#[test]
fn a_ttft_objective_can_apply_to_the_answer() {
    let base = dir("ttft-of");
    for (of, meets) in [("first-token", true), ("answer", false)] {
        let out = base.join(format!("{of}.json"));
        let o = Command::new(JAUGE)
            .args([
                "run",
                "-q",
                "--endpoint",
                "chat",
                "--reasoning-tokens",
                "30",
            ])
            .args([
                "--concurrency",
                "1",
                "--prompt-tokens",
                "16",
                "--output-tokens",
                "40",
            ])
            .args(["--requests-per-step", "4", "--warmup", "1"])
            .args(["--slo-ttft-ms", "60", "--ttft-of", of, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let d = dataset(&out);
        let limit = &d.limits[0];
        if meets {
            assert_eq!(limit.reason, LimitReason::GridEnd, "{limit:?}");
            assert_eq!(d.workload.slo_ttft_of, None);
        } else {
            assert_eq!(limit.reason, LimitReason::SloTtft, "{limit:?}");
            assert!(limit
                .detail
                .as_deref()
                .unwrap()
                .contains("the answer's TTFT p95"));
            assert_eq!(d.workload.slo_ttft_of, Some(jauge::dataset::TtftOf::Answer));
        }
    }
}
