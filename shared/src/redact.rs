//! Keeping secrets out of datasets, logs and error messages.
//!
//! A dataset records the command line that produced it, and error messages quote URLs and
//! whatever a server answered. Both pass through here first: API keys, `Authorization`
//! headers and passwords inside URLs are replaced by `***`. Patterns alone are not enough — a
//! server that answers "Incorrect API key provided: sk-…" repeats the key in words no pattern
//! knows — so a [`Redactor`] also holds the secret *values* in use and masks them wherever they
//! appear. Dataset validation refuses a command line that still holds a secret.

const MASK: &str = "***";

/// Shortest secret value masked by value: masking a two-letter "key" would garble every word
/// that holds those letters, and such a key protects nothing anyway.
pub const MIN_SECRET_CHARS: usize = 4;

/// Masks the secret values it knows (an API key, a URL's password) wherever they appear, then
/// the patterns of [`redact`].
///
/// ```
/// use jauge::redact::Redactor;
/// let mut r = Redactor::new();
/// r.add_secret("sk-live-1234");
/// assert_eq!(r.redact("Incorrect API key provided: sk-live-1234."), "Incorrect API key provided: ***.");
/// assert_eq!(r.redact("http://u:pw@h/"), "http://u:***@h/"); // patterns still apply
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// Every form a secret may be echoed in, longest first (so a longer secret that contains a
    /// shorter one is masked whole).
    forms: Vec<String>,
}

impl Redactor {
    /// A redactor that knows no secret yet: [`Redactor::redact`] applies the patterns only.
    ///
    /// ```
    /// assert_eq!(jauge::redact::Redactor::new().redact("Bearer abc"), "Bearer ***");
    /// ```
    pub const fn new() -> Redactor {
        Redactor { forms: Vec::new() }
    }

    /// Learns a secret value: from now on it is masked as written, percent-encoded,
    /// JSON-escaped and in the base64 a server may echo. Values shorter than
    /// [`MIN_SECRET_CHARS`] are ignored (see there).
    ///
    /// ```
    /// use jauge::redact::Redactor;
    /// let mut r = Redactor::new();
    /// r.add_secret("p@ss word");
    /// assert_eq!(r.redact("got p%40ss%20word"), "got ***");
    /// r.add_secret("ab");
    /// assert_eq!(r.redact("table"), "table");
    /// ```
    pub fn add_secret(&mut self, secret: &str) {
        let secret = secret.trim();
        if secret.chars().count() < MIN_SECRET_CHARS || secret == MASK {
            return;
        }
        let quoted = serde_json::to_string(secret).unwrap_or_default();
        let json = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .unwrap_or_default()
            .to_string();
        for form in [
            secret.to_string(),
            percent_encode(secret),
            json,
            base64(secret.as_bytes()),
        ] {
            self.add_form(form);
        }
    }

    fn add_form(&mut self, form: String) {
        if form.chars().count() >= MIN_SECRET_CHARS && !self.forms.contains(&form) {
            self.forms.push(form);
            self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        }
    }

    /// Learns the secrets a URL carries: the password (or a bare user that is a token) and
    /// secret query values, plus the `user:password` pair in base64 as HTTP basic
    /// authentication sends it.
    ///
    /// ```
    /// use jauge::redact::Redactor;
    /// let mut r = Redactor::new();
    /// r.add_url_secrets("http://admin:hunter22@10.0.0.1:8000/?api_key=k-5678");
    /// assert_eq!(r.redact("bad password hunter22, key k-5678"), "bad password ***, key ***");
    /// ```
    pub fn add_url_secrets(&mut self, url: &str) {
        if let Some((user, password)) = url_userinfo(url) {
            match password {
                Some(p) => {
                    self.add_secret(p);
                    // Basic authentication sends `user:password` in base64; the user name
                    // alone is no secret and stays readable.
                    self.add_form(base64(format!("{user}:{p}").as_bytes()));
                }
                None => self.add_secret(user),
            }
        }
        for value in query_secrets(url) {
            self.add_secret(value);
        }
    }

    /// Whether it knows any secret value.
    ///
    /// ```
    /// let mut r = jauge::redact::Redactor::new();
    /// assert!(!r.knows_secrets());
    /// r.add_secret("sk-1234");
    /// assert!(r.knows_secrets());
    /// ```
    pub fn knows_secrets(&self) -> bool {
        !self.forms.is_empty()
    }

