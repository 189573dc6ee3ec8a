//! jauge against hostile servers and careless input: what each attack costs it (memory, time)
//! and how it ends (the error kind recorded, the message), with no secret in any output.
//!
//! The servers are in `hostile/server.rs`; jauge runs as its own process, whose peak memory is
//! read from `/proc/PID/status` (VmHWM) while it runs. `cargo test --test hostile -- --ignored
//! report --nocapture` prints the table of every attack (set `JAUGE_BIN` to measure another
//! build of jauge).

#[path = "hostile/server.rs"]
mod server;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jauge::dataset::{Dataset, ErrorKind};
use serde_json::Value;
use server::{Attack, Hostile, SECRET};

mod common;
use common::{dir, KillOnDrop, JAUGE};

/// The most memory jauge may take against any of these servers with default settings.
const MEMORY_CAP_KIB: u64 = 256 * 1024;

/// How one run against an attack went.
struct Outcome {
    code: Option<i32>,
    elapsed: Duration,
    /// Peak resident memory of the jauge process, KiB (VmHWM).
    peak_kib: u64,
    /// Killed by the harness (memory past 2 GiB or time past the cap).
    killed: Option<&'static str>,
    stdout: String,
    stderr: String,
    out: PathBuf,
    /// Bytes the server wrote before jauge hung up.
    server_sent: u64,
}

impl Outcome {
    fn dataset(&self) -> Dataset {
        Dataset::from_json(&std::fs::read_to_string(&self.out).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", self.out.display(), self.stderr))
    }

    fn records(&self) -> Vec<Value> {
        let log = self.out.with_file_name("run.requests.jsonl");
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The error kinds of the measured requests.
    fn error_kinds(&self) -> Vec<ErrorKind> {
        self.records()
            .iter()
            .filter(|r| r["warmup"] == false)
            .filter_map(|r| serde_json::from_value(r["error"].clone()).ok())
            .collect()
    }

    fn everything_written(&self) -> String {
        let mut all = format!("{}{}", self.stdout, self.stderr);
        let folder = self.out.parent().unwrap();
        for entry in std::fs::read_dir(folder).unwrap() {
            let mut text = String::new();
            let _ = std::fs::File::open(entry.unwrap().path())
                .and_then(|mut f| f.read_to_string(&mut text));
            all.push_str(&text);
        }
        all
    }

    fn bounded(&self) {
        assert!(self.killed.is_none(), "killed: {:?}", self.killed);
        assert!(
            self.peak_kib < MEMORY_CAP_KIB,
            "peak {} MiB\n{}",
            self.peak_kib / 1024,
            self.stderr
        );
    }
}

/// `jauge run` against `url`: one user, two requests of 8 tokens, written to `out`, with
/// `extra` flags (a 10 s `--timeout` unless they give one).
fn run_args<'a>(url: &'a str, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--url",
        url,
        "--no-gpu",
        "--concurrency",
        "1",
        "--prompt-tokens",
        "16",
        "--output-tokens",
        "8",
        "--warmup",
        "0",
        "--requests-per-step",
        "2",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ];
    if !extra.contains(&"--timeout") {
        args.extend(["--timeout", "10s"]);
    }
    args.extend(extra);
    args
}

/// [`run_args`] run with its memory watched.
fn attack_run(url: &str, name: &str, extra: &[&str]) -> Outcome {
    let out = dir(name).join("run.json");
    let args = run_args(url, &out, extra);
    watch(JAUGE, &args, out.clone(), Duration::from_secs(60), &[])
}

fn watch(
    binary: &str,
    args: &[&str],
    out: PathBuf,
    cap: Duration,
    env: &[(&str, &str)],
) -> Outcome {
    let started = Instant::now();
    let mut child = KillOnDrop(
        Command::new(binary)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Read both streams on their own threads so a chatty child never blocks on a full pipe.
    let mut stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status_path = format!("/proc/{}/status", child.0.id());
    let mut peak_kib = 0;
    let mut killed = None;
    let code = loop {
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            };
            if let Some(hwm) = field("VmHWM:") {
                peak_kib = peak_kib.max(hwm);
            }
            if field("VmRSS:").is_some_and(|rss| rss > 2 << 20) {
                killed = Some("memory past 2 GiB");
            }
        }
        if started.elapsed() > cap {
            killed = Some("time past the cap");
        }
        if killed.is_some() {
            let _ = child.0.kill();
        }
        if let Some(status) = child.0.try_wait().unwrap() {
            break status.code();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code,
        elapsed: started.elapsed(),
        peak_kib,
        killed,
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
        out,
        server_sent: 0,
    }
}

fn against(attack: Attack, name: &str, extra: &[&str]) -> Outcome {
    let server = Hostile::start(attack);
    let mut outcome = attack_run(&server.url, name, extra);
    outcome.server_sent = server.sent.load(std::sync::atomic::Ordering::Relaxed);
    outcome
}

