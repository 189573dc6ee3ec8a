//! JSON text into a type, in one way for the whole crate.
//!
//! In the browser every type is read from a parsed [`serde_json::Value`]: each type's
//! deserialising code is then compiled once, for `Value`, instead of once for `Value` (datasets
//! and pasted `config.json`s are read that way) and again for text, which the site's readers
//! would download twice. Natively the text is read directly, so that errors keep their line
//! and column.

use serde::de::DeserializeOwned;

/// Reads a `T` from JSON text.
///
/// # Errors
/// serde_json's error when the text is not JSON or not a `T`.
pub(crate) fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    #[cfg(target_arch = "wasm32")]
    {
        serde_json::from_value(serde_json::from_str::<serde_json::Value>(text)?)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        serde_json::from_str(text)
    }
}
