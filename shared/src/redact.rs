//! Keeping secrets out of datasets, logs and error messages.
//!
//! A dataset records the command line that produced it, and error messages quote URLs. Both
//! pass through here first: API keys, `Authorization` headers and passwords inside URLs are
//! replaced by `***`. Dataset validation also refuses a command line that still holds one.

const MASK: &str = "***";

/// Flags whose *next* argument (or `=value`) is a secret.
const SECRET_FLAGS: &[&str] = &[
    "--api-key",
    "--token",
    "--password",
    "--hf-token",
    "--auth",
    "--bearer",
];

/// Query-string keys whose value is a secret.
const SECRET_QUERY_KEYS: &[&str] = &[
    "api_key",
    "apikey",
    "key",
    "token",
    "access_token",
    "password",
];

/// The command line with every secret replaced by `***`.
///
/// ```
/// use jauge::redact::redact_args;
/// let args = ["jauge", "run", "--api-key", "sk-123", "--url", "http://u:pw@host:8000/v1"];
/// let clean = redact_args(args.iter().map(|s| s.to_string()));
/// assert_eq!(clean, ["jauge", "run", "--api-key", "***", "--url", "http://u:***@host:8000/v1"]);
/// ```
pub fn redact_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut next_is_secret = false;
    let mut next_is_header = false;
    for arg in args {
        if next_is_secret {
            out.push(MASK.to_string());
            next_is_secret = false;
            continue;
        }
        if next_is_header {
            out.push(redact_header(&arg));
            next_is_header = false;
            continue;
        }
        if SECRET_FLAGS.contains(&arg.as_str()) {
            next_is_secret = true;
            out.push(arg);
            continue;
        }
        if arg == "-H" || arg == "--header" {
            next_is_header = true;
            out.push(arg);
            continue;
        }
        if let Some((flag, _)) = arg.split_once('=') {
            if SECRET_FLAGS.contains(&flag) {
                out.push(format!("{flag}={MASK}"));
                continue;
            }
            if flag == "--header" {
                let value = &arg[flag.len() + 1..];
                out.push(format!("{flag}={}", redact_header(value)));
                continue;
            }
        }
        out.push(redact(&arg));
    }
    out
}

/// One string (a URL, a message, a header) with its secrets replaced by `***`.
///
/// ```
/// use jauge::redact::redact;
/// assert_eq!(redact("http://admin:hunter2@10.0.0.1/v1"), "http://admin:***@10.0.0.1/v1");
/// assert_eq!(redact("http://h/v1?api_key=abc&x=1"), "http://h/v1?api_key=***&x=1");
/// assert_eq!(redact("Authorization: Bearer sk-abc"), "Authorization: ***");
/// assert_eq!(redact("http://localhost:8000/v1"), "http://localhost:8000/v1");
/// ```
pub fn redact(text: &str) -> String {
    let text = redact_header(text);
    let text = redact_bearer(&text);
    let text = redact_url_password(&text);
    redact_query(&text)
}

/// Whether `text` holds something [`redact`] would hide.
///
/// ```
/// use jauge::redact::holds_secret;
/// assert!(holds_secret("https://u:p@h/"));
/// assert!(!holds_secret("https://h/"));
/// ```
pub fn holds_secret(text: &str) -> bool {
    redact(text) != text
}

fn redact_header(value: &str) -> String {
    let lower = value.to_ascii_lowercase();
    for name in [
        "authorization:",
        "x-api-key:",
        "api-key:",
        "proxy-authorization:",
    ] {
        if let Some(at) = lower.find(name) {
            let rest = value[at + name.len()..].trim();
            if rest.is_empty() || rest == MASK {
                return value.to_string();
            }
            return format!("{} {MASK}", &value[..at + name.len()]);
        }
    }
    value.to_string()
}

fn redact_bearer(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_ascii_ci(rest, "bearer ") {
        out.push_str(&rest[..at + "bearer ".len()]);
        let after = &rest[at + "bearer ".len()..];
        let end = after
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(after.len());
        out.push_str(if end == 0 || &after[..end] == MASK {
            &after[..end]
        } else {
            MASK
        });
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn redact_url_password(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let authority_start = at + 3;
        out.push_str(&rest[..authority_start]);
        let after = &rest[authority_start..];
        let authority_end = after
            .find(['/', '?', '#', ' ', '"', '\''])
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rfind('@') {
            Some(at_sign) => {
                let userinfo = &authority[..at_sign];
                match userinfo.split_once(':') {
                    Some((user, pass)) if pass != MASK => out.push_str(&format!("{user}:{MASK}")),
                    Some(_) => out.push_str(userinfo),
                    // A bare user part can itself be a token (`https://TOKEN@host`).
                    None if userinfo == MASK => out.push_str(userinfo),
                    None => out.push_str(MASK),
                }
                out.push_str(&authority[at_sign..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out
}

fn redact_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (i, c) in text.char_indices() {
        if c != '?' && c != '&' {
            continue;
        }
        let after = &text[i + 1..];
        let Some(eq) = after.find('=') else { continue };
        let key = &after[..eq];
        if !SECRET_QUERY_KEYS
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
        {
            continue;
        }
        let value_start = i + 1 + eq + 1;
        let value_end = text[value_start..]
            .find(['&', '#', ' ', '"', '\''])
            .map_or(text.len(), |e| value_start + e);
        if &text[value_start..value_end] == MASK || value_start == value_end {
            continue;
        }
        out.push_str(&text[last..value_start]);
        out.push_str(MASK);
        last = value_end;
    }
    out.push_str(&text[last..]);
    out
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_flag_values_are_masked() {
        let args = ["-H", "Authorization: Bearer abc", "--header=X-Api-Key: k"];
        let clean = redact_args(args.iter().map(|s| s.to_string()));
        assert_eq!(
            clean,
            ["-H", "Authorization: ***", "--header=X-Api-Key: ***"]
        );
    }

    #[test]
    fn equals_form_of_secret_flag_is_masked() {
        let clean = redact_args(["--api-key=sk-1".to_string()]);
        assert_eq!(clean, ["--api-key=***"]);
    }

    #[test]
    fn redaction_is_idempotent() {
        for text in [
            "http://a:b@h/?token=x",
            "Bearer x",
            "Authorization: y",
            "plain",
        ] {
            let once = redact(text);
            assert_eq!(redact(&once), once, "{text}");
            assert!(!holds_secret(&once), "{once}");
        }
    }

    #[test]
    fn token_as_url_user_is_masked() {
        assert_eq!(redact("https://ghp_abc@host/x"), "https://***@host/x");
    }

    #[test]
    fn api_key_env_names_are_kept() {
        let clean = redact_args(["--api-key-env".to_string(), "OPENAI_API_KEY".to_string()]);
        assert_eq!(clean, ["--api-key-env", "OPENAI_API_KEY"]);
    }
}
