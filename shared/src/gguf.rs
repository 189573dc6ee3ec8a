//! A reader for the header of a GGUF file (llama.cpp's model format): its metadata and the list
//! of its tensors, from the bytes the caller read. Nothing is read past the tensor infos, so the
//! first few MiB of a file are enough.
//!
//! The layout is llama.cpp's `ggml/include/gguf.h` (lines 1-40 describe it): the magic `GGUF`,
//! a `u32` version (2 and 3 share one layout; 1 used 32-bit counts and is refused), a `u64`
//! tensor count, a `u64` key/value count, the key/values, then one info per tensor (name, `u32`
//! dimensions, `u64` extent per dimension, `u32` ggml type, `u64` offset into the data
//! section). All integers are little-endian.
//!
//! The input is untrusted: every count is checked against the bytes left before anything is
//! allocated for it, so a hostile header fails with a [`GgufError`] that names the field and its
//! offset, never with a panic or a huge allocation.
//!
//! ```
//! use jauge::gguf::{Gguf, GgmlType};
//! let bytes = jauge::gguf::example_header();
//! let gguf = Gguf::parse(&bytes)?;
//! assert_eq!(gguf.architecture(), Some("llama"));
//! assert_eq!(gguf.tensors[0].ggml_type, GgmlType::F32);
//! assert!(Gguf::parse(&bytes[..10]).is_err());
//! # Ok::<(), jauge::gguf::GgufError>(())
//! ```

use thiserror::Error;

mod types;
pub use types::GgmlType;

/// Why a GGUF header could not be read. Offsets are bytes from the start of the file.
///
/// ```
/// let err = jauge::gguf::Gguf::parse(b"GGML\x03\0\0\0").unwrap_err();
/// assert!(err.to_string().contains("not a GGUF file"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GgufError {
    /// The bytes end before a field does: the file is cut (or only its start was read).
    #[error(
        "truncated at byte {offset}: {what} needs {needed} bytes, {available} left (pass more of the file: the header and tensor infos are at its start)"
    )]
    Truncated {
        /// The field being read.
        what: String,
        /// Where it starts.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// Bytes left in the input.
        available: u64,
    },
    /// The first four bytes are not `GGUF`.
    #[error("not a GGUF file: the first bytes are {found:?}, not \"GGUF\"")]
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// A version this reader does not know.
    #[error("GGUF version {version} is not supported (only 2 and 3)")]
    UnsupportedVersion {
        /// The version found.
        version: u32,
    },
    /// A count larger than the bytes left could possibly hold.
    #[error(
        "{what} at byte {offset} is {count}, more than the {available} bytes left can hold (a corrupt header, or the input was cut short)"
    )]
    CountTooLarge {
        /// The count being read.
        what: String,
        /// Where it is.
        offset: u64,
        /// The count found.
        count: u64,
        /// Bytes left after it.
        available: u64,
    },
    /// A metadata value of an unknown type.
    #[error("{what} at byte {offset} has unknown value type {type_id}")]
    BadValueType {
        /// The key (or array) being read.
        what: String,
        /// Where the type id is.
        offset: u64,
        /// The type id found.
        type_id: u32,
    },
    /// A string that is not UTF-8.
    #[error("{what} at byte {offset} is not UTF-8")]
    NotUtf8 {
        /// The string being read.
        what: String,
        /// Where it starts.
        offset: u64,
    },
    /// A tensor whose type ggml does not know (or has removed).
    #[error(
        "tensor `{name}` (info at byte {offset}) has ggml type {type_id}, which ggml does not know"
    )]
    UnknownTensorType {
        /// The tensor.
        name: String,
        /// Where its info starts.
        offset: u64,
        /// The type id found.
        type_id: u32,
    },
    /// A tensor with an impossible shape.
    #[error("tensor `{name}` (info at byte {offset}): {reason}")]
    BadTensor {
        /// The tensor.
        name: String,
        /// Where its info starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// `general.alignment` is zero or not a power of two.
    #[error("general.alignment is {alignment}, not a power of two")]
    BadAlignment {
        /// The alignment found.
        alignment: u64,
    },
}

