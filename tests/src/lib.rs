//! Cross-crate tests live in `tests/`: the published datasets validate and are indexed, the
//! committed JSON Schema is current, and the explorer shows the CLI's numbers.
