//! GPU telemetry through NVML: a sampler on its own thread reads every chosen GPU at a fixed
//! rate on the same monotonic clock as the requests; each step keeps peak and mean memory,
//! mean utilisation and power, and energy. Without the NVML library or a GPU (as on CI) the
//! run goes on and the dataset says why there are no readings.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jauge::dataset::GpuStep;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::Nvml;

/// One reading of one GPU.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GpuSample {
    /// Seconds since the run's clock started.
    pub t_s: f64,
    /// Device index.
    pub index: u32,
    /// Memory in use, MiB.
    pub memory_used_mib: f64,
    /// Device memory, MiB.
    pub memory_total_mib: f64,
    /// Utilisation, percent.
    pub utilization_pct: Option<f64>,
    /// Power draw, watts.
    pub power_w: Option<f64>,
    /// Energy counter since the driver loaded, millijoules (Volta and later).
    pub energy_mj: Option<u64>,
    /// SM clock, MHz.
    pub sm_clock_mhz: Option<u32>,
    /// Temperature, °C.
    pub temperature_c: Option<u32>,
}

/// One GPU as NVML describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Gpu {
    /// Device index.
    pub index: u32,
    /// The driver's UUID.
    pub uuid: String,
    /// The driver's name (`NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// Installed memory, MiB: what `nvidia-smi` prints as the total.
    pub memory_mib: u64,
    /// What CUDA sees as the total, MiB: installed memory less what the driver and firmware
    /// reserve (NVML's `nvmlMemory_v2_t.reserved`), the figure vLLM multiplies by
    /// `--gpu-memory-utilization`; `None` when the driver does not say.
    pub cuda_memory_mib: Option<u64>,
}

/// What NVML says about the machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Devices {
    /// Each sampled GPU.
    pub gpus: Vec<Gpu>,
    /// The driver's version.
    pub driver_version: Option<String>,
    /// The CUDA version the driver supports (`12.4`).
    pub cuda_version: Option<String>,
}