/// The type of a metadata value, as numbered in `gguf.h` (`enum gguf_type`).
///
/// ```
/// assert_eq!(jauge::gguf::ValueType::from_id(8), Some(jauge::gguf::ValueType::String));
/// assert_eq!(jauge::gguf::ValueType::from_id(13), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// `u8`.
    U8,
    /// `i8`.
    I8,
    /// `u16`.
    U16,
    /// `i16`.
    I16,
    /// `u32`.
    U32,
    /// `i32`.
    I32,
    /// `f32`.
    F32,
    /// A byte, 0 or 1.
    Bool,
    /// A `u64` length and UTF-8 bytes.
    String,
    /// An item type, a `u64` length and the items.
    Array,
    /// `u64`.
    U64,
    /// `i64`.
    I64,
    /// `f64`.
    F64,
}

impl ValueType {
    /// The type numbered `id` in `gguf.h`, if any.
    ///
    /// ```
    /// assert_eq!(jauge::gguf::ValueType::from_id(4), Some(jauge::gguf::ValueType::U32));
    /// ```
    pub fn from_id(id: u32) -> Option<ValueType> {
        use ValueType::*;
        Some(match id {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// The smallest encoding of one value of this type, bytes: what bounds an array's length.
    fn min_bytes(self) -> u64 {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 | String => 8,
            Array => 12,
        }
    }
}

/// Numeric arrays up to this length keep their items (per-layer head counts and the like);
/// longer ones, and arrays of strings or arrays, keep only their type and length: sizing needs
/// no token text, and a 150 000-token vocabulary is not worth copying.
pub const MAX_KEPT_ARRAY_ITEMS: u64 = 4096;

/// A metadata value.
///
/// ```
/// use jauge::gguf::Value;
/// assert_eq!(Value::U64(7).as_u64(), Some(7));
/// assert_eq!(Value::I64(-1).as_u64(), None);
/// assert_eq!(Value::String("llama".into()).as_str(), Some("llama"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An unsigned integer of any width.
    U64(u64),
    /// A signed integer of any width.
    I64(i64),
    /// A float of either width.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    String(String),
    /// An array: its item type, its length, and its items when they are numbers and at most
    /// [`MAX_KEPT_ARRAY_ITEMS`] (otherwise `items` is empty).
    Array {
        /// The items' type.
        item_type: ValueType,
        /// The array's length.
        len: u64,
        /// The items, when kept.
        items: Vec<Value>,
    },
}

impl Value {
    /// The value as a non-negative integer, when it is one.
    ///
    /// ```
    /// assert_eq!(jauge::gguf::Value::I64(5).as_u64(), Some(5));
    /// ```
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U64(v) => Some(v),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a string, when it is one.
    ///
    /// ```
    /// assert_eq!(jauge::gguf::Value::U64(1).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// One tensor's info: name, shape (ggml order: `shape[0]` is the row length) and type.
///
/// ```
/// use jauge::gguf::{GgmlType, TensorInfo};
/// let t = TensorInfo { name: "output.weight".into(), shape: vec![4096, 32000], ggml_type: GgmlType::Q6K, offset: 0 };
/// assert_eq!(t.elements(), 131_072_000);
/// assert_eq!(t.bytes(), 131_072_000 / 256 * 210);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Extent per dimension, innermost first.
    pub shape: Vec<u64>,
    /// The storage type.
    pub ggml_type: GgmlType,
    /// Offset of the data from the start of the data section, bytes.
    pub offset: u64,
}

impl TensorInfo {
    /// Elements (parsing checked that the product fits in 64 bits).
    ///
    /// ```
    /// use jauge::gguf::{GgmlType, TensorInfo};
    /// let t = TensorInfo { name: "x".into(), shape: vec![2, 3], ggml_type: GgmlType::F16, offset: 0 };
    /// assert_eq!(t.elements(), 6);
    /// ```
    pub fn elements(&self) -> u64 {
        self.shape.iter().product()
    }

