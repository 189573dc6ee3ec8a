//! vLLM's formats, from fixtures written after its documentation and source (see
//! fixtures/README.md): the client and parsers read every one, and `jauge serve-sim` answers
//! in the same formats — the same fields at the same places.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use jauge::dataset::{Endpoint, ErrorKind};
use jauge_runner::client::Target;
use jauge_runner::metrics::{parse, Snapshot};
use jauge_runner::openai::classify_http_error;
use jauge_runner::serve_sim::{SimOptions, SimServer};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// A server answering each path with a fixed JSON body.
async fn serve(routes: BTreeMap<&'static str, String>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, body) = match routes.get(path.as_str()) {
                Some(body) => ("200 OK", body.clone()),
                None => ("404 Not Found", "{}".to_string()),
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    url
}

fn target(url: String) -> Target {
    Target {
        base_url: url,
        api_key: None,
        endpoint: Endpoint::Completions,
        model: "mistralai/Mistral-7B-Instruct-v0.3".into(),
        force_output_length: true,
        timeout: Duration::from_secs(10),
        limits: Default::default(),
    }
}

#[tokio::test]
async fn vllms_models_and_tokenize_answers_are_read() {
    let url = serve(BTreeMap::from([
        ("/v1/models", fixture("vllm-models.json")),
        ("/tokenize", fixture("vllm-tokenize.json")),
        ("/version", r#"{"version":"0.19.0"}"#.to_string()),
    ]))
    .await;
    let http = reqwest::Client::new();
    let t = target(url);
    let facts = jauge_runner::probe::probe(&http, &t).await.unwrap();
    assert_eq!(facts.engine, "vllm");
    assert_eq!(facts.max_model_len, Some(32768));
    assert_eq!(facts.version.as_deref(), Some("0.19.0"));
    assert_eq!(
        facts.served_model.as_deref(),
        Some("mistralai/Mistral-7B-Instruct-v0.3")
    );
    let (count, ids) = jauge_runner::prompts::tokenize(&http, &t, "hello")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count, 6);
    assert_eq!(ids.unwrap().len(), 6);
}

#[test]
fn vllms_context_errors_of_every_version_are_context_limits() {
    for name in [
        "vllm-400-prompt-too-long.json",
        "vllm-400-max-tokens.json",
        "vllm-400-v0.json",
    ] {
        let (kind, message) = classify_http_error(400, &fixture(name), false);
        assert_eq!(kind, ErrorKind::ContextLength, "{name}");
        assert!(message.starts_with("HTTP 400: "), "{message}");
        assert!(
            message.contains("maximum context length is 4096"),
            "{message}"
        );
    }
}

#[test]
fn vllms_metrics_of_both_engines_are_read() {
    let v1 = Snapshot::from_samples(&parse(&fixture("vllm-metrics.txt")));
    assert_eq!(v1.kv_cache_usage, Some(0.4375));
    assert_eq!((v1.running, v1.waiting), (Some(12.0), Some(3.0)));
    let v0 = Snapshot::from_samples(&parse(&fixture("vllm-metrics-v0.txt")));
    assert_eq!(v0.kv_cache_usage, Some(0.625));
    assert_eq!((v0.running, v0.waiting), (Some(9.0), Some(2.0)));
    assert_eq!(v0.preemptions_total, Some(3.0));
}

