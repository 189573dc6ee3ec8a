//! llama.cpp on a Mac: the Metal device's buffers against the GPU's working-set limit.
//!
//! On Apple Silicon llama.cpp's Metal backend (`MTL0`) puts every offloaded buffer — model,
//! KV cache, compute — in unified memory, and reports `recommendedMaxWorkingSetSize` as the
//! device's memory (`ggml_metal_init: recommendedMaxWorkingSetSize = …`; `llama-server
//! --list-devices` prints `MTL0: Apple M1 Max (26000 MiB, …)` after `iogpu.wired_limit_mb=26000`,
//! github.com/Andyyyy64/whichllm/issues/152). Past the limit llama.cpp warns "current
//! allocated size is greater than the recommended max working set size"
//! (github.com/ollama/ollama/issues/434) and the GPU slows or fails, so the buffers must fit it.

use serde::Serialize;

use super::LlamaCppSizing;
use crate::catalogue::{AppleDevice, WorkingSetSource};
use crate::units::Bytes;

/// The name llama.cpp gives the Metal device (`MTL0 KV buffer size = …`).
pub const METAL_DEVICE: &str = "MTL0";

const MIB: u64 = 1 << 20;

/// Whether a llama.cpp sizing fits a Mac's GPU working set.
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::sizing::llamacpp::{fit_metal, size_catalogue, LlamaCppSettings, METAL_DEVICE};
/// let cat = Catalogue::builtin();
/// let mut settings = LlamaCppSettings::new(8192);
/// settings.gpu_device = Some(METAL_DEVICE.into());
/// let s = size_catalogue(cat.model("llama-3-70b")?, cat.quant("gguf-q4_k_m")?, &settings)?;
/// assert!(fit_metal(&s, &cat.apple_device("m2-max-96gb")?, None).fits);
/// let small = fit_metal(&s, &cat.apple_device("m1-16gb")?, None);
/// assert!(!small.fits && small.headroom_bytes < 0 && small.sysctl_hint.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetalFit {
    /// The device id (`m2-max-96gb`).
    pub device: String,
    /// Its name.
    pub name: String,
    /// Unified memory, bytes.
    pub unified_memory_bytes: u64,
    /// The GPU working-set limit the buffers are held to, bytes.
    pub working_set_bytes: u64,
    /// Where the limit comes from (logged, macOS's default rule, or `--total-memory-gib`).
    pub working_set_source: WorkingSetSource,
    /// `MTL0`'s model, KV and compute buffers, bytes.
    pub metal_bytes: u64,
    /// The host (`CPU`) buffers, bytes: in the same unified memory, outside the working set.
    pub host_bytes: u64,
    /// Working set − Metal buffers, bytes; negative when they do not fit.
    pub headroom_bytes: i64,
    /// Whether the Metal buffers fit the working set.
    pub fits: bool,
    /// `sudo sysctl iogpu.wired_limit_mb=N` when the buffers do not fit the limit but do fit
    /// the RAM with the host buffers.
    pub sysctl_hint: Option<String>,
}

