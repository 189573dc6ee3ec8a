//! GPUs: memory, bandwidth, peak throughput, compute capability, interconnect.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::units::Gib;

/// One GPU model.
///
/// ```
/// let gpu = jauge::catalogue::Catalogue::builtin().gpu("v100-16gb")?;
/// assert!(gpu.bf16_tflops.is_none()); // Volta has no BF16
/// # Ok::<(), jauge::CatalogueError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuSpec {
    /// Catalogue id (`a100-40gb`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Memory as marketed, GB (10^9 bytes).
    pub memory_gb: f64,
    /// Memory as CUDA reports its total, GiB: what vLLM multiplies by `gpu_memory_utilization`.
    pub memory_gib: f64,
    /// Memory bandwidth from the datasheet, GB/s.
    pub bandwidth_gb_s: f64,
    /// Dense FP16 tensor throughput, TFLOP/s.
    pub fp16_tflops: f64,
    /// Dense BF16 tensor throughput, TFLOP/s; none where the GPU has no BF16.
    pub bf16_tflops: Option<f64>,
    /// Dense FP8 tensor throughput, TFLOP/s; none before Ada/Hopper.
    pub fp8_tflops: Option<f64>,
    /// Dense INT8 tensor throughput, TOP/s.
    pub int8_tops: Option<f64>,
    /// CUDA compute capability.
    pub compute_capability: ComputeCapability,
    /// How GPUs of this kind talk to each other.
    pub interconnect: Interconnect,
    /// Whether the card has display outputs people plug a desktop into (consumer cards): the
    /// desktop's memory is then not free for the engine.
    #[serde(default)]
    pub may_drive_display: bool,
    /// Where these numbers come from.
    pub source: String,
}

impl GpuSpec {
    /// Total memory as CUDA reports it.
    ///
    /// ```
    /// let gpu = jauge::catalogue::Catalogue::builtin().gpu("a100-40gb")?;
    /// assert_eq!(gpu.memory().0, 39.39);
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn memory(&self) -> Gib {
        Gib(self.memory_gib)
    }

    /// Whether the GPU computes in BF16.
    ///
    /// ```
    /// let cat = jauge::catalogue::Catalogue::builtin();
    /// assert!(cat.gpu("a100-40gb")?.has_bf16());
    /// assert!(!cat.gpu("v100-32gb")?.has_bf16());
    /// # Ok::<(), jauge::CatalogueError>(())
    /// ```
    pub fn has_bf16(&self) -> bool {
        self.bf16_tflops.is_some()
    }
}

/// CUDA compute capability, ordered (`7.0 < 7.5 < 8.0 < 8.9 < 9.0`).
///
/// ```
/// use jauge::catalogue::ComputeCapability;
/// let cc: ComputeCapability = "8.9".parse().unwrap();
/// assert!(cc >= ComputeCapability { major: 8, minor: 0 });
/// assert!("eight".parse::<ComputeCapability>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComputeCapability {
    /// Major version (architecture generation).
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl fmt::Display for ComputeCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl std::str::FromStr for ComputeCapability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (major, minor) = s
            .split_once('.')
            .ok_or_else(|| format!("compute capability `{s}` is not MAJOR.MINOR"))?;
        Ok(ComputeCapability {
            major: major
                .parse()
                .map_err(|_| format!("compute capability `{s}` is not MAJOR.MINOR"))?,
            minor: minor
                .parse()
                .map_err(|_| format!("compute capability `{s}` is not MAJOR.MINOR"))?,
        })
    }
}

impl Serialize for ComputeCapability {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ComputeCapability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The link between GPUs of one node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interconnect {
    /// NVLink or PCIe.
    pub kind: InterconnectKind,
    /// Bandwidth per GPU, GB/s.
    pub bandwidth_gb_s: f64,
}

/// The kind of GPU-to-GPU link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterconnectKind {
    /// NVIDIA NVLink.
    Nvlink,
    /// PCI Express only.
    Pcie,
}
