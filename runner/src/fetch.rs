//! Requests to a server besides the measured ones — start-up probes, the tokenizer, metrics —
//! and reading any answer body: each with a total time budget and a size cap, and errors that
//! name the endpoint.

use std::fmt;
use std::time::Duration;

use crate::limits::ShowBytes;

/// Why an answer could not be read.
#[derive(Debug)]
pub enum Failure {
    /// No complete answer within the time budget.
    Timeout(Duration),
    /// The answer is longer than jauge reads of it.
    TooLarge(u64),
    /// The connection could not be made, or broke.
    Transport(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout(d) => write!(
                f,
                "no complete answer within {}",
                humantime::format_duration(*d)
            ),
            Failure::TooLarge(limit) => {
                write!(
                    f,
                    "the answer is larger than the {} jauge reads of it",
                    ShowBytes(*limit)
                )
            }
            Failure::Transport(message) => f.write_str(message),
        }
    }
}

/// A failed request to one endpoint: `GET http://h:8000/v1/models: no complete answer …`.
#[derive(Debug)]
pub struct EndpointError {
    /// `GET http://h:8000/v1/models`, secrets masked.
    pub endpoint: String,
    /// What went wrong.
    pub failure: Failure,
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.endpoint, self.failure)
    }
}

impl std::error::Error for EndpointError {}

/// Sends `request` and reads its whole body, at most `limit` bytes, all within `budget`.
///
/// # Errors
/// [`EndpointError`] naming `method url` when it times out, is too large or breaks.
pub async fn call(
    request: reqwest::RequestBuilder,
    endpoint: String,
    limit: u64,
    budget: Duration,
) -> Result<(reqwest::StatusCode, Vec<u8>), EndpointError> {
    let fail = |failure| EndpointError {
        endpoint: crate::secrets::redact(&endpoint),
        failure,
    };
    let exchange = async {
        let mut response = request
            .send()
            .await
            .map_err(|e| Failure::Transport(describe(&e)))?;
        let status = response.status();
        let body = body_capped(&mut response, limit).await?;
        Ok::<_, Failure>((status, body))
    };
    match tokio::time::timeout(budget, exchange).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(failure)) => Err(fail(failure)),
        Err(_) => Err(fail(Failure::Timeout(budget))),
    }
}

/// Reads a body to its end, refusing it once it passes `limit` bytes (at once when its
/// `Content-Length` already says so). Memory never holds more than `limit` plus one chunk.
///
/// # Errors
/// [`Failure::TooLarge`], or [`Failure::Transport`] when the connection breaks.
pub async fn body_capped(response: &mut reqwest::Response, limit: u64) -> Result<Vec<u8>, Failure> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(Failure::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::Transport(describe(&e)))?
    {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(Failure::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `limit` bytes of a body (an error answer's), and whether there was more; the rest
/// is left unread. A connection that breaks ends the text where it broke.
pub async fn body_head(response: &mut reqwest::Response, limit: u64) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = (limit as usize).saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return (body, true);
        }
        body.extend_from_slice(&chunk);
    }
    (body, false)
}

/// reqwest's error with its causes on one line, secrets masked.
pub fn describe(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let cause = s.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
        source = s.source();
    }
    crate::secrets::redact(&message)
}
