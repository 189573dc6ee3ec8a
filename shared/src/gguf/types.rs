//! ggml's tensor types and their block sizes.
//!
//! Every number is from the `type_traits` table of llama.cpp's `ggml/src/ggml.c` (lines
//! 632-946 at commit 0c1e570, the one `scripts/llama-server` builds): a type stores
//! `blck_size` elements in `type_size` bytes. The ids are `enum ggml_type` in
//! `ggml/include/ggml.h` (lines 389-433); ids 4, 5 and 31-33, 36-38 were removed from ggml and
//! are refused.

use serde::Serialize;

/// A ggml tensor type, numbered as in `ggml.h`.
///
/// ```
/// use jauge::gguf::GgmlType;
/// assert_eq!(GgmlType::Q4K.row_bytes(4096), 4096 / 256 * 144);
/// assert_eq!("q8_0".parse::<GgmlType>(), Ok(GgmlType::Q8_0));
/// ```
#[allow(non_camel_case_types)] // ggml's own names: Q4_0 and Q4_1 are two types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "&'static str")]
#[repr(u32)]
pub enum GgmlType {
    /// 32-bit float.
    F32 = 0,
    /// 16-bit float.
    F16 = 1,
    /// 4-bit, 32 per block, one f16 scale.
    Q4_0 = 2,
    /// 4-bit, 32 per block, f16 scale and minimum.
    Q4_1 = 3,
    /// 5-bit, 32 per block.
    Q5_0 = 6,
    /// 5-bit with minimum, 32 per block.
    Q5_1 = 7,
    /// 8-bit, 32 per block.
    Q8_0 = 8,
    /// 8-bit with sum, 32 per block (intermediate type).
    Q8_1 = 9,
    /// k-quant 2-bit, 256 per super-block.
    Q2K = 10,
    /// k-quant 3-bit.
    Q3K = 11,
    /// k-quant 4-bit.
    Q4K = 12,
    /// k-quant 5-bit.
    Q5K = 13,
    /// k-quant 6-bit.
    Q6K = 14,
    /// k-quant 8-bit (intermediate type).
    Q8K = 15,
    /// i-quant 2.06 bpw.
    IQ2_XXS = 16,
    /// i-quant 2.31 bpw.
    IQ2_XS = 17,
    /// i-quant 3.06 bpw.
    IQ3_XXS = 18,
    /// i-quant 1.56 bpw.
    IQ1_S = 19,
    /// i-quant 4.5 bpw, 32 per block.
    IQ4_NL = 20,
    /// i-quant 3.44 bpw.
    IQ3_S = 21,
    /// i-quant 2.5 bpw.
    IQ2_S = 22,
    /// i-quant 4.25 bpw.
    IQ4_XS = 23,
    /// 8-bit integer.
    I8 = 24,
    /// 16-bit integer.
    I16 = 25,
    /// 32-bit integer.
    I32 = 26,
    /// 64-bit integer.
    I64 = 27,
    /// 64-bit float.
    F64 = 28,
    /// i-quant 1.75 bpw.
    IQ1_M = 29,
    /// bfloat16.
    BF16 = 30,
    /// ternary 1.69 bpw.
    TQ1_0 = 34,
    /// ternary 2.06 bpw.
    TQ2_0 = 35,
    /// MXFP4, 32 per block.
    MXFP4 = 39,
    /// NVFP4, 64 per block.
    NVFP4 = 40,
    /// 1-bit, 128 per block.
    Q1_0 = 41,
    /// 2-bit, 64 per block.
    Q2_0 = 42,
}

const ALL: [GgmlType; 35] = {
    use GgmlType::*;
    [
        F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2K, Q3K, Q4K, Q5K, Q6K, Q8K, IQ2_XXS,
        IQ2_XS, IQ3_XXS, IQ1_S, IQ4_NL, IQ3_S, IQ2_S, IQ4_XS, I8, I16, I32, I64, F64, IQ1_M, BF16,
        TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0, Q2_0,
    ]
};

impl GgmlType {
    /// The type numbered `id` in `ggml.h`, or `None` for unknown and removed ids.
    ///
    /// ```
    /// use jauge::gguf::GgmlType;
    /// assert_eq!(GgmlType::from_id(30), Some(GgmlType::BF16));
    /// assert_eq!(GgmlType::from_id(4), None); // Q4_2, removed
    /// ```
    pub fn from_id(id: u32) -> Option<GgmlType> {
        ALL.into_iter().find(|t| *t as u32 == id)
    }