    /// Bytes of the data, as ggml's `ggml_nbytes` counts them: rows of `shape[0] / block size`
    /// blocks of the type's block bytes (`ggml/src/ggml.c`, `ggml_row_size`).
    ///
    /// ```
    /// use jauge::gguf::{GgmlType, TensorInfo};
    /// let t = TensorInfo { name: "x".into(), shape: vec![64, 10], ggml_type: GgmlType::Q8_0, offset: 0 };
    /// assert_eq!(t.bytes(), 10 * 2 * 34);
    /// ```
    pub fn bytes(&self) -> u64 {
        let rows: u64 = self.shape.iter().skip(1).product();
        self.ggml_type
            .row_bytes(self.shape.first().copied().unwrap_or(1))
            .saturating_mul(rows)
    }
}

/// A parsed GGUF header.
#[derive(Debug, Clone, PartialEq)]
pub struct Gguf {
    /// The format version (2 or 3).
    pub version: u32,
    /// Every key/value, in file order.
    pub metadata: Vec<(String, Value)>,
    /// Every tensor's info, in file order.
    pub tensors: Vec<TensorInfo>,
    /// Alignment of the data section and of each tensor in it, bytes (`general.alignment`, 32
    /// when absent: `GGUF_DEFAULT_ALIGNMENT` in `gguf.h`).
    pub alignment: u64,
    /// Where the data section starts in the file, bytes.
    pub data_offset: u64,
}

impl Gguf {
    /// Reads the header from the start of a GGUF file.
    ///
    /// # Errors
    ///
    /// A [`GgufError`] naming the field and its byte offset: a wrong magic or version, input
    /// that ends inside the header ([`GgufError::Truncated`]), a count the input cannot hold, an
    /// unknown value or tensor type, a tensor shape that overflows or does not fill whole
    /// blocks.
    ///
    /// ```
    /// let bytes = jauge::gguf::example_header();
    /// assert_eq!(jauge::gguf::Gguf::parse(&bytes)?.tensors.len(), 1);
    /// let err = jauge::gguf::Gguf::parse(&bytes[..bytes.len() - 4]).unwrap_err();
    /// assert!(matches!(err, jauge::gguf::GgufError::Truncated { .. }), "{err}");
    /// # Ok::<(), jauge::gguf::GgufError>(())
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Gguf, GgufError> {
        let mut r = Reader { bytes, pos: 0 };
        let magic = r.take(4, "magic")?;
        if magic != b"GGUF" {
            let mut found = [0; 4];
            found.copy_from_slice(magic);
            return Err(GgufError::BadMagic { found });
        }
        let version = r.u32("version")?;
        if version != 2 && version != 3 {
            return Err(GgufError::UnsupportedVersion { version });
        }
        // Each tensor info takes at least 8 (name length) + 4 + 4 + 8 bytes, each key/value at
        // least 8 (key length) + 4 (type) + 1.
        let n_tensors = r.count("tensor count", 24)?;
        let n_kv = r.count("key/value count", 13)?;
        let mut metadata = Vec::with_capacity(bounded(n_kv));
        for i in 0..n_kv {
            let key = r.string(&format!("key of key/value {i}"))?;
            let type_at = r.pos;
            let type_id = r.u32(&format!("type of `{key}`"))?;
            let ty = ValueType::from_id(type_id).ok_or(GgufError::BadValueType {
                what: format!("`{key}`"),
                offset: type_at,
                type_id,
            })?;
            let value = r.value(ty, &key, 0)?;
            metadata.push((key, value));
        }
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            Some((_, v)) => {
                let alignment = v.as_u64().unwrap_or(0);
                if !alignment.is_power_of_two() {
                    return Err(GgufError::BadAlignment { alignment });
                }
                alignment
            }
            None => 32,
        };
        let mut tensors = Vec::with_capacity(bounded(n_tensors));
        for i in 0..n_tensors {
            tensors.push(r.tensor_info(i)?);
        }
        let data_offset = r.pos.div_ceil(alignment) * alignment;
        Ok(Gguf {
            version,
            metadata,
            tensors,
            alignment,
            data_offset,
        })
    }