#[test]
fn an_endless_stream_line_costs_one_event_of_memory() {
    let o = against(Attack::EndlessSseLine, "endless-line", &[]);
    o.bounded();
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(o.error_kinds(), [ErrorKind::ResponseTooLarge; 2]);
    let message = o.records()[0]["error_message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("went past 1 MiB"), "{message}");
    assert!(o.elapsed < Duration::from_secs(20), "{:?}", o.elapsed);
    // jauge hung up soon after the limit: what the server got out is the limit and the
    // sockets' buffers, twice.
    assert!(
        o.server_sent < 64 << 20,
        "the server wrote {} MiB",
        o.server_sent >> 20
    );
}

#[test]
fn an_endless_error_body_is_read_no_further_than_its_start() {
    let o = against(Attack::EndlessErrorBody, "endless-error", &[]);
    o.bounded();
    assert_eq!(o.error_kinds(), [ErrorKind::ServerError; 2]);
    let message = o.records()[0]["error_message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.starts_with("HTTP 500: eeee"), "{message}");
    assert!(message.ends_with("(the body went on; jauge read only its start)"));
    assert!(message.chars().count() <= 300, "{message}");
    assert!(o.elapsed < Duration::from_secs(20), "{:?}", o.elapsed);
}

#[test]
fn an_endless_models_list_stops_the_run_with_the_endpoint_named() {
    let o = against(Attack::EndlessModels, "endless-models", &[]);
    o.bounded();
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("/v1/models: the answer is larger than the 1 MiB jauge reads of it"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("--read-limit models=SIZE"),
        "{}",
        o.stderr
    );
}

#[test]
fn endless_metrics_are_given_up_and_the_run_goes_on() {
    let o = against(Attack::EndlessMetrics, "endless-metrics", &[]);
    o.bounded();
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let d = o.dataset();
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("Server telemetry: none") && n.contains("larger than the 8 MiB")),
        "{:?}",
        d.notes
    );
    assert!(o.error_kinds().is_empty());
}

#[test]
fn a_silent_server_ends_the_run_within_its_timeout_naming_the_endpoint() {
    let o = against(Attack::Silent, "silent", &["--timeout", "3s"]);
    o.bounded();
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "/v1/models: no complete answer within 3s; is this an OpenAI-compatible server"
        ),
        "{}",
        o.stderr
    );
    assert!(o.elapsed < Duration::from_secs(8), "{:?}", o.elapsed);
}

#[test]
fn a_trickling_models_answer_cannot_stretch_the_timeout() {
    let o = against(
        Attack::TrickleModels,
        "trickle-models",
        &["--timeout", "3s"],
    );
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(
        o.stderr.contains("no complete answer within 3s"),
        "{}",
        o.stderr
    );
    assert!(o.elapsed < Duration::from_secs(8), "{:?}", o.elapsed);
}

#[test]
fn a_trickling_stream_cannot_stretch_the_timeout() {
    // Each answer would take about 40 s at a byte every 50 ms; the budget is 2 s a request.
    let o = against(Attack::Trickle, "trickle", &["--timeout", "2s"]);
    o.bounded();
    assert_eq!(o.error_kinds(), [ErrorKind::Timeout; 2]);
    assert!(o.elapsed < Duration::from_secs(12), "{:?}", o.elapsed);
}

