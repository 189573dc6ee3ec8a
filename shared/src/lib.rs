//! # jauge — the reusable core
//!
//! Everything jauge knows that does not need a network, a GPU or a file system: the
//! [`dataset`] schema that the runner writes and the explorer reads, the [`catalogue`] of
//! models, GPUs and quantisations, and the [`sizing`] model that answers "does this model fit
//! on this GPU, and for how many simultaneous users at this context?".
//!
//! The crate is pure Rust with no I/O, no threads and no clock, so it builds for native
//! targets and for `wasm32-unknown-unknown` alike. Callers read files and pass their
//! contents in.
//!
//! ```
//! use jauge::catalogue::Catalogue;
//! use jauge::sizing::{size, SizingRequest};
//!
//! let cat = Catalogue::builtin();
//! let model = cat.model("mistralai/Mistral-7B-Instruct-v0.3")?;
//! let gpu = cat.gpu("a100-40gb")?;
//! let sizing = size(&SizingRequest::new(model, gpu))?;
//! assert!(sizing.fits);
//! assert_eq!(sizing.kv_bytes_per_token, 131_072); // 32 layers × 8 KV heads × 128 × 2 × 2 B
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod aggregate;
pub mod calibrate;
pub mod catalogue;
pub mod dataset;
pub mod deployment;
pub mod error;
pub mod gguf;
mod json;
pub mod metric;
pub mod objectives;
pub mod pacing;
pub mod people;
pub mod perf;
pub mod record;
pub mod redact;
pub mod rng;
pub mod search;
pub mod sim;
pub mod sizing;
pub mod stats;
pub mod study;
pub mod trace;
pub mod units;

pub use error::{CatalogueError, DatasetError, DeploymentError, SizingError};

/// The version of this library, written into every dataset's provenance.
///
/// ```
/// assert!(!jauge::VERSION.is_empty());
/// ```
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