    /// `(elements per block, bytes per block)`: `blck_size` and `type_size` in ggml.c.
    ///
    /// ```
    /// assert_eq!(jauge::gguf::GgmlType::Q6K.block(), (256, 210));
    /// ```
    pub fn block(self) -> (u64, u64) {
        use GgmlType::*;
        match self {
            F32 | I32 => (1, 4),
            F16 | BF16 | I16 => (1, 2),
            I8 => (1, 1),
            I64 | F64 => (1, 8),
            Q4_0 => (32, 18),
            Q4_1 => (32, 20),
            Q5_0 => (32, 22),
            Q5_1 => (32, 24),
            Q8_0 => (32, 34),
            Q8_1 => (32, 40),
            Q2K => (256, 84),
            Q3K => (256, 110),
            Q4K => (256, 144),
            Q5K => (256, 176),
            Q6K => (256, 210),
            Q8K => (256, 292),
            IQ2_XXS => (256, 66),
            IQ2_XS => (256, 74),
            IQ3_XXS => (256, 98),
            IQ1_S => (256, 50),
            IQ4_NL => (32, 18),
            IQ3_S => (256, 110),
            IQ2_S => (256, 82),
            IQ4_XS => (256, 136),
            IQ1_M => (256, 56),
            TQ1_0 => (256, 54),
            TQ2_0 => (256, 66),
            MXFP4 => (32, 17),
            NVFP4 => (64, 36),
            Q1_0 => (128, 18),
            Q2_0 => (64, 18),
        }
    }

    /// Elements per block.
    ///
    /// ```
    /// assert_eq!(jauge::gguf::GgmlType::Q8_0.block_elements(), 32);
    /// ```
    pub fn block_elements(self) -> u64 {
        self.block().0
    }

    /// Bytes of a row of `elements` (ggml's `ggml_row_size`: whole blocks; a partial block is
    /// counted whole, which ggml itself never allows).
    ///
    /// ```
    /// assert_eq!(jauge::gguf::GgmlType::F16.row_bytes(128), 256);
    /// ```
    pub fn row_bytes(self, elements: u64) -> u64 {
        let (blck, size) = self.block();
        elements.div_ceil(blck).saturating_mul(size)
    }

    /// Bits per element.
    ///
    /// ```
    /// assert_eq!(jauge::gguf::GgmlType::Q4_0.bits_per_element(), 4.5);
    /// ```
    pub fn bits_per_element(self) -> f64 {
        let (blck, size) = self.block();
        (size * 8) as f64 / blck as f64
    }

    /// Whether the type is a block-quantised one (ggml's `ggml_is_quantized`).
    ///
    /// ```
    /// assert!(jauge::gguf::GgmlType::Q8_0.is_quantized());
    /// assert!(!jauge::gguf::GgmlType::BF16.is_quantized());
    /// ```
    pub fn is_quantized(self) -> bool {
        self.block_elements() > 1
    }

    /// ggml's name (`type_name` in ggml.c): `f16`, `q4_K`, `iq2_xxs`.
    ///
    /// ```
    /// assert_eq!(jauge::gguf::GgmlType::Q4K.name(), "q4_K");
    /// ```
    pub fn name(self) -> &'static str {
        use GgmlType::*;
        match self {
            F32 => "f32",
            F16 => "f16",
            Q4_0 => "q4_0",
            Q4_1 => "q4_1",
            Q5_0 => "q5_0",
            Q5_1 => "q5_1",
            Q8_0 => "q8_0",
            Q8_1 => "q8_1",
            Q2K => "q2_K",
            Q3K => "q3_K",
            Q4K => "q4_K",
            Q5K => "q5_K",
            Q6K => "q6_K",
            Q8K => "q8_K",
            IQ2_XXS => "iq2_xxs",
            IQ2_XS => "iq2_xs",
            IQ3_XXS => "iq3_xxs",
            IQ1_S => "iq1_s",
            IQ4_NL => "iq4_nl",
            IQ3_S => "iq3_s",
            IQ2_S => "iq2_s",
            IQ4_XS => "iq4_xs",
            I8 => "i8",
            I16 => "i16",
            I32 => "i32",
            I64 => "i64",
            F64 => "f64",
            IQ1_M => "iq1_m",
            BF16 => "bf16",
            TQ1_0 => "tq1_0",
            TQ2_0 => "tq2_0",
            MXFP4 => "mxfp4",
            NVFP4 => "nvfp4",
            Q1_0 => "q1_0",
            Q2_0 => "q2_0",
        }
    }

    /// Whether llama.cpp accepts this type for `--cache-type-k`/`--cache-type-v`
    /// (`kv_cache_types` in `common/arg.cpp`, lines 304-314).
    ///
    /// ```
    /// assert!(jauge::gguf::GgmlType::Q8_0.is_kv_cache_type());
    /// assert!(!jauge::gguf::GgmlType::Q4K.is_kv_cache_type());
    /// ```
    pub fn is_kv_cache_type(self) -> bool {
        use GgmlType::*;
        matches!(
            self,
            F32 | F16 | BF16 | Q8_0 | Q4_0 | Q4_1 | IQ4_NL | Q5_0 | Q5_1
        )
    }
}

impl From<GgmlType> for &'static str {
    fn from(t: GgmlType) -> &'static str {
        t.name()
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for GgmlType {
    type Err = String;
    /// ggml's name, any case (`q8_0`, `Q4_K`, `bf16`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("`{s}` is not a ggml type (f16, q8_0, q4_0, …)"))
    }
}