#[test]
fn an_echoed_key_reaches_no_output() {
    let server = Hostile::start(Attack::EchoKey);
    let out = dir("echo-key").join("run.json");
    // Not quiet: the progress lines are one more output the key must not reach.
    let args: Vec<&str> = run_args(&server.url, &out, &["--api-key-env", "HOSTILE_KEY"])
        .into_iter()
        .filter(|a| *a != "-q")
        .collect();
    let o = watch(
        JAUGE,
        &args,
        out.clone(),
        Duration::from_secs(60),
        &[("HOSTILE_KEY", SECRET)],
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(o.error_kinds(), [ErrorKind::ClientError; 2]);
    let message = o.records()[0]["error_message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("HTTP 401: Incorrect API key provided: ***."),
        "{message}"
    );
    let everything = o.everything_written();
    assert!(everything.contains("Incorrect API key provided: ***"));
    assert!(!everything.contains(SECRET), "the key reached an output");
    assert!(
        !everything.contains("0123456789abcdef"),
        "part of the key reached an output"
    );
}

#[test]
fn a_usage_count_beyond_32_bits_is_an_error_not_a_wrapped_count() {
    let o = against(Attack::HugeUsage, "huge-usage", &[]);
    o.bounded();
    assert_eq!(o.error_kinds(), [ErrorKind::MalformedStream; 2]);
    let r = &o.records()[0];
    assert!(r["usage_prompt_tokens"].is_null(), "{r}");
    assert!(r["error_message"]
        .as_str()
        .unwrap()
        .contains("usage.prompt_tokens is 4294967297"));
}

#[test]
fn a_context_of_zero_tokens_is_ignored_and_the_dataset_validates() {
    let o = against(Attack::ZeroContext, "zero-context", &[]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let d = o.dataset();
    assert_eq!(d.deployment.engine.settings.max_model_len, None);
    assert!(
        d.notes.iter().any(|n| n.contains("context limit of 0")),
        "{:?}",
        d.notes
    );
    assert_eq!(d.steps.len(), 1, "the row ran");
}

#[test]
fn a_stream_that_never_finishes_stops_past_its_tokens() {
    let o = against(Attack::NoFinish, "no-finish", &[]);
    o.bounded();
    assert_eq!(o.error_kinds(), [ErrorKind::OverlongStream; 2]);
    let message = o.records()[0]["error_message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("past 48 events for 8 output tokens"),
        "{message}"
    );
    assert!(o.elapsed < Duration::from_secs(20));
}

#[test]
fn an_endless_tokenizer_answer_falls_back_to_estimated_prompts() {
    let o = against(Attack::EndlessTokenize, "endless-tokenize", &[]);
    o.bounded();
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let d = o.dataset();
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("the tokenizer was not used")
                && n.contains("larger than the 16 MiB")),
        "{:?}",
        d.notes
    );
}

#[test]
fn a_silent_tokenizer_costs_one_timeout_not_one_per_prompt() {
    let o = against(
        Attack::SilentTokenize,
        "silent-tokenize",
        &["--timeout", "2s"],
    );
    o.bounded();
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.elapsed < Duration::from_secs(10), "{:?}", o.elapsed);
    assert!(o
        .dataset()
        .notes
        .iter()
        .any(|n| n.contains("/tokenize: no complete answer within 2s")));
}

// ---- careless input ----

