//! Reading another tool's result file: the file itself (capped, JSON with Python's `NaN`
//! read as absent) and its fields, each read at a path that an error names
//! (`benchmarks[2].metrics.time_to_first_token_ms: expected an object, found a string`).

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

use crate::exit::bad_input;

/// The largest result file jauge reads. The biggest real ones are GuideLLM reports with every
/// request's statistics and vLLM results saved with `--save-detailed` (texts included): tens of
/// MiB for long runs. A file beyond this is not a summary of a benchmark.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// A file's text, refused when it is larger than [`MAX_INPUT_BYTES`] or not UTF-8.
///
/// # Errors
/// Bad input saying why (the caller names the file).
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    let file = std::fs::File::open(path).map_err(|e| bad_input(format!("cannot read it: {e}")))?;
    let mut bytes = Vec::new();
    // Read one byte past the cap rather than trust the size on disk (a pipe or a growing file).
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad_input(format!("cannot read it: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(bad_input(format!(
            "larger than the {} MiB jauge import reads; a benchmark's result file is far smaller",
            MAX_INPUT_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| bad_input("not UTF-8 text"))
}

/// A JSON document, with Python's `NaN`, `Infinity` and `-Infinity` (which `json.dump` writes
/// for a statistic of no values) read as `null`: a figure that is not a number is absent.
/// Returns the value and how many such tokens it replaced.
///
/// # Errors
/// Bad input when the text is not JSON, with the line and column.
pub fn parse_json(text: &str) -> anyhow::Result<(Value, usize)> {
    let (text, replaced) = without_non_numbers(text);
    let value = serde_json::from_str(&text).map_err(|e| bad_input(format!("not JSON: {e}")))?;
    Ok((value, replaced))
}

/// `text` with every `NaN`, `Infinity` and `-Infinity` outside strings replaced by `null`.
fn without_non_numbers(text: &str) -> (std::borrow::Cow<'_, str>, usize) {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return (text.into(), 0);
    }
    let mut out = String::with_capacity(text.len());
    let mut replaced = 0;
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t))
        {
            out.push_str("null");
            replaced += 1;
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    (out.into(), replaced)
}

/// A JSON value and the path it was read at.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    /// The value.
    pub value: &'a Value,
    /// Where it is: `benchmarks[2].metrics`; empty for the document.
    pub path: String,
}

impl<'a> Field<'a> {
    /// The document.
    pub fn root(value: &'a Value) -> Field<'a> {
        Field {
            value,
            path: String::new(),
        }
    }

    /// The document, its paths starting with `prefix` (`[3]`, a line or a row).
    pub fn at_path(value: &'a Value, prefix: impl Into<String>) -> Field<'a> {
        Field {
            value,
            path: prefix.into(),
        }
    }

    /// The path of a key below this one.
    fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// An error about this field.
    pub fn error(&self, message: impl std::fmt::Display) -> anyhow::Error {
        let path = if self.path.is_empty() {
            "(the document)"
        } else {
            &self.path
        };
        bad_input(format!("{path}: {message}"))
    }

    /// The object this field holds.
    ///
    /// # Errors
    /// When it is not an object.
    pub fn object(&self) -> anyhow::Result<&'a Map<String, Value>> {
        self.value
            .as_object()
            .ok_or_else(|| self.error(format!("expected an object, found {}", kind(self.value))))
    }

    /// A key of this object; `None` when it is missing or `null`.
    ///
    /// # Errors
    /// When this field is not an object.
    pub fn get(&self, key: &str) -> anyhow::Result<Option<Field<'a>>> {
        Ok(self
            .object()?
            .get(key)
            .filter(|v| !v.is_null())
            .map(|value| Field {
                value,
                path: self.child(key),
            }))
    }