/// A sampler running on its own thread.
pub struct Sampler {
    /// The GPUs sampled.
    pub devices: Devices,
    /// Readings per second.
    pub hz: f64,
    samples: Arc<Mutex<Vec<GpuSample>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Starts sampling the GPUs `indices` (all when `None`) `hz` times a second, timing from
    /// `origin`.
    ///
    /// # Errors
    /// Why telemetry is unavailable: no NVML library, no GPU, an index that does not exist.
    pub fn start(indices: Option<&[u32]>, hz: f64, origin: Instant) -> Result<Sampler, String> {
        let nvml = Nvml::init().map_err(|e| format!("NVML unavailable ({e})"))?;
        let count = nvml
            .device_count()
            .map_err(|e| format!("NVML cannot count GPUs ({e})"))?;
        if count == 0 {
            return Err("no NVIDIA GPU on this machine".to_string());
        }
        let chosen: Vec<u32> = match indices {
            Some(list) => {
                if let Some(bad) = list.iter().find(|i| **i >= count) {
                    return Err(format!(
                        "--gpus: there is no GPU {bad} (this machine has {count}: 0–{})",
                        count - 1
                    ));
                }
                list.to_vec()
            }
            None => (0..count).collect(),
        };
        let mut gpus = Vec::new();
        for &i in &chosen {
            let d = nvml
                .device_by_index(i)
                .map_err(|e| format!("NVML cannot open GPU {i} ({e})"))?;
            let memory = d.memory_info().ok();
            const BYTES_PER_MIB: u64 = 1024 * 1024;
            gpus.push(Gpu {
                index: i,
                uuid: d.uuid().unwrap_or_default(),
                name: d.name().unwrap_or_else(|_| "NVIDIA GPU".into()),
                memory_mib: memory.as_ref().map_or(0, |m| m.total / BYTES_PER_MIB),
                cuda_memory_mib: memory
                    .filter(|m| m.reserved > 0 && m.reserved < m.total)
                    .map(|m| (m.total - m.reserved) / BYTES_PER_MIB),
            });
        }
        let devices = Devices {
            gpus,
            driver_version: nvml.sys_driver_version().ok(),
            cuda_version: nvml
                .sys_cuda_driver_version()
                .ok()
                .map(|v| format!("{}.{}", v / 1000, (v % 1000) / 10)),
        };
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (samples.clone(), stop.clone());
        let period = Duration::from_secs_f64(1.0 / hz.max(0.1));
        let thread = std::thread::Builder::new()
            .name("jauge-nvml".into())
            .spawn(move || {
                let mut next = Instant::now();
                while !st.load(Ordering::Relaxed) {
                    let t_s = origin.elapsed().as_secs_f64();
                    let readings: Vec<GpuSample> =
                        chosen.iter().filter_map(|&i| read(&nvml, i, t_s)).collect();
                    if let Ok(mut all) = s.lock() {
                        all.extend(readings);
                    }
                    next += period;
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
            })
            .map_err(|e| format!("cannot start the NVML sampler thread ({e})"))?;
        Ok(Sampler {
            devices,
            hz,
            samples,
            stop,
            thread: Some(thread),
        })
    }

    /// The readings between two times (seconds since the run's origin).
    pub fn window(&self, from_s: f64, to_s: f64) -> Vec<GpuSample> {
        self.samples
            .lock()
            .map(|all| {
                all.iter()
                    .filter(|s| s.t_s >= from_s && s.t_s <= to_s)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read(nvml: &Nvml, index: u32, t_s: f64) -> Option<GpuSample> {
    let d = nvml.device_by_index(index).ok()?;
    let memory = d.memory_info().ok()?;
    const MIB: f64 = 1024.0 * 1024.0;
    Some(GpuSample {
        t_s,
        index,
        memory_used_mib: memory.used as f64 / MIB,
        memory_total_mib: memory.total as f64 / MIB,
        utilization_pct: d.utilization_rates().ok().map(|u| f64::from(u.gpu)),
        power_w: d.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
        energy_mj: d.total_energy_consumption().ok(),
        sm_clock_mhz: d.clock_info(Clock::SM).ok(),
        temperature_c: d.temperature(TemperatureSensor::Gpu).ok(),
    })
}

/// Per-GPU figures of a step from its readings: peak and mean memory, mean utilisation and
/// power, and energy — the counter's delta when the GPU has one, else the power integrated
/// over time (trapezoids).
pub fn summarise(samples: &[GpuSample], uuids: &[(u32, String)]) -> Vec<GpuStep> {
    let mut indices: Vec<u32> = samples.iter().map(|s| s.index).collect();
    indices.sort_unstable();
    indices.dedup();
    indices
        .into_iter()
        .filter_map(|index| {
            let mut own: Vec<&GpuSample> = samples.iter().filter(|s| s.index == index).collect();
            own.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
            let first = own.first()?;
            let last = own.last()?;
            let mean = |f: fn(&GpuSample) -> Option<f64>| {
                let values: Vec<f64> = own.iter().filter_map(|s| f(s)).collect();
                (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
            };
            let energy_j = match (first.energy_mj, last.energy_mj) {
                (Some(a), Some(b)) if b >= a && own.len() > 1 => Some((b - a) as f64 / 1000.0),
                _ => {
                    let powered: Vec<(f64, f64)> = own
                        .iter()
                        .filter_map(|s| s.power_w.map(|p| (s.t_s, p)))
                        .collect();
                    (powered.len() > 1).then(|| {
                        powered
                            .windows(2)
                            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
                            .sum()
                    })
                }
            };
            Some(GpuStep {
                index,
                uuid: uuids
                    .iter()
                    .find(|(i, _)| *i == index)
                    .map(|(_, u)| u.clone())
                    .filter(|u| !u.is_empty()),
                memory_used_mib_peak: own.iter().map(|s| s.memory_used_mib).fold(0.0, f64::max),
                memory_used_mib_mean: own.iter().map(|s| s.memory_used_mib).sum::<f64>()
                    / own.len() as f64,
                memory_total_mib: first.memory_total_mib,
                utilization_pct_mean: mean(|s| s.utilization_pct),
                power_w_mean: mean(|s| s.power_w),
                energy_j,
            })
        })
        .collect()
}

/// Mean power of each GPU over readings taken before any load (idle), in index order.
pub fn idle_power(samples: &[GpuSample]) -> Vec<f64> {
    summarise(samples, &[])
        .into_iter()
        .filter_map(|g| g.power_w_mean)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded readings of one GPU (an H100 at 10 Hz, written down as NVML reports them).
    fn recorded() -> Vec<GpuSample> {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/nvml-samples.jsonl"),
        )
        .unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Energy counter 1,000,000 → 1,036,000 mJ: 36 J; memory peak 70,100 MiB; mean power of
    /// 300, 350, 400, 390 W = 360 W.
    #[test]
    fn a_step_is_summarised_from_recorded_samples() {
        let steps = summarise(&recorded(), &[(0, "GPU-abc".into())]);
        assert_eq!(steps.len(), 1);
        let g = &steps[0];
        assert_eq!(g.uuid.as_deref(), Some("GPU-abc"));
        assert_eq!(g.energy_j, Some(36.0));
        assert_eq!(g.memory_used_mib_peak, 70_100.0);
        assert_eq!(g.power_w_mean, Some(360.0));
        assert_eq!(g.utilization_pct_mean, Some(75.0));
    }

    /// Without the energy counter (before Volta) power is integrated: 0.1 s × (300 + 350) / 2
    /// + 0.1 × (350 + 400) / 2 + 0.1 × (400 + 390) / 2 = 32.5 + 37.5 + 39.5 = 109.5 J.
    #[test]
    fn energy_is_integrated_when_the_counter_is_missing() {
        let mut samples = recorded();
        samples.iter_mut().for_each(|s| s.energy_mj = None);
        let g = &summarise(&samples, &[])[0];
        assert!(
            (g.energy_j.unwrap() - 109.5).abs() < 1e-9,
            "{:?}",
            g.energy_j
        );
    }

    #[test]
    fn a_machine_without_nvml_says_why() {
        // CI has no NVIDIA driver: starting must fail with a reason, never panic. (On a GPU
        // machine this starts, and the sampler is dropped at once.)
        match Sampler::start(None, 10.0, Instant::now()) {
            Err(reason) => assert!(!reason.is_empty()),
            Ok(sampler) => assert!(!sampler.devices.gpus.is_empty()),
        }
    }

    #[test]
    fn idle_power_is_the_mean_per_gpu() {
        assert_eq!(idle_power(&recorded()), vec![360.0]);
    }
}