/// Every path of a JSON value with the type found there (arrays by their first element), so
/// two answers can be compared field by field, whatever their values.
fn shape(value: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, at: String, out: &mut BTreeSet<String>) {
        let kind = match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        out.insert(format!("{at}: {kind}"));
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    walk(child, format!("{at}.{k}"), out);
                }
            }
            Value::Array(items) => {
                if let Some(first) = items.first() {
                    walk(first, format!("{at}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, String::new(), &mut out);
    out
}

fn assert_same_shape(what: &str, ours: &Value, theirs: &Value) {
    let (a, b) = (shape(ours), shape(theirs));
    assert_eq!(
        a,
        b,
        "{what}: serve-sim differs from vLLM's format\n only in serve-sim: {:?}\n only in vLLM's: {:?}",
        a.difference(&b).collect::<Vec<_>>(),
        b.difference(&a).collect::<Vec<_>>()
    );
}

/// The `data:` events of a stream, as JSON, without `[DONE]`.
fn events(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// The chunks a reader tells apart: the role chunk (chat), a text chunk, the one that
/// finishes, the usage chunk.
fn kinds(chunks: &[Value]) -> BTreeMap<&'static str, Value> {
    let mut out = BTreeMap::new();
    for c in chunks {
        let choice = c.pointer("/choices/0");
        let kind = match choice {
            None => "usage",
            Some(ch) if ch.pointer("/delta/role").is_some() => "role",
            Some(ch) if !ch["finish_reason"].is_null() => "finish",
            Some(_) => "text",
        };
        out.entry(kind).or_insert_with(|| c.clone());
    }
    out
}

#[tokio::test]
async fn serve_sim_answers_in_vllms_formats() {
    let server = SimServer::start(
        &SimOptions {
            time_scale: 50.0,
            deployment: jauge::deployment::DeploymentSpec {
                max_model_len: Some(4096),
                ..SimOptions::default().deployment
            },
            ..SimOptions::default()
        },
        0,
    )
    .await
    .unwrap();
    let url = server.url();
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{url}{path}")).send();
    let post = |path: &str, body: Value| {
        http.post(format!("{url}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };

    let models: Value =
        serde_json::from_slice(&get("/v1/models").await.unwrap().bytes().await.unwrap()).unwrap();
    assert_same_shape("/v1/models", &models, &json_fixture("vllm-models.json"));

    let tokenize: Value = serde_json::from_slice(
        &post("/tokenize", json!({"model": "m", "prompt": "hello there"}))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_same_shape("/tokenize", &tokenize, &json_fixture("vllm-tokenize.json"));

    for (prompt_words, max_tokens, fixture_name, says) in [
        (
            5000,
            16,
            "vllm-400-prompt-too-long.json",
            "your request has",
        ),
        (
            4090,
            256,
            "vllm-400-max-tokens.json",
            "'max_tokens' or 'max_completion_tokens' is too large: 256",
        ),
    ] {
        let prompt = vec!["word"; prompt_words].join(" ");
        let r = post(
            "/v1/completions",
            json!({"model": "m", "prompt": prompt, "max_tokens": max_tokens}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 400);
        let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_same_shape(fixture_name, &body, &json_fixture(fixture_name));
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(says) && message.contains("maximum context length is 4096"),
            "{message}"
        );
    }

    for (path, fixture_name, extra) in [
        (
            "/v1/completions",
            "vllm-completions.sse",
            json!({"prompt": "hello there"}),
        ),
        (
            "/v1/chat/completions",
            "vllm-chat.sse",
            json!({"messages": [{"role": "user", "content": "hello there"}]}),
        ),
    ] {
        let mut body = json!({"model": "m", "max_tokens": 4, "stream": true, "stream_options": {"include_usage": true}});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let text = post(path, body).await.unwrap().text().await.unwrap();
        assert!(text.trim_end().ends_with("data: [DONE]"), "{path}");
        let ours = kinds(&events(&text));
        let theirs = kinds(&events(&fixture(fixture_name)));
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{path}: the same kinds of chunks"
        );
        for (kind, chunk) in &ours {
            assert_same_shape(&format!("{path} {kind} chunk"), chunk, &theirs[kind]);
        }
    }

    // /metrics: every family serve-sim exposes is vLLM's, with vLLM's type.
    let ours = get("/metrics").await.unwrap().text().await.unwrap();
    let types = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| {
                let mut parts = l.split_whitespace();
                (
                    parts.next().unwrap().to_string(),
                    parts.next().unwrap().to_string(),
                )
            })
            .collect()
    };
    let labels = |text: &str| -> BTreeMap<String, BTreeSet<String>> {
        let mut out = BTreeMap::new();
        for sample in parse(text) {
            out.entry(sample.name.clone())
                .or_insert_with(|| sample.labels.iter().map(|(k, _)| k.clone()).collect());
        }
        out
    };
    let theirs_text = fixture("vllm-metrics.txt");
    let (our_labels, their_labels) = (labels(&ours), labels(&theirs_text));
    let (ours, theirs) = (types(&ours), types(&theirs_text));
    assert!(!ours.is_empty());
    for (name, kind) in &ours {
        assert_eq!(
            theirs.get(name),
            Some(kind),
            "{name}: not vLLM's, or another type"
        );
        assert_eq!(
            our_labels.get(name),
            their_labels.get(name),
            "{name}: other labels"
        );
    }
    server.stop();
}