    /// A key this object must have.
    ///
    /// # Errors
    /// When it is missing or `null`, or this field is not an object.
    pub fn need(&self, key: &str) -> anyhow::Result<Field<'a>> {
        self.get(key)?
            .ok_or_else(|| bad_input(format!("{}: missing", self.child(key))))
    }

    /// The value at a path of keys below this one, `None` where any is missing; a value on the
    /// way that is not an object counts as missing (for fields only some versions have).
    pub fn find(&self, keys: &[&str]) -> Option<Field<'a>> {
        let mut field = self.clone();
        for key in keys {
            field = field.get(key).ok().flatten()?;
        }
        Some(field)
    }

    /// The items of this array.
    ///
    /// # Errors
    /// When it is not an array.
    pub fn items(&self) -> anyhow::Result<Vec<Field<'a>>> {
        let items = self
            .value
            .as_array()
            .ok_or_else(|| self.error(format!("expected an array, found {}", kind(self.value))))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Field {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    /// The string this field holds.
    ///
    /// # Errors
    /// When it is not a string.
    pub fn str(&self) -> anyhow::Result<&'a str> {
        self.value
            .as_str()
            .ok_or_else(|| self.error(format!("expected a string, found {}", kind(self.value))))
    }

    /// The finite, non-negative number this field holds. A string holding one is read too:
    /// llmperf writes numpy integers as strings (`"64"`), vLLM's `--metadata` writes strings
    /// over the keys it shadows.
    ///
    /// # Errors
    /// When it is not such a number.
    pub fn number(&self) -> anyhow::Result<f64> {
        let number = match self.value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match number {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(n),
            Some(n) => Err(self.error(format!("expected a non-negative number, found {n}"))),
            None => Err(self.error(format!("expected a number, found {}", kind(self.value)))),
        }
    }

    /// The whole number (at most `u32::MAX`) this field holds; `4.0` is 4.
    ///
    /// # Errors
    /// When it is not such a number.
    pub fn count(&self) -> anyhow::Result<u32> {
        let n = self.number()?;
        if n.fract() == 0.0 && n <= f64::from(u32::MAX) {
            Ok(n as u32)
        } else {
            Err(self.error(format!("expected a whole number, found {n}")))
        }
    }

    /// A number under a key, `None` when the key is missing or `null`.
    ///
    /// # Errors
    /// When the value is not a non-negative number.
    pub fn opt_number(&self, key: &str) -> anyhow::Result<Option<f64>> {
        self.get(key)?.map(|f| f.number()).transpose()
    }

    /// A number this object must have.
    ///
    /// # Errors
    /// When it is missing or not a non-negative number.
    pub fn need_number(&self, key: &str) -> anyhow::Result<f64> {
        self.need(key)?.number()
    }

    /// A whole number under a key, `None` when the key is missing or `null`.
    ///
    /// # Errors
    /// When the value is not a whole number.
    pub fn opt_count(&self, key: &str) -> anyhow::Result<Option<u32>> {
        self.get(key)?.map(|f| f.count()).transpose()
    }

    /// A whole number this object must have.
    ///
    /// # Errors
    /// When it is missing or not a whole number.
    pub fn need_count(&self, key: &str) -> anyhow::Result<u32> {
        self.need(key)?.count()
    }

    /// A string under a key, `None` when the key is missing or `null`.
    ///
    /// # Errors
    /// When the value is not a string.
    pub fn opt_str(&self, key: &str) -> anyhow::Result<Option<&'a str>> {
        self.get(key)?.map(|f| f.str()).transpose()
    }
}

/// What a JSON value is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_non_numbers_become_null_outside_strings_only() {
        let (value, replaced) =
            parse_json(r#"{"a": NaN, "b": -Infinity, "c": "NaN and Infinity", "d": [Infinity]}"#)
                .unwrap();
        assert_eq!(replaced, 3);
        assert!(value["a"].is_null() && value["b"].is_null() && value["d"][0].is_null());
        assert_eq!(value["c"], "NaN and Infinity");
    }

    #[test]
    fn an_error_names_the_path_of_the_field() {
        let value: Value =
            serde_json::from_str(r#"{"benchmarks": [{}, {}, {"metrics": {"ttft": "x"}}]}"#)
                .unwrap();
        let root = Field::root(&value);
        let third = root.need("benchmarks").unwrap().items().unwrap()[2].clone();
        let err = third
            .need("metrics")
            .unwrap()
            .need("ttft")
            .unwrap()
            .object()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "benchmarks[2].metrics.ttft: expected an object, found a string"
        );
        assert_eq!(
            third.need("duration").unwrap_err().to_string(),
            "benchmarks[2].duration: missing"
        );
    }

    #[test]
    fn numbers_are_finite_non_negative_and_may_be_written_as_strings() {
        let value: Value =
            serde_json::from_str(r#"{"a": "64", "b": -1.5, "c": 4.0, "d": 4.5, "e": true}"#)
                .unwrap();
        let root = Field::root(&value);
        assert_eq!(root.need_number("a").unwrap(), 64.0);
        assert!(root
            .need_number("b")
            .unwrap_err()
            .to_string()
            .contains("non-negative"));
        assert_eq!(root.need_count("c").unwrap(), 4);
        assert!(root
            .need_count("d")
            .unwrap_err()
            .to_string()
            .contains("whole number"));
        assert_eq!(
            root.need_number("e").unwrap_err().to_string(),
            "e: expected a number, found a boolean"
        );
        assert_eq!(root.opt_number("missing").unwrap(), None);
    }
}