    /// The value of `key`, if present.
    ///
    /// ```
    /// let gguf = jauge::gguf::Gguf::parse(&jauge::gguf::example_header())?;
    /// assert_eq!(gguf.get("llama.block_count").and_then(|v| v.as_u64()), Some(1));
    /// assert!(gguf.get("nope").is_none());
    /// # Ok::<(), jauge::gguf::GgufError>(())
    /// ```
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `general.architecture` (`llama`, `qwen3moe`, …): the prefix of the model's own keys.
    ///
    /// ```
    /// let gguf = jauge::gguf::Gguf::parse(&jauge::gguf::example_header())?;
    /// assert_eq!(gguf.architecture(), Some("llama"));
    /// # Ok::<(), jauge::gguf::GgufError>(())
    /// ```
    pub fn architecture(&self) -> Option<&str> {
        self.get("general.architecture").and_then(Value::as_str)
    }

    /// The integer `{architecture}.{suffix}`, e.g. `arch_u64("block_count")`. A per-layer array
    /// gives its largest item (llama.cpp sizes its buffers for the widest layer).
    ///
    /// ```
    /// let gguf = jauge::gguf::Gguf::parse(&jauge::gguf::example_header())?;
    /// assert_eq!(gguf.arch_u64("embedding_length"), Some(64));
    /// # Ok::<(), jauge::gguf::GgufError>(())
    /// ```
    pub fn arch_u64(&self, suffix: &str) -> Option<u64> {
        let arch = self.architecture()?;
        match self.get(&format!("{arch}.{suffix}"))? {
            Value::Array { items, .. } => items.iter().filter_map(Value::as_u64).max(),
            v => v.as_u64(),
        }
    }

    /// Length of the array `key` (e.g. `tokenizer.ggml.tokens`: the vocabulary size).
    ///
    /// ```
    /// let gguf = jauge::gguf::Gguf::parse(&jauge::gguf::example_header())?;
    /// assert_eq!(gguf.array_len("tokenizer.ggml.tokens"), Some(2));
    /// # Ok::<(), jauge::gguf::GgufError>(())
    /// ```
    pub fn array_len(&self, key: &str) -> Option<u64> {
        match self.get(key)? {
            Value::Array { len, .. } => Some(*len),
            _ => None,
        }
    }
}

/// Capacity to reserve for `count` items already checked against the input: never more than
/// a few thousand up front, so a large but valid count grows as items really arrive.
fn bounded(count: u64) -> usize {
    usize::try_from(count.min(4096)).unwrap_or(4096)
}

/// A cursor over the input that refuses to read past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: u64,
}