    /// `text` with every known secret value, then every pattern of [`redact`], masked.
    ///
    /// ```
    /// use jauge::redact::Redactor;
    /// let mut r = Redactor::new();
    /// r.add_secret("sk-abcdef");
    /// assert_eq!(r.redact("{\"error\": \"key sk-abcdef refused\"}"), "{\"error\": \"key *** refused\"}");
    /// ```
    pub fn redact(&self, text: &str) -> String {
        redact(&self.mask_values(text))
    }

    /// `text` with the known secret values masked, and nothing else changed: for whole files
    /// whose strings were redacted one by one where they came in.
    ///
    /// ```
    /// use jauge::redact::Redactor;
    /// let mut r = Redactor::new();
    /// r.add_secret("sk-abcdef");
    /// assert_eq!(r.mask_values("sk-abcdef, Bearer xyz"), "***, Bearer xyz");
    /// ```
    pub fn mask_values(&self, text: &str) -> String {
        let mut text = text.to_string();
        for form in &self.forms {
            if text.contains(form.as_str()) {
                text = text.replace(form.as_str(), MASK);
            }
        }
        text
    }

    /// [`redact_args`] with the known secret values masked too.
    ///
    /// ```
    /// use jauge::redact::Redactor;
    /// let mut r = Redactor::new();
    /// r.add_secret("sk-abcdef");
    /// let args = ["jauge", "run", "--model", "sk-abcdef"].map(String::from);
    /// assert_eq!(r.redact_args(args), ["jauge", "run", "--model", "***"]);
    /// ```
    pub fn redact_args(&self, args: impl IntoIterator<Item = String>) -> Vec<String> {
        redact_args(args)
            .into_iter()
            .map(|a| self.redact(&a))
            .collect()
    }
}

/// Whether a command line holds a secret: an argument [`redact`] would change, or the value
/// after a secret-bearing flag (`--api-key sk-…`). Returns the indices of the arguments that do.
///
/// ```
/// use jauge::redact::secrets_in_args;
/// let args = ["jauge", "run", "--api-key", "sk-123", "--url", "http://h:8000"].map(String::from);
/// assert_eq!(secrets_in_args(&args), [3]);
/// assert!(secrets_in_args(&["jauge".to_string(), "--api-key".to_string(), "***".to_string()]).is_empty());
/// ```
pub fn secrets_in_args(args: &[String]) -> Vec<usize> {
    redact_args(args.iter().cloned())
        .iter()
        .zip(args)
        .enumerate()
        .filter(|(_, (clean, arg))| clean != arg)
        .map(|(i, _)| i)
        .collect()
}

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

/// `user` and `password` of a URL's authority, when it has user information.
fn url_userinfo(url: &str) -> Option<(&str, Option<&str>)> {
    let after = &url[url.find("://")? + 3..];
    let authority = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];
    let (userinfo, _) = authority.rsplit_once('@')?;
    Some(match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    })
}

/// Values of the secret query keys of a URL.
fn query_secrets(url: &str) -> Vec<&str> {
    let Some((_, query)) = url.split_once('?') else {
        return Vec::new();
    };
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| {
            SECRET_QUERY_KEYS
                .iter()
                .any(|k| k.eq_ignore_ascii_case(key))
        })
        .map(|(_, value)| value)
        .collect()
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648), as HTTP basic authentication uses it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
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

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn an_echoed_basic_auth_header_is_masked_by_value() {
        let mut r = Redactor::new();
        r.add_url_secrets("http://admin:hunter22@h/");
        // base64("admin:hunter22")
        assert_eq!(r.redact("got YWRtaW46aHVudGVyMjI="), "got ***");
    }

    #[test]
    fn a_longer_secret_holding_a_shorter_one_is_masked_whole() {
        let mut r = Redactor::new();
        r.add_secret("abcd");
        r.add_secret("abcdefgh");
        assert_eq!(r.redact("x abcdefgh y abcd"), "x *** y ***");
    }

    #[test]
    fn redaction_by_value_is_idempotent() {
        let mut r = Redactor::new();
        r.add_secret("sk-1234");
        let once = r.redact("sk-1234 and Bearer sk-1234");
        assert_eq!(r.redact(&once), once);
        assert!(!once.contains("sk-1234"));
    }
}
