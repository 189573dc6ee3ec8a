//! Exit codes: 0 success, 1 failure (an invalid dataset, a run that broke), 2 bad input (an
//! unknown id, a flag out of range, a missing file), 130 interrupted.
//!
//! Commands return `anyhow` errors; one that wraps [`BadInput`] anywhere in its chain exits 2.

use std::process::ExitCode;

/// Input the user can fix: exits with code 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Wraps a message as bad input.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(message.into()))
}

/// The exit code for an error.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    if err.chain().any(|e| e.is::<BadInput>()) {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

/// The error on one line, causes joined by ": ", secrets removed.
pub fn describe(err: &anyhow::Error) -> String {
    let text = err
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    crate::secrets::redact(&text)
}