fn jauge(args: &[&str]) -> std::process::Output {
    Command::new(JAUGE).args(args).output().unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn a_concurrency_no_process_can_hold_is_refused_before_anything_starts() {
    let out = dir("million").join("x.json");
    let o = jauge(&[
        "run",
        "--concurrency",
        "1000000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("--concurrency 1000000: "), "{e}");
    assert!(
        e.contains("split the load over several jauge processes"),
        "{e}"
    );
    assert!(!out.exists());
}

#[test]
fn prompts_beyond_any_context_are_refused_not_allocated() {
    let out = dir("billion").join("x.json");
    let o = jauge(&[
        "run",
        "--prompt-tokens",
        "1000000000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "--prompt-tokens: 1000000000 tokens: prompts are between 1 and 16777216 tokens"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_config_with_absurd_numbers_is_refused_with_the_field_named() {
    let folder = dir("absurd-config");
    let config = folder.join("config.json");
    std::fs::write(
        &config,
        r#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 18446744073709551615,
            "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
            "intermediate_size": 14336, "vocab_size": 128256, "max_position_embeddings": 8192}"#,
    )
    .unwrap();
    let o = jauge(&[
        "size",
        "--catalog-model",
        config.to_str().unwrap(),
        "--gpu",
        "a100-40gb",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("field `hidden_size`: 18446744073709551615 is beyond any real model"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn validate_flags_repeated_keys_secrets_and_altered_versions() {
    let folder = dir("validate-careless");
    let good = jauge::dataset::example_json();
    let cases = [
        (
            "repeated.json",
            good.replacen("\"sent\": ", "\"sent\": 10, \"sent\": ", 1),
            "steps[0].requests.sent: key repeated in its object",
        ),
        (
            "secret.json",
            good.replacen(
                "\"command_line\": [",
                "\"command_line\": [\"--api-key\", \"sk-abc123\", ",
                1,
            ),
            "provenance.command_line[1]: holds a secret",
        ),
        (
            "altered.json",
            good.replacen("jauge.dataset/v2", "jauge.dataset/v3", 1),
            "its `schema` field was changed or it was not written by jauge",
        ),
    ];
    for (name, text, expected) in cases {
        let path = folder.join(name);
        std::fs::write(&path, &text).unwrap();
        let o = jauge(&["validate", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let printed = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(printed.contains(expected), "{name}: {printed}");
        assert!(!printed.contains("upgrade to jauge 0.1.0"), "{printed}");
    }
}

// ---- serve-sim as the attacked server ----

/// Peak resident memory of a running process, KiB.
fn peak_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn raw(url: &str, request: &[u8]) -> String {
    let address = url.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = socket.write_all(request);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Up to the end of the status line and headers is enough to judge.
    while let Ok(n) = socket.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).to_string()
}

#[test]
fn serve_sim_refuses_bodies_and_headers_past_its_limits_in_bounded_memory() {
    let (server, url) = common::serve_sim(&[]);
    let pid = server.0.id();
    // Announced too large: refused before a byte of it is read.
    let answer = raw(
        &url,
        b"POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 4000000000\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Not announced (chunked), four at once, each a gigabyte: refused at the limit.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let address = url.trim_start_matches("http://").to_string();
                let mut socket = std::net::TcpStream::connect(address).unwrap();
                socket
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                socket
                    .write_all(b"POST /v1/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
                    .unwrap();
                let piece = [b' '; 1 << 20];
                let chunk_head = format!("{:x}\r\n", piece.len());
                for _ in 0..1024 {
                    if socket.write_all(chunk_head.as_bytes()).is_err()
                        || socket.write_all(&piece).is_err()
                        || socket.write_all(b"\r\n").is_err()
                    {
                        break;
                    }
                }
                let mut answer = [0u8; 64];
                let n = socket.read(&mut answer).unwrap_or(0);
                String::from_utf8_lossy(&answer[..n]).to_string()
            })
        })
        .collect();
    for t in threads {
        let answer = t.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    }
    // A header section past 64 KiB.
    let mut big = b"GET /health HTTP/1.1\r\nhost: x\r\nx-filler: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 100 << 10));
    big.extend(b"\r\n\r\n");
    let answer = raw(&url, &big);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let peak = peak_of(pid);
    assert!(
        peak < MEMORY_CAP_KIB,
        "serve-sim peaked at {} MiB",
        peak / 1024
    );
    // Still serving.
    let answer = raw(&url, b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn serve_sim_drops_a_client_that_never_finishes_its_headers() {
    let (_server, url) = common::serve_sim(&[]);
    let address = url.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    socket
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let n = socket.read(&mut buf).unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(
        n == 0 || answer.starts_with("HTTP/1.1 408"),
        "an answer to unfinished headers: {answer}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "held for {:?}",
        started.elapsed()
    );
}

// ---- the report for the closing note ----

/// Prints, for every attack, what it cost `JAUGE_BIN` (default: this build) and how it ended.
#[test]
#[ignore = "a report, not a check: cargo test --test hostile -- --ignored report --nocapture"]
fn report() {
    let binary = std::env::var("JAUGE_BIN").unwrap_or_else(|_| JAUGE.to_string());
    println!("| attack | peak memory | time | outcome |");
    println!("|---|---|---|---|");
    for attack in std::iter::once(Attack::Healthy).chain(Attack::ALL) {
        let server = Hostile::start(attack);
        let out = dir(&format!("report-{attack:?}")).join("run.json");
        let timeout = match attack {
            Attack::Silent | Attack::TrickleModels | Attack::SilentTokenize => "5s",
            _ => "20s",
        };
        let args = run_args(
            &server.url,
            &out,
            &["--api-key-env", "HOSTILE_KEY", "--timeout", timeout],
        );
        let o = watch(
            &binary,
            &args,
            out.clone(),
            Duration::from_secs(60),
            &[("HOSTILE_KEY", SECRET)],
        );
        let ending = match o.killed {
            Some(why) => format!("killed: {why}"),
            None => summary(&o),
        };
        println!(
            "| {attack:?} | {} MiB | {:.1} s | {ending}; the server wrote {} KiB |",
            o.peak_kib / 1024,
            o.elapsed.as_secs_f64(),
            server.sent.load(std::sync::atomic::Ordering::Relaxed) >> 10
        );
    }
}

fn summary(o: &Outcome) -> String {
    let last_line = |t: &str| {
        t.lines()
            .last()
            .unwrap_or("")
            .chars()
            .take(140)
            .collect::<String>()
    };
    let leaked = if o.everything_written().contains(SECRET) {
        "; **key in the output**"
    } else {
        ""
    };
    if o.code != Some(0) {
        return format!("exit {:?}: {}{leaked}", o.code, last_line(&o.stderr));
    }
    let valid = match std::fs::read_to_string(&o.out).map(|t| Dataset::from_json(&t)) {
        Ok(Ok(_)) => "valid",
        _ => "**invalid**",
    };
    let kinds: Vec<String> = o
        .records()
        .iter()
        .map(|r| {
            let kind = r["error"].as_str().unwrap_or("ok").to_string();
            let usage = &r["usage_prompt_tokens"];
            if kind == "ok" && !usage.is_null() {
                format!("ok (usage.prompt_tokens {usage})")
            } else {
                kind
            }
        })
        .collect();
    let requests = if kinds.is_empty() {
        "none sent".to_string()
    } else {
        kinds.join(", ")
    };
    format!("exit 0, dataset {valid}, requests: {requests}{leaked}")
}
