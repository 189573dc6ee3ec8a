//! JSON read strictly: an object that names the same key twice is refused with the key's path.
//!
//! `serde_json` keeps the last of two equal keys without a word, so a dataset edited by hand (or
//! by a careless tool) could say `"sent": 10` and `"sent": 12` and be read as 12. A reader of
//! published measurements must not have to guess which one was meant.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::Violation;

/// Parses `text` as JSON, refusing an object with a repeated key.
///
/// # Errors
/// A [`Violation`] at the repeated key's path (`steps[0].requests.sent: key repeated …`), or at
/// the document when the text is not JSON.
pub(super) fn parse(text: &str) -> Result<Value, Violation> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut repeated = None;
    let value = Node {
        path: &mut Vec::new(),
        repeated: &mut repeated,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    if let Some(violation) = repeated {
        return Err(violation);
    }
    value.map_err(|e| Violation::new("", format!("not valid JSON: {e}")))
}

/// One step of a JSON path.
enum Segment {
    Key(String),
    Index(usize),
}

fn show(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(k) if out.is_empty() => out.push_str(k),
            Segment::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Builds the value at `path`, noting the first repeated key it meets.
struct Node<'a> {
    path: &'a mut Vec<Segment>,
    repeated: &'a mut Option<Violation>,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.path.push(Segment::Index(items.len()));
            let item = seq.next_element_seed(Node {
                path: self.path,
                repeated: self.repeated,
            });
            self.path.pop();
            match item? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) && self.repeated.is_none() {
                self.path.push(Segment::Key(key.clone()));
                *self.repeated = Some(Violation::new(
                    show(self.path),
                    "key repeated in its object: JSON readers keep one of the two silently; remove the one that is wrong",
                ));
                self.path.pop();
            }
            self.path.push(Segment::Key(key.clone()));
            let value = map.next_value_seed(Node {
                path: self.path,
                repeated: self.repeated,
            });
            self.path.pop();
            object.insert(key, value?);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_named_with_its_path() {
        let err = parse(r#"{"steps": [{"requests": {"sent": 10, "sent": 12}}]}"#).unwrap_err();
        assert_eq!(err.path, "steps[0].requests.sent");
    }

    #[test]
    fn equal_keys_in_different_objects_are_fine() {
        let v = parse(r#"{"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 1}, {"x": 2}]}"#).unwrap();
        assert_eq!(v["c"][1]["x"], 2);
    }

    #[test]
    fn the_same_value_as_serde_json_for_valid_documents() {
        let text = crate::dataset::example_json();
        assert_eq!(
            parse(&text).unwrap(),
            serde_json::from_str::<Value>(&text).unwrap()
        );
    }

    #[test]
    fn trailing_garbage_is_not_json() {
        assert!(parse("{} x")
            .unwrap_err()
            .rule
            .starts_with("not valid JSON"));
    }
}
