//! The real client against vLLM's and llama.cpp's wire formats, replayed over loopback in
//! small pieces (so events arrive split), plus error bodies and a cut stream.

use std::path::Path;
use std::time::{Duration, Instant};

use jauge::dataset::{Endpoint, ErrorKind};
use jauge_runner::client::{send, RequestSlot, Target};
use jauge_runner::openai::{encode_body, BodyOptions, Prompt};
use jauge_runner::record::RequestRecord;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves one response: `head` then `body` in `piece`-byte writes, then closes.
async fn replay(head: String, body: Vec<u8>, piece: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the headers and the body its content-length announces.
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        socket.write_all(head.as_bytes()).await.unwrap();
        for chunk in body.chunks(piece.max(1)) {
            socket.write_all(chunk).await.unwrap();
            socket.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    url
}

fn ok_head() -> String {
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n".to_string()
}

async fn request(url: String, endpoint: Endpoint) -> RequestRecord {
    let target = Target {
        base_url: url,
        api_key: None,
        endpoint,
        model: "m".into(),
        force_output_length: true,
        timeout: Duration::from_secs(10),
        limits: Default::default(),
    };
    let now = Instant::now();
    let slot = RequestSlot {
        concurrency: 1,
        prompt_tokens: 12,
        output_tokens: 4,
        index: 0,
        warmup: false,
        intended: now,
        keep_answer: false,
    };
    let body = encode_body(
        endpoint,
        &Prompt::Text("hello".into()),
        &BodyOptions {
            model: "m".into(),
            max_tokens: 4,
            force_output_length: true,
        },
    );
    send(&reqwest::Client::new(), &target, &body, slot, now).await
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

#[tokio::test]
async fn real_server_streams_are_timed_and_counted() {
    let cases = [
        (
            "vllm-completions.sse",
            Endpoint::Completions,
            4,
            Some(12),
            Some(4),
        ),
        ("vllm-chat.sse", Endpoint::Chat, 3, Some(20), Some(3)),
        ("llama-cpp-chat.sse", Endpoint::Chat, 2, Some(9), Some(2)),
        (
            "llama-cpp-completions.sse",
            Endpoint::Completions,
            3,
            Some(5),
            Some(3),
        ),
    ];
    for (name, endpoint, chunks, prompt, output) in cases {
        for piece in [7, 64, 4096] {
            let r = request(replay(ok_head(), fixture(name), piece).await, endpoint).await;
            assert_eq!(
                r.error, None,
                "{name} in {piece}-byte pieces: {:?}",
                r.error_message
            );
            assert_eq!(r.chunks, chunks, "{name}");
            assert_eq!(
                (r.usage_prompt_tokens, r.usage_output_tokens),
                (prompt, output),
                "{name}"
            );
            assert_eq!(r.gaps_ms.len() as u32, chunks - 1, "{name}");
            assert!(
                r.first_token_ms.unwrap() >= r.sent_ms && r.end_ms >= r.first_token_ms.unwrap()
            );
        }
    }
}

#[tokio::test]
async fn error_bodies_and_cut_streams_are_classified() {
    let vllm_400 = r#"{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4744 in the messages, 256 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}"#;
    let head = format!("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", vllm_400.len());
    let r = request(
        replay(head, vllm_400.as_bytes().to_vec(), 4096).await,
        Endpoint::Completions,
    )
    .await;
    assert_eq!(r.error, Some(ErrorKind::ContextLength));
    assert!(r
        .error_message
        .unwrap()
        .starts_with("HTTP 400: This model's maximum context length is 4096 tokens"));

    let mut cut = fixture("vllm-completions.sse");
    cut.truncate(cut.len() / 2);
    let r = request(replay(ok_head(), cut, 64).await, Endpoint::Completions).await;
    assert_eq!(r.error, Some(ErrorKind::Truncated), "{:?}", r.error_message);

    let r = request(
        replay(ok_head(), b"data: {\"choices\": [\n\n".to_vec(), 64).await,
        Endpoint::Completions,
    )
    .await;
    assert_eq!(r.error, Some(ErrorKind::MalformedStream));

    let r = request(
        replay(
            ok_head(),
            b"data: {\"error\": {\"message\": \"engine died\"}}\n\n".to_vec(),
            64,
        )
        .await,
        Endpoint::Completions,
    )
    .await;
    assert_eq!(r.error, Some(ErrorKind::ServerError));
    assert_eq!(
        r.error_message.as_deref(),
        Some("error in stream: engine died")
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let r = request(url, Endpoint::Completions).await;
    assert_eq!(
        r.error,
        Some(ErrorKind::Connection),
        "{:?}",
        r.error_message
    );
}

/// A server that closes a connection right after reading the request (llama.cpp's extra
/// HTTP threads do, with keep-alive): the request goes again on a new connection.
#[tokio::test]
async fn a_connection_closed_before_any_answer_is_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = fixture("vllm-completions.sse");
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 65536];
            let _ = socket.read(&mut buf).await;
            if n == 0 {
                drop(socket); // closed without a byte of answer
                continue;
            }
            socket.write_all(ok_head().as_bytes()).await.unwrap();
            socket.write_all(&body).await.unwrap();
        }
    });
    let r = request(url, Endpoint::Completions).await;
    assert_eq!(r.error, None, "{:?}", r.error_message);
    assert_eq!(r.chunks, 4);
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
}
