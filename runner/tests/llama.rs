//! jauge against a server nobody on this project wrote: llama.cpp's `llama-server`, built from
//! source by `scripts/llama-server` with a tiny random-weight Llama model, run on loopback.
//!
//! These tests need the binary and the model: `scripts/test` runs them (tier `llama-cpp`)
//! with `LLAMA_SERVER` and `LLAMA_MODEL` set from `scripts/llama-server`. Without them they
//! are ignored, and `cargo test` lists them as ignored with the reason.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jauge::dataset::{LimitReason, RunStatus, Source};
use serde_json::Value;

mod common;
use common::{dataset, dir, records, text, wait_for_a_step, JAUGE};

const NEEDS: &str = "needs llama.cpp's llama-server: scripts/test runs it (tier llama-cpp); or set LLAMA_SERVER and LLAMA_MODEL from scripts/llama-server and pass --ignored";

/// A running `llama-server`, killed when dropped.
struct Llama {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Llama {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Llama {
    /// Starts it with `slots` parallel slots sharing `ctx` tokens of context, and waits until
    /// it answers /health.
    fn start(name: &str, slots: u32, ctx: u32) -> Llama {
        let server = std::env::var("LLAMA_SERVER").expect(NEEDS);
        let model = std::env::var("LLAMA_MODEL").expect(NEEDS);
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let log = dir(name).join("llama-server.log");
        let child = Command::new(server)
            .args([
                "-m",
                &model,
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args(["-np", &slots.to_string(), "-c", &ctx.to_string()])
            .args(["--metrics", "-t", "2", "--seed", "1"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap();
        let llama = Llama {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let started = Instant::now();
        while !llama.healthy() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "llama-server did not start in 60 s:\n{}",
                std::fs::read_to_string(&llama.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        llama
    }

    fn healthy(&self) -> bool {
        http_get(&self.url, "/health").is_some_and(|(status, _)| status == 200)
    }
}

/// A GET over a plain TCP socket (the tests need no HTTP client of their own).
fn http_get(base: &str, path: &str) -> Option<(u16, String)> {
    http(base, "GET", path, "")
}

fn http(base: &str, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

fn validate(path: &Path) {
    let o = Command::new(JAUGE)
        .arg("validate")
        .arg(path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

/// Four slots of 1,024 tokens each: real continuous batching over a real tokenizer.
#[test]
#[ignore = "needs llama.cpp's llama-server: scripts/test runs it (tier llama-cpp)"]
fn a_run_against_llama_server_is_exact_and_consistent() {
    let llama = Llama::start("run", 4, 4096);
    let out = dir("run").join("llama.json");
    let _ = std::fs::remove_file(&out);
    let o = Command::new(JAUGE)
        .args(["run", "--url", &llama.url, "--no-gpu", "--full-grid", "-q"])
        .args(["--concurrency", "1,2,4,8", "--prompt-tokens", "16,200,2000"])
        .args(["--output-tokens", "8", "--requests-per-step", "16"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    validate(&out);
    let d = dataset(&out);
    assert_eq!(d.source, Source::Measured);
    assert_eq!(d.status, RunStatus::Complete);
    assert_eq!(d.deployment.engine.name, "llama.cpp");
    // llama.cpp's per-slot context (-c 4096 over -np 4), not the model's training context.
    assert_eq!(d.deployment.engine.settings.max_model_len, Some(1024));
    assert!(
        d.notes.iter().any(|n| n.contains("exact lengths")),
        "{:?}",
        d.notes
    );

    for prompt in [16, 200] {
        let steps: Vec<_> = d
            .steps
            .iter()
            .filter(|s| s.prompt_tokens == prompt)
            .collect();
        assert_eq!(
            steps.len(),
            4,
            "prompt {prompt}: every concurrency measured"
        );
        for s in steps {
            assert_eq!(
                s.requests.unwrap().failed,
                0,
                "{prompt}/{}: {:?}",
                s.concurrency,
                s.error_messages
            );
            let counts = s.token_counts.as_ref().unwrap();
            // The server's own usage: the prompts are exactly as long as asked, the outputs
            // exactly as forced.
            assert_eq!(counts.prompt_tokens_mean, f64::from(prompt));
            assert_eq!(counts.output_tokens_mean, 8.0);
            let ttft = s.latency.ttft_ms.unwrap();
            let itl = s.latency.itl_ms.unwrap();
            assert!(
                ttft.p50.unwrap() > 0.0
                    && itl.mean.unwrap() > 0.0
                    && s.throughput.output_tok_s.unwrap() > 0.0
            );
            let server = s
                .server
                .as_ref()
                .expect("llama.cpp's /metrics in every step");
            assert!(server.running_peak.is_some() && server.waiting_peak.is_some());
        }
    }
    // The 2,000-token row cannot fit a 1,024-token slot: a context limit, not a crash.
    let long = d.limits.iter().find(|l| l.prompt_tokens == 2000).unwrap();
    assert_eq!(long.reason, LimitReason::ContextLength, "{long:?}");
    assert!(d.steps.iter().all(|s| s.prompt_tokens != 2000));

    // The records agree with the steps: counts, usage and throughput.
    let records = records(&out);
    for s in d.steps.iter() {
        let mine: Vec<&Value> = records
            .iter()
            .filter(|r| {
                r["warmup"] == false
                    && r["concurrency"] == s.concurrency
                    && r["prompt_tokens"] == s.prompt_tokens
            })
            .collect();
        assert_eq!(mine.len() as u32, s.requests.unwrap().sent);
        for r in &mine {
            assert_eq!(r["usage_prompt_tokens"], s.prompt_tokens);
            assert_eq!(r["usage_output_tokens"], 8);
        }
        let output: f64 = mine
            .iter()
            .map(|r| r["usage_output_tokens"].as_f64().unwrap())
            .sum();
        let rate = output / s.duration_s.unwrap();
        let measured = s.throughput.output_tok_s.unwrap();
        assert!(
            (rate - measured).abs() <= 0.02 * rate,
            "{rate} vs {measured}"
        );
    }
    // And the server's own tokenizer agrees: what /tokenize counts, the completion bills.
    let (status, body) = http(
        &llama.url,
        "POST",
        "/tokenize",
        r#"{"content": "hello world"}"#,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let tokens = serde_json::from_str::<Value>(&body).unwrap()["tokens"]
        .as_array()
        .unwrap()
        .len();
    let (_, body) = http(
        &llama.url,
        "POST",
        "/v1/completions",
        r#"{"prompt": "hello world", "max_tokens": 1}"#,
    )
    .unwrap();
    let billed = serde_json::from_str::<Value>(&body).unwrap()["usage"]["prompt_tokens"]
        .as_u64()
        .unwrap();
    // llama.cpp adds the BOS token when it completes, not when it tokenizes.
    assert_eq!(billed, tokens as u64 + 1);
}

#[test]
#[ignore = "needs llama.cpp's llama-server: scripts/test runs it (tier llama-cpp)"]
fn the_limit_search_runs_against_llama_server() {
    let llama = Llama::start("limit", 2, 2048);
    let out = dir("limit").join("limit.json");
    let _ = std::fs::remove_file(&out);
    let o = Command::new(JAUGE)
        .args(["limit", "--url", &llama.url, "--no-gpu", "-q"])
        .args(["--prompt-tokens", "64", "--output-tokens", "8"])
        .args([
            "--slo-ttft-ms",
            "5000",
            "--max-concurrency",
            "8",
            "--min-requests",
            "8",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    validate(&out);
    let d = dataset(&out);
    let limit = &d.limits[0];
    assert_eq!(limit.max_concurrency_ok, Some(8), "{limit:?}");
    assert_eq!(limit.reason, LimitReason::GridEnd);
    assert!(limit.detail.as_deref().unwrap().contains("probes"));
    // Two slots for eight users: the others waited in llama.cpp's queue.
    let busiest = d.steps.iter().find(|s| s.concurrency == 8).unwrap();
    assert_eq!(busiest.requests.unwrap().failed, 0);
}

#[test]
#[ignore = "needs llama.cpp's llama-server: scripts/test runs it (tier llama-cpp)"]
fn the_study_finds_llama_servers_context_and_its_refusal() {
    let llama = Llama::start("study", 2, 2048);
    let out = dir("study").join("study");
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(JAUGE)
        .args(["study", "--url", &llama.url, "--no-gpu", "-q"])
        .args(["--concurrency", "1,2", "--prompt-tokens", "32,128"])
        .args([
            "--output-tokens",
            "8",
            "--max-users",
            "4",
            "--context-step",
            "32",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let context = dataset(&out.join("context.json"));
    assert_eq!(context.source, Source::Measured);
    let one = context
        .context_limits
        .iter()
        .find(|l| l.concurrency == 1)
        .unwrap();
    // 1,024 tokens a slot, 8 of them for the output.
    assert_eq!(one.max_context_tokens, Some(1016), "{one:?}");
    assert_eq!(one.refused_at_tokens, Some(1048));
    assert_eq!(one.reason, LimitReason::ContextLength);
    assert!(
        one.detail
            .as_deref()
            .unwrap()
            .contains("exceeds the available context size"),
        "{one:?}"
    );
    assert!(std::fs::read_to_string(out.join("report.md"))
        .unwrap()
        .contains("| 1016 |"));
}

#[test]
#[ignore = "needs llama.cpp's llama-server: scripts/test runs it (tier llama-cpp)"]
fn killing_llama_server_mid_run_keeps_the_finished_steps() {
    let mut llama = Llama::start("kill", 2, 2048);
    let out = dir("kill").join("kill.json");
    let _ = std::fs::remove_file(&out);
    let run = Command::new(JAUGE)
        .args(["run", "--url", &llama.url, "--no-gpu", "--full-grid", "-q"])
        .args([
            "--concurrency",
            "1,2",
            "--prompt-tokens",
            "16,32,64,128,256,512",
        ])
        .args(["--output-tokens", "64", "--requests-per-step", "24"])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_a_step(&out);
    llama.child.kill().unwrap();
    let _ = llama.child.wait();
    let o = run.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    validate(&out);
    let d = dataset(&out);
    assert!(!d.steps.is_empty());
    assert!(
        d.limits.iter().any(|l| l.reason == LimitReason::ServerDown),
        "{:?}",
        d.limits
    );
    assert_eq!(
        d.limits.len(),
        6,
        "every row says how it ended: {:?}",
        d.limits
    );
}

/// Every workload's people against llama-server: the turns go through, a chat's history (with
/// llama-server's own answers) is found in its prompt cache (`cache_prompt`, on by default).
#[test]
#[ignore = "needs llama.cpp's llama-server: scripts/test runs it (tier llama-cpp)"]
fn people_of_every_workload_run_against_llama_server() {
    // 4,096 tokens a slot: a RAG prompt (300 + 3,000 + the question) fits.
    let llama = Llama::start("people", 2, 8192);
    for workload in ["chat", "rag", "code", "fixed"] {
        let out = dir(&format!("people-{workload}")).join("people.json");
        let _ = std::fs::remove_file(&out);
        let o = Command::new(JAUGE)
            .args(["run", "--url", &llama.url, "--no-gpu", "-q"])
            .args(["--workload", workload, "--concurrency", "2"])
            .args([
                "--think-s",
                "0.2",
                "--turns",
                "2-3",
                "--answer-tokens",
                "8-16",
            ])
            .args(["--warmup-time", "1s", "--duration-per-step", "8s"])
            .args(["--ttft-p95-s", "600", "--min-output-tok-s", "0"])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{workload}: {}", text(&o));
        validate(&out);
        let d = dataset(&out);
        assert_eq!(d.workload.people.as_ref().unwrap().name, workload);
        let step = &d.steps[0];
        let counts = step.requests.unwrap();
        assert!(
            counts.sent > 0 && counts.failed == 0,
            "{workload}: {counts:?}"
        );
        assert!(step.people.unwrap().in_flight_mean > 0.0);
        if workload == "chat" {
            // A chat's next turn resends its history: llama-server reuses the slot's cache.
            let hits = step.server.as_ref().and_then(|s| s.prefix_cache_hit_pct);
            assert!(hits.is_some_and(|h| h > 20.0), "{hits:?}");
        }
    }
}
