//! Load from several clients, merged exactly: two shards of `jauge run` against one built-in
//! server, `jauge merge`, beside one client sending the same load.

use std::process::{Command, Output};

mod common;
use common::{dataset, dir, records, serve_sim, text, JAUGE};

fn run(url: &str, out: &std::path::Path, extra: &[&str]) -> Command {
    let mut c = Command::new(JAUGE);
    c.args(["run", "--url", url, "-q", "--no-gpu"])
        .args([
            "--concurrency",
            "4,8",
            "--prompt-tokens",
            "64",
            "--output-tokens",
            "32",
        ])
        .args(["--requests-per-step", "48", "--warmup", "2", "--full-grid"])
        .args(extra)
        .arg("--out")
        .arg(out);
    c
}

fn finished(c: &mut Command) -> Output {
    c.output().unwrap()
}

#[test]
fn two_shards_merged_match_one_client_sending_the_same_load() {
    let (_server, url) = serve_sim(&["--time-scale", "10"]);
    let d = dir("shards");
    let sync = d.join("meet");
    let shard_out = |i: u32| d.join(format!("shard-{i}.json"));
    // Both shards at once: each waits for the other before each step.
    let children: Vec<std::process::Child> = (0..2)
        .map(|i| {
            run(
                &url,
                &shard_out(i),
                &[
                    "--shard",
                    &format!("{i}/2"),
                    "--shard-sync",
                    sync.to_str().unwrap(),
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    for i in 0..2 {
        let shard = dataset(&shard_out(i));
        assert!(shard
            .notes
            .iter()
            .any(|n| n.starts_with(&format!("Shard {i} of 2"))));
        // Each shard sent half of every step's requests, filed under the whole step.
        assert_eq!(shard.steps[1].concurrency, 8);
        assert_eq!(shard.steps[1].requests.unwrap().sent, 24);
    }
    let merged = d.join("merged.json");
    let o = Command::new(JAUGE)
        .args(["merge"])
        .arg(shard_out(0))
        .arg(shard_out(1))
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let m = dataset(&merged);
    assert_eq!(
        records(&merged)
            .iter()
            .filter(|r| r["warmup"] != true)
            .count(),
        96
    );
    let single_out = d.join("single.json");
    // Prompts of its own: the server's prefix cache holds the shards' (shard 0's seed is 0).
    let o = finished(&mut run(&url, &single_out, &["--seed", "7"]));
    assert!(o.status.success(), "{}", text(&o));
    let single = dataset(&single_out);
    for (a, b) in m.steps.iter().zip(&single.steps) {
        assert_eq!(
            (a.concurrency, a.requests.unwrap().sent),
            (b.concurrency, 48)
        );
        let (x, y) = (
            a.throughput.output_tok_s.unwrap(),
            b.throughput.output_tok_s.unwrap(),
        );
        assert!(
            (x - y).abs() / y < 0.25,
            "{} users: merged {x:.0} tok/s, one client {y:.0}",
            a.concurrency
        );
        let (x, y) = (
            a.latency.tpot_ms.unwrap().p95.unwrap(),
            b.latency.tpot_ms.unwrap().p95.unwrap(),
        );
        assert!(
            (x - y).abs() / y < 0.25,
            "{} users: merged TPOT p95 {x:.1} ms, one client {y:.1}",
            a.concurrency
        );
    }
    // An existing --out is kept unless --force.
    let again = Command::new(JAUGE)
        .args(["merge"])
        .arg(shard_out(0))
        .arg(shard_out(1))
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("--force"));
}

#[test]
fn bad_shards_are_refused() {
    for (args, says) in [
        (&["--shard", "2/2"][..], "--shard 2/2"),
        (&["--shard", "x"][..], "--shard x"),
        (
            &["--shard", "0/16", "--concurrency", "4,32"][..],
            "at least one user per shard",
        ),
    ] {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        let o = Command::new(JAUGE).args(&all).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
    }
    let o = Command::new(JAUGE)
        .args(["limit", "--shard", "0/2", "--slo-ttft-ms", "100"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("shard jauge run"), "{}", text(&o));
}