impl<'a> Reader<'a> {
    fn left(&self) -> u64 {
        self.bytes.len() as u64 - self.pos
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], GgufError> {
        if n > self.left() {
            return Err(GgufError::Truncated {
                what: what.to_string(),
                offset: self.pos,
                needed: n,
                available: self.left(),
            });
        }
        // Both fit in usize: they are at most the slice's length.
        let start = self.pos as usize;
        self.pos += n;
        Ok(&self.bytes[start..start + n as usize])
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A `u64` count of items of at least `min_bytes` each, refused when the rest of the input
    /// could not hold them.
    fn count(&mut self, what: &str, min_bytes: u64) -> Result<u64, GgufError> {
        let offset = self.pos;
        let count = self.u64(what)?;
        if count.saturating_mul(min_bytes) > self.left() {
            return Err(GgufError::CountTooLarge {
                what: what.to_string(),
                offset,
                count,
                available: self.left(),
            });
        }
        Ok(count)
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let offset = self.pos;
        let len = self.count(&format!("length of {what}"), 1)?;
        let at = self.pos;
        let raw = self.take(len, what)?;
        String::from_utf8(raw.to_vec()).map_err(|_| GgufError::NotUtf8 {
            what: what.to_string(),
            offset: offset.max(at),
        })
    }

    fn value(&mut self, ty: ValueType, key: &str, depth: u32) -> Result<Value, GgufError> {
        let what = || format!("value of `{key}`");
        Ok(match ty {
            ValueType::U8 => Value::U64(u64::from(self.array::<1>(&what())?[0])),
            ValueType::I8 => Value::I64(i64::from(i8::from_le_bytes(self.array(&what())?))),
            ValueType::U16 => Value::U64(u64::from(u16::from_le_bytes(self.array(&what())?))),
            ValueType::I16 => Value::I64(i64::from(i16::from_le_bytes(self.array(&what())?))),
            ValueType::U32 => Value::U64(u64::from(self.u32(&what())?)),
            ValueType::I32 => Value::I64(i64::from(i32::from_le_bytes(self.array(&what())?))),
            ValueType::F32 => Value::F64(f64::from(f32::from_le_bytes(self.array(&what())?))),
            ValueType::Bool => Value::Bool(self.array::<1>(&what())?[0] != 0),
            ValueType::String => Value::String(self.string(&what())?),
            ValueType::U64 => Value::U64(self.u64(&what())?),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(&what())?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(&what())?)),
            ValueType::Array => {
                let type_at = self.pos;
                let type_id = self.u32(&format!("item type of `{key}`"))?;
                let item_type = ValueType::from_id(type_id).ok_or(GgufError::BadValueType {
                    what: format!("items of `{key}`"),
                    offset: type_at,
                    type_id,
                })?;
                // Nested arrays are legal but unused by llama.cpp; one level of nesting is
                // plenty, and refusing deeper ones keeps the recursion bounded.
                if item_type == ValueType::Array && depth >= 1 {
                    return Err(GgufError::BadValueType {
                        what: format!("items of `{key}` (arrays nested deeper than 2)"),
                        offset: type_at,
                        type_id,
                    });
                }
                let len = self.count(&format!("length of `{key}`"), item_type.min_bytes())?;
                let keep = len <= MAX_KEPT_ARRAY_ITEMS
                    && !matches!(item_type, ValueType::String | ValueType::Array);
                let mut items = Vec::with_capacity(if keep { bounded(len) } else { 0 });
                for _ in 0..len {
                    let item = self.value(item_type, key, depth + 1)?;
                    if keep {
                        items.push(item);
                    }
                }
                Value::Array {
                    item_type,
                    len,
                    items,
                }
            }
        })
    }

    fn tensor_info(&mut self, index: u64) -> Result<TensorInfo, GgufError> {
        let offset = self.pos;
        let name = self.string(&format!("name of tensor {index}"))?;
        let bad = |reason: String| GgufError::BadTensor {
            name: name.clone(),
            offset,
            reason,
        };
        let n_dims = self.u32(&format!("dimensions of `{name}`"))?;
        // ggml's GGML_MAX_DIMS (`ggml/include/ggml.h`).
        if n_dims == 0 || n_dims > 4 {
            return Err(bad(format!("{n_dims} dimensions, ggml allows 1 to 4")));
        }
        let mut shape = Vec::with_capacity(n_dims as usize);
        let mut elements: u64 = 1;
        for d in 0..n_dims {
            let extent = self.u64(&format!("extent {d} of `{name}`"))?;
            // gguf.cpp refuses negative extents (they are int64 there) and overflow of the
            // element count; so do we.
            if extent > i64::MAX as u64 {
                return Err(bad(format!("extent {d} is {extent}, beyond ggml's int64")));
            }
            elements = elements
                .checked_mul(extent)
                .filter(|&e| e <= i64::MAX as u64)
                .ok_or_else(|| bad("element count overflows 64 bits".to_string()))?;
            shape.push(extent);
        }
        let type_id = self.u32(&format!("type of `{name}`"))?;
        let ggml_type = GgmlType::from_id(type_id).ok_or_else(|| GgufError::UnknownTensorType {
            name: name.clone(),
            offset,
            type_id,
        })?;
        let block = ggml_type.block_elements();
        if shape[0] % block != 0 {
            return Err(bad(format!(
                "row of {} elements is not a whole number of {}-element {} blocks",
                shape[0],
                block,
                ggml_type.name()
            )));
        }
        let data_offset = self.u64(&format!("data offset of `{name}`"))?;
        Ok(TensorInfo {
            name,
            shape,
            ggml_type,
            offset: data_offset,
        })
    }
}

/// Writes GGUF headers: for examples and tests (and a caller that wants a synthetic model).
/// Produces version 3, little-endian, without tensor data.
///
/// ```
/// use jauge::gguf::{Gguf, GgufWriter, GgmlType};
/// let mut w = GgufWriter::new();
/// w.string("general.architecture", "llama");
/// w.tensor("token_embd.weight", &[64, 10], GgmlType::F16);
/// let gguf = Gguf::parse(&w.finish())?;
/// assert_eq!(gguf.tensors[0].bytes(), 64 * 10 * 2);
/// # Ok::<(), jauge::gguf::GgufError>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct GgufWriter {
    kv: Vec<u8>,
    n_kv: u64,
    tensors: Vec<u8>,
    n_tensors: u64,
    next_offset: u64,
}

