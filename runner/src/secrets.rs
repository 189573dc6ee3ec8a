//! The secrets this process holds (the API key, credentials in `--url`), so that every string
//! leaving jauge is masked by value as well as by pattern.
//!
//! A server may repeat the key it was sent ("Incorrect API key provided: sk-…"); no pattern
//! knows those words, but the key's value is known here. Strings that come from a server are
//! redacted where they enter (error messages, stream errors, probe answers); whole files and
//! terminal lines are masked again on the way out, so a secret that slipped past one place is
//! still caught.

use std::sync::RwLock;

use jauge::redact::Redactor;

static KNOWN: RwLock<Redactor> = RwLock::new(Redactor::new());

fn with<T>(f: impl FnOnce(&Redactor) -> T) -> T {
    // A poisoned lock only means a panic elsewhere; the redactor itself is still whole.
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    f(&known)
}

/// Remembers a secret value (an API key) for the rest of the process.
pub fn learn(secret: &str) {
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    known.add_secret(secret);
}

/// Remembers the credentials a URL carries (user information, secret query values).
pub fn learn_url(url: &str) {
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    known.add_url_secrets(url);
}

/// `text` with the known secret values and every secret pattern masked: for messages, most of
/// which quote what a server said.
pub fn redact(text: &str) -> String {
    with(|r| r.redact(text))
}

/// The command line with its secrets masked, by flag, pattern and value.
pub fn redact_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    with(|r| r.redact_args(args))
}

/// `text` with the known secret values masked, and nothing else touched: for whole files
/// (datasets, request logs, reports) and terminal lines on their way out, whose strings were
/// redacted where they came in.
pub fn mask_known(text: &str) -> String {
    with(|r| r.mask_values(text))
}
