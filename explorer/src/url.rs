//! Percent-encoding, the one encoder of the site: the selection's query string and the CSV
//! exports' `data:` URLs both go through it.

/// `text` with every byte outside RFC 3986's unreserved set written as `%XX`.
///
/// ```
/// assert_eq!(jauge_explorer::url::encode("a b,c/d"), "a%20b%2Cc%2Fd");
/// ```
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text a query value stands for: `%XX` sequences decoded, `+` read as a space (as forms
/// send it), a `%` not followed by two hex digits kept as it is.
///
/// ```
/// assert_eq!(jauge_explorer::url::decode("Llama%203+8B"), "Llama 3 8B");
/// assert_eq!(jauge_explorer::url::decode("100%"), "100%");
/// ```
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = text
            .get(i + 1..i + 3)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        match (bytes[i], hex) {
            (b'%', Some(hex)) => {
                out.extend(u8::from_str_radix(hex, 16));
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_undoes_encoding() {
        for text in ["meta-llama/Llama 3 & co", "a=b&c", "100%", "é,ü", ""] {
            assert_eq!(decode(&encode(text)), text);
        }
    }

    #[test]
    fn a_stray_percent_is_kept() {
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("5%zz"), "5%zz");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("%+1"), "% 1", "a sign is not a hex digit");
    }
}