impl GgufWriter {
    /// An empty header.
    ///
    /// ```
    /// assert!(jauge::gguf::Gguf::parse(&jauge::gguf::GgufWriter::new().finish()).is_ok());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    fn key(&mut self, key: &str, type_id: u32) {
        put_str(&mut self.kv, key);
        self.kv.extend_from_slice(&type_id.to_le_bytes());
        self.n_kv += 1;
    }

    /// Adds a `u32` value.
    ///
    /// ```
    /// let mut w = jauge::gguf::GgufWriter::new();
    /// w.u32("llama.block_count", 2);
    /// ```
    pub fn u32(&mut self, key: &str, value: u32) {
        self.key(key, 4);
        self.kv.extend_from_slice(&value.to_le_bytes());
    }

    /// Adds a string value.
    ///
    /// ```
    /// let mut w = jauge::gguf::GgufWriter::new();
    /// w.string("general.architecture", "llama");
    /// ```
    pub fn string(&mut self, key: &str, value: &str) {
        self.key(key, 8);
        put_str(&mut self.kv, value);
    }

    /// Adds an array of `len` short strings (`"t0"`, `"t1"`, …), as a vocabulary.
    ///
    /// ```
    /// let mut w = jauge::gguf::GgufWriter::new();
    /// w.string_array("tokenizer.ggml.tokens", 3);
    /// ```
    pub fn string_array(&mut self, key: &str, len: u64) {
        self.key(key, 9);
        self.kv.extend_from_slice(&8u32.to_le_bytes());
        self.kv.extend_from_slice(&len.to_le_bytes());
        for i in 0..len {
            put_str(&mut self.kv, &format!("t{i}"));
        }
    }

    /// Adds a tensor info; offsets follow each other at 32-byte alignment.
    ///
    /// ```
    /// let mut w = jauge::gguf::GgufWriter::new();
    /// w.tensor("output_norm.weight", &[64], jauge::gguf::GgmlType::F32);
    /// ```
    pub fn tensor(&mut self, name: &str, shape: &[u64], ggml_type: GgmlType) {
        put_str(&mut self.tensors, name);
        self.tensors
            .extend_from_slice(&(shape.len() as u32).to_le_bytes());
        for d in shape {
            self.tensors.extend_from_slice(&d.to_le_bytes());
        }
        self.tensors
            .extend_from_slice(&(ggml_type as u32).to_le_bytes());
        self.tensors
            .extend_from_slice(&self.next_offset.to_le_bytes());
        let rows = shape.iter().skip(1).fold(1u64, |a, &d| a.saturating_mul(d));
        let bytes = ggml_type
            .row_bytes(shape.first().copied().unwrap_or(1))
            .saturating_mul(rows);
        self.next_offset = self
            .next_offset
            .saturating_add(bytes.div_ceil(32).saturating_mul(32));
        self.n_tensors += 1;
    }

    /// The header's bytes.
    ///
    /// ```
    /// assert_eq!(&jauge::gguf::GgufWriter::new().finish()[..4], b"GGUF");
    /// ```
    pub fn finish(self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&self.n_tensors.to_le_bytes());
        out.extend_from_slice(&self.n_kv.to_le_bytes());
        out.extend_from_slice(&self.kv);
        out.extend_from_slice(&self.tensors);
        out
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A small valid header (a one-layer Llama with one F32 tensor), for examples.
///
/// ```
/// assert!(jauge::gguf::Gguf::parse(&jauge::gguf::example_header()).is_ok());
/// ```
pub fn example_header() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.string("general.architecture", "llama");
    w.u32("llama.block_count", 1);
    w.u32("llama.embedding_length", 64);
    w.string_array("tokenizer.ggml.tokens", 2);
    w.tensor("output_norm.weight", &[64], GgmlType::F32);
    w.finish()
}

#[cfg(test)]
mod tests;
