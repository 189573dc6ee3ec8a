//! What the end-to-end tests share: scratch folders, the CLI's output, datasets and request
//! records on disk, child processes that die with the test, the serve-sim address.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jauge::dataset::Dataset;
use serde_json::Value;

/// The `jauge` binary under test.
pub const JAUGE: &str = env!("CARGO_BIN_EXE_jauge");

/// An empty scratch folder of this test process.
pub fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("jauge-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// What a command printed, both streams.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A dataset file, read and checked.
pub fn dataset(path: &Path) -> Dataset {
    Dataset::from_json(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The per-request records beside a dataset.
pub fn records(out: &Path) -> Vec<Value> {
    let path = out.with_file_name(format!(
        "{}.requests.jsonl",
        out.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits (up to a minute) until the dataset at `path` holds a finished step.
pub fn wait_for_a_step(path: &Path) {
    let started = Instant::now();
    while std::fs::read_to_string(path)
        .ok()
        .and_then(|t| Dataset::from_json(&t).ok())
        .is_none_or(|d| d.steps.is_empty())
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no step written in a minute"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends Ctrl-C (SIGINT) to a child.
pub fn interrupt(child: &Child) {
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
}

/// A child process killed when the test ends, however it ends.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `jauge serve-sim --port 0` with these arguments, and the URL it says it listens on.
pub fn serve_sim(args: &[&str]) -> (KillOnDrop, String) {
    let mut server = KillOnDrop(
        Command::new(JAUGE)
            .args(["serve-sim", "--port", "0"])
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(server.0.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve-sim says where it listens")
            .unwrap();
        if let Some(at) = line.find("http://") {
            break line[at..].split_whitespace().next().unwrap().to_string();
        }
    };
    (server, url)
}