/// Holds the `MTL0` buffers of `sizing` to `device`'s working set, or to `limit` where given
/// (`--total-memory-gib`).
///
/// ```
/// use jauge::catalogue::Catalogue;
/// use jauge::sizing::llamacpp::{fit_metal, size_catalogue, LlamaCppSettings, METAL_DEVICE};
/// use jauge::units::Bytes;
/// let cat = Catalogue::builtin();
/// let mut settings = LlamaCppSettings::new(4096);
/// settings.gpu_device = Some(METAL_DEVICE.into());
/// let s = size_catalogue(cat.model("llama-3-8b")?, cat.quant("gguf-q4_k_m")?, &settings)?;
/// let fit = fit_metal(&s, &cat.apple_device("m1-16gb")?, Some(Bytes(1 << 30)));
/// assert_eq!(fit.working_set_bytes, 1 << 30);
/// assert!(!fit.fits && fit.sysctl_hint.unwrap().contains("iogpu.wired_limit_mb="));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fit_metal(sizing: &LlamaCppSizing, device: &AppleDevice, limit: Option<Bytes>) -> MetalFit {
    let (working_set, source) = match limit {
        Some(b) => (b.0, WorkingSetSource::Given),
        None => (device.working_set.0, device.working_set_source.clone()),
    };
    let metal = sizing
        .device(METAL_DEVICE)
        .map_or(0, |d| d.model_bytes + d.kv_bytes + d.compute_bytes);
    let host: u64 = sizing
        .devices
        .iter()
        .filter(|d| d.device != METAL_DEVICE)
        .map(|d| d.total_bytes())
        .sum();
    let fits = metal <= working_set;
    let ram = device.unified_memory.0;
    let sysctl_hint = (!fits && metal.saturating_add(host) <= ram).then(|| {
        // The limit in MiB (`iogpu.wired_limit_mb` is read as MiB: 26000 → `26000 MiB`),
        // rounded up to a whole GiB but not past what the host buffers leave.
        let cap = (ram - host) / MIB;
        let n = metal.div_ceil(1 << 30) * 1024;
        let n = n.min(cap).max(metal.div_ceil(MIB));
        format!(
            "sudo sysctl iogpu.wired_limit_mb={n} raises the GPU limit to {n} MiB until reboot \
             (0 restores macOS's default); that leaves {:.2} GiB of the {} GB to macOS, other \
             apps and llama.cpp's host buffers ({:.2} GiB)",
            Bytes(ram.saturating_sub(n * MIB)).gib().0,
            device.memory_gb,
            Bytes(host).gib().0
        )
    });
    MetalFit {
        device: device.id.clone(),
        name: device.name.clone(),
        unified_memory_bytes: ram,
        working_set_bytes: working_set,
        working_set_source: source,
        metal_bytes: metal,
        host_bytes: host,
        headroom_bytes: working_set as i64 - metal as i64,
        fits,
        sysctl_hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::sizing::llamacpp::{size_catalogue, LlamaCppSettings};

    fn on_metal(model: &str, quant: &str, ctx: u32) -> LlamaCppSizing {
        let cat = Catalogue::builtin();
        let mut settings = LlamaCppSettings::new(ctx);
        settings.gpu_device = Some(METAL_DEVICE.into());
        size_catalogue(
            cat.model(model).unwrap(),
            cat.quant(quant).unwrap(),
            &settings,
        )
        .unwrap()
    }

    #[test]
    fn a_70b_q4_fits_an_m2_max_96gb_but_not_an_m1_16gb() {
        let cat = Catalogue::builtin();
        let s = on_metal("llama-3-70b", "gguf-q4_k_m", 8192);
        let big = fit_metal(&s, &cat.apple_device("m2-max-96gb").unwrap(), None);
        // ≈ 40 GiB of weights against the logged 72 GiB (73728 MiB).
        assert!(big.fits && big.headroom_bytes > 20 << 30, "{big:?}");
        assert!(big.sysctl_hint.is_none());
        let small = fit_metal(&s, &cat.apple_device("m1-16gb").unwrap(), None);
        assert!(!small.fits && small.headroom_bytes < 0);
        // 40 GiB is more than the 16 GB of RAM: no sysctl makes it fit.
        assert!(small.sysctl_hint.is_none());
    }

    #[test]
    fn the_buffers_held_to_the_limit_are_mtl0_model_kv_and_compute() {
        let cat = Catalogue::builtin();
        let s = on_metal("llama-3-8b", "gguf-q4_k_m", 4096);
        let fit = fit_metal(&s, &cat.apple_device("m1-16gb").unwrap(), None);
        let d = s.device(METAL_DEVICE).unwrap();
        assert_eq!(
            fit.metal_bytes,
            d.model_bytes + d.kv_bytes + d.compute_bytes
        );
        assert_eq!(
            fit.host_bytes,
            s.device("CPU").unwrap().total_bytes(),
            "the host buffers are the CPU device's"
        );
        assert_eq!(
            fit.headroom_bytes,
            fit.working_set_bytes as i64 - fit.metal_bytes as i64
        );
        assert!(fit.fits);
    }

    #[test]
    fn over_the_limit_but_within_the_ram_gives_the_sysctl_hint() {
        let cat = Catalogue::builtin();
        let device = cat.apple_device("m1-16gb").unwrap();
        let s = on_metal("llama-3-8b", "gguf-q4_k_m", 4096);
        // A limit below the buffers, as if macOS left the GPU 2 GiB.
        let fit = fit_metal(&s, &device, Some(Bytes(2 << 30)));
        assert!(!fit.fits);
        assert_eq!(fit.working_set_source, WorkingSetSource::Given);
        let hint = fit.sysctl_hint.unwrap();
        let n: u64 = hint
            .split("iogpu.wired_limit_mb=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(n * MIB >= fit.metal_bytes && n * MIB + fit.host_bytes <= 16 << 30);
    }

    #[test]
    fn the_limit_source_follows_the_device() {
        let cat = Catalogue::builtin();
        let s = on_metal("llama-3-8b", "gguf-q4_k_m", 4096);
        let logged = fit_metal(&s, &cat.apple_device("m1-16gb").unwrap(), None);
        assert!(matches!(
            logged.working_set_source,
            WorkingSetSource::Logged { .. }
        ));
        let ruled = fit_metal(&s, &cat.apple_device("m4-24gb").unwrap(), None);
        assert!(matches!(
            ruled.working_set_source,
            WorkingSetSource::Rule { .. }
        ));
        assert_eq!(ruled.working_set_bytes, (24u64 << 30) / 3 * 2);
    }
}
