//! How many simultaneous streams one jauge process can hold, so that a concurrency it cannot
//! hold is refused with the reason before anything is sent, instead of failing requests (or
//! eating the machine's memory) halfway through a sweep.
//!
//! Three things bound it: open files (each stream holds one connection), the client ports to
//! one server address, and memory per stream. The file limit is raised to what the run needs
//! when the hard limit allows it, as Go's runtime does at start-up.

/// Files the process keeps for itself beside its connections: the dataset, the request log,
/// NVML, the runtime's own descriptors.
const RESERVED_FILES: u64 = 64;

/// Memory one stream costs beside its request body, bytes: its task, its connection's buffers
/// (hyper reads in 8 KiB and grows only for large chunks), its records and the SSE parser.
/// Measured: `jauge run` peaked at 45.1 MiB with 1,024 streams of 16-token prompts and outputs
/// against `serve-sim`, 8.8 MiB with one, about 35 KiB a stream; doubled for longer outputs.
pub const STREAM_BYTES: u64 = 64 << 10;

/// The share of the memory available at start that the streams may take: the rest is for the
/// records, the server when it runs on the same machine, and everything else.
const MEMORY_SHARE: f64 = 0.5;

/// What bounds this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Open files now allowed (soft limit), and the most it may be raised to (hard limit).
    pub files: Option<(u64, u64)>,
    /// Client ports to one server address (`ip_local_port_range`).
    pub ports: Option<u64>,
    /// Memory available, bytes (`MemAvailable`).
    pub memory: Option<u64>,
}

impl Bounds {
    /// This machine's and process's bounds; what cannot be read is left out.
    pub fn of_this_process() -> Bounds {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        Bounds {
            files: Some((
                limit.current.unwrap_or(u64::MAX),
                limit.maximum.unwrap_or(u64::MAX),
            )),
            ports: std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
                .ok()
                .and_then(|t| {
                    let mut range = t.split_whitespace().map(|n| n.parse::<u64>().ok());
                    let (low, high) = (range.next()??, range.next()??);
                    Some(high.saturating_sub(low) + 1)
                }),
            memory: std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("MemAvailable:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    .map(|kib| kib * 1024)
            }),
        }
    }

    /// Whether `streams` streams with request bodies of `body_bytes` fit; the error says which
    /// bound, why, and what to do. `Ok(files)` gives the open-file limit the run needs raised
    /// to, when it must be.
    pub fn check(&self, streams: u32, body_bytes: u64, flag: &str) -> Result<Option<u64>, String> {
        let streams = u64::from(streams);
        let split =
            "or split the load over several jauge processes or machines, each with a share of it";
        if let Some(ports) = self.ports {
            if streams > ports {
                return Err(format!(
                    "{flag} {streams}: one client address can hold at most {ports} connections to one server port (this machine's ip_local_port_range); {split}"
                ));
            }
        }
        let mut raise = None;
        if let Some((soft, hard)) = self.files {
            let needed = streams + RESERVED_FILES;
            if needed > hard {
                return Err(format!(
                    "{flag} {streams}: each stream holds a connection, and this process may open at most {hard} files (ulimit -Hn); raise the hard limit to at least {needed}, {split}"
                ));
            }
            if needed > soft {
                raise = Some(needed);
            }
        }
        if let Some(available) = self.memory {
            let per_stream = STREAM_BYTES.saturating_add(body_bytes);
            let needed = streams.saturating_mul(per_stream);
            let room = (available as f64 * MEMORY_SHARE) as u64;
            if needed > room {
                return Err(format!(
                    "{flag} {streams}: about {} MiB per stream ({} MiB in all) would pass half of the {} MiB of memory available; {split}",
                    per_stream >> 20,
                    needed >> 20,
                    available >> 20
                ));
            }
        }
        Ok(raise)
    }
}

/// Checks that this process can hold `streams` streams and raises its open-file limit to what
/// they need.
///
/// # Errors
/// A one-line message naming `flag`, the bound and what to do.
pub fn ensure(streams: u32, body_bytes: u64, flag: &str) -> Result<(), String> {
    let bounds = Bounds::of_this_process();
    if let Some(needed) = bounds.check(streams, body_bytes, flag)? {
        let hard = bounds.files.map_or(needed, |(_, hard)| hard);
        rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: Some(hard.min(needed.saturating_mul(2))),
                maximum: Some(hard),
            },
        )
        .map_err(|e| {
            format!("{flag} {streams}: cannot raise the open-file limit to {needed}: {e}; raise it with ulimit -n {needed}")
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> Bounds {
        Bounds {
            files: Some((1024, 4096)),
            ports: Some(28_232),
            memory: Some(8 << 30),
        }
    }

    #[test]
    fn a_concurrency_within_every_bound_passes_and_may_need_more_files() {
        assert_eq!(bounds().check(100, 1000, "--concurrency"), Ok(None));
        assert_eq!(bounds().check(2048, 1000, "--concurrency"), Ok(Some(2112)));
    }

    #[test]
    fn each_bound_refuses_with_its_reason() {
        let err = bounds()
            .check(1_000_000, 1000, "--concurrency")
            .unwrap_err();
        assert!(err.contains("ip_local_port_range"), "{err}");
        let err = bounds().check(5000, 1000, "--concurrency").unwrap_err();
        assert!(
            err.contains("ulimit -Hn") && err.contains("split the load"),
            "{err}"
        );
        let big = Bounds {
            files: None,
            ports: None,
            memory: Some(1 << 30),
        };
        let err = big.check(1000, 1 << 20, "--concurrency").unwrap_err();
        assert!(err.contains("memory available"), "{err}");
    }

    #[test]
    fn unknown_bounds_refuse_nothing() {
        let none = Bounds {
            files: None,
            ports: None,
            memory: None,
        };
        assert_eq!(none.check(u32::MAX, u64::MAX, "--concurrency"), Ok(None));
    }
}
