//! Server telemetry from the Prometheus text format of `/metrics`: vLLM's and llama.cpp's
//! metric names, scraped during each step and summarised into the step's `server` block.
//! Servers whose metrics jauge does not know simply yield none.

use std::time::Duration;

use jauge::dataset::ServerStep;
use tokio::sync::watch;

use crate::limits::METRICS_TIMEOUT;

/// One sample of a metric family.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (`vllm:num_requests_running`).
    pub name: String,
    /// Its labels.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
}

/// Parses the Prometheus text exposition format (version 0.0.4); lines that cannot be read
/// are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name_and_labels, rest) = match line.find('{') {
        Some(open) => {
            let close = closing_brace(line, open)?;
            (&line[..=close], line[close + 1..].trim())
        }
        None => {
            let space = line.find(char::is_whitespace)?;
            (&line[..space], line[space..].trim())
        }
    };
    let (name, labels) = match name_and_labels.find('{') {
        Some(open) => (
            &name_and_labels[..open],
            parse_labels(&name_and_labels[open + 1..name_and_labels.len() - 1]),
        ),
        None => (name_and_labels, Vec::new()),
    };
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The `}` closing the label set that opens at `open`, skipping quoted values.
fn closing_brace(line: &str, open: usize) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line[open..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(open + i),
            _ => {}
        }
    }
    None
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        let after = rest[eq + 1..].trim_start();
        let Some(body) = after.strip_prefix('"') else {
            break;
        };
        let mut value = String::new();
        let mut end = body.len();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.push((key, value));
        rest = &body[end.min(body.len())..];
    }
    labels
}

/// The server state one scrape shows, in jauge's terms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Snapshot {
    /// KV-cache usage, 0–1.
    pub kv_cache_usage: Option<f64>,
    /// Requests running.
    pub running: Option<f64>,
    /// Requests waiting.
    pub waiting: Option<f64>,
    /// Preemptions since start.
    pub preemptions_total: Option<f64>,
    /// Prefix-cache hits since start (tokens).
    pub prefix_hits_total: Option<f64>,
    /// Prefix-cache queries since start (tokens).
    pub prefix_queries_total: Option<f64>,
}

impl Snapshot {
    /// Reads the metrics jauge knows: vLLM's (V1 names, then the older V0 ones) and
    /// llama.cpp's (`--metrics`). Label sets of one metric are added up.
    pub fn from_samples(samples: &[Sample]) -> Snapshot {
        let sum = |names: &[&str]| {
            names.iter().find_map(|name| {
                let mut found = samples.iter().filter(|s| s.name == *name).peekable();
                found.peek()?;
                Some(found.map(|s| s.value).sum::<f64>())
            })
        };
        Snapshot {
            kv_cache_usage: sum(&[
                "vllm:kv_cache_usage_perc",
                "vllm:gpu_cache_usage_perc",
                "llamacpp:kv_cache_usage_ratio",
            ]),
            running: sum(&["vllm:num_requests_running", "llamacpp:requests_processing"]),
            waiting: sum(&["vllm:num_requests_waiting", "llamacpp:requests_deferred"]),
            preemptions_total: sum(&["vllm:num_preemptions_total", "vllm:num_preemptions"]),
            prefix_hits_total: sum(&[
                "vllm:prefix_cache_hits_total",
                "vllm:prefix_cache_hits",
                "llamacpp:prompt_tokens_cached_total",
            ]),
            // llama.cpp counts the prompt tokens it computed apart from those it reused.
            prefix_queries_total: sum(&[
                "vllm:prefix_cache_queries_total",
                "vllm:prefix_cache_queries",
            ])
            .or_else(|| {
                Some(
                    sum(&["llamacpp:prompt_tokens_total"])?
                        + sum(&["llamacpp:prompt_tokens_cached_total"])?,
                )
            }),
        }
    }

    fn is_empty(&self) -> bool {
        *self == Snapshot::default()
    }
}

/// Summarises the scrapes of one step; `before` is the last scrape before it started (for the
/// counters' deltas). `None` when the server exposes nothing jauge knows.
pub fn summarise(before: Option<&Snapshot>, during: &[Snapshot]) -> Option<ServerStep> {
    let during: Vec<&Snapshot> = during.iter().filter(|s| !s.is_empty()).collect();
    if during.is_empty() {
        return None;
    }
    let values =
        |f: fn(&Snapshot) -> Option<f64>| during.iter().filter_map(|s| f(s)).collect::<Vec<f64>>();
    let peak = |v: &[f64]| v.iter().copied().reduce(f64::max);
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let kv = values(|s| s.kv_cache_usage);
    let delta = |f: fn(&Snapshot) -> Option<f64>| {
        let last = during.iter().rev().find_map(|s| f(s))?;
        let first = before
            .and_then(f)
            .or_else(|| during.iter().find_map(|s| f(s)))?;
        Some((last - first).max(0.0))
    };
    let hits = delta(|s| s.prefix_hits_total);
    let queries = delta(|s| s.prefix_queries_total);
    Some(ServerStep {
        kv_cache_usage_pct_peak: peak(&kv).map(|v| (v * 100.0).clamp(0.0, 100.0)),
        kv_cache_usage_pct_mean: mean(&kv).map(|v| (v * 100.0).clamp(0.0, 100.0)),
        running_peak: peak(&values(|s| s.running)).map(|v| v.round() as u32),
        waiting_peak: peak(&values(|s| s.waiting)).map(|v| v.round() as u32),
        preemptions: delta(|s| s.preemptions_total).map(|v| v.round() as u32),
        prefix_cache_hit_pct: match (hits, queries) {
            (Some(h), Some(q)) if q > 0.0 => Some((h / q * 100.0).clamp(0.0, 100.0)),
            _ => None,
        },
        waiting_growing: growing(&values(|s| s.waiting)),
    })
}

/// Whether a queue grew through a step: at least three readings, the last the highest and
/// above the first. `None` with too few readings to tell.
fn growing(waiting: &[f64]) -> Option<bool> {
    if waiting.len() < 3 {
        return None;
    }
    let (first, last) = (waiting[0], waiting[waiting.len() - 1]);
    let peak = waiting.iter().copied().fold(f64::MIN, f64::max);
    Some(last > first && last >= peak)
}

/// Scrapes `url` every `period` until `stop` turns true; returns every snapshot. Each scrape
/// reads at most `limit` bytes within [`METRICS_TIMEOUT`].
pub async fn scrape_until(
    http: reqwest::Client,
    url: String,
    limit: u64,
    period: Duration,
    mut stop: watch::Receiver<bool>,
) -> Vec<Snapshot> {
    let mut snapshots = Vec::new();
    let mut ticker = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Ok(s) = scrape(&http, &url, limit).await {
                    snapshots.push(s);
                }
            }
            _ = stop.changed() => {
                if let Ok(s) = scrape(&http, &url, limit).await {
                    snapshots.push(s);
                }
                return snapshots;
            }
        }
    }
}

/// One scrape of at most `limit` bytes within [`METRICS_TIMEOUT`].
///
/// # Errors
/// Why there is no snapshot: no answer, an error status, an answer too large, or nothing in
/// it that jauge knows.
pub async fn scrape(http: &reqwest::Client, url: &str, limit: u64) -> Result<Snapshot, String> {
    let (status, body) =
        crate::fetch::call(http.get(url), format!("GET {url}"), limit, METRICS_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(crate::secrets::redact(&format!("GET {url}: HTTP {status}")));
    }
    let snapshot = Snapshot::from_samples(&parse(&String::from_utf8_lossy(&body)));
    if snapshot.is_empty() {
        return Err(crate::secrets::redact(&format!(
            "GET {url}: no metric jauge knows"
        )));
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn vllm_metrics_are_read() {
        let s = Snapshot::from_samples(&parse(&fixture("vllm-metrics.txt")));
        assert_eq!(s.kv_cache_usage, Some(0.4375));
        assert_eq!((s.running, s.waiting), (Some(12.0), Some(3.0)));
        assert_eq!(s.preemptions_total, Some(7.0));
        assert_eq!(
            (s.prefix_hits_total, s.prefix_queries_total),
            (Some(2048.0), Some(8192.0))
        );
    }

    #[test]
    fn older_vllm_names_are_read() {
        let text = "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.25\nvllm:num_preemptions_total{model_name=\"m\"} 2.0\n";
        let s = Snapshot::from_samples(&parse(text));
        assert_eq!(
            (s.kv_cache_usage, s.preemptions_total),
            (Some(0.25), Some(2.0))
        );
    }

    #[test]
    fn llama_cpp_metrics_are_read() {
        let s = Snapshot::from_samples(&parse(&fixture("llama-cpp-metrics.txt")));
        assert_eq!(s.kv_cache_usage, Some(0.125));
        assert_eq!((s.running, s.waiting), (Some(4.0), Some(1.0)));
        assert_eq!(s.preemptions_total, None);
    }

    /// Today's llama.cpp has no KV-cache gauge any more, but counts the prompt tokens it
    /// reused: the prefix-cache hit rate comes from them.
    #[test]
    fn current_llama_cpp_metrics_give_the_prefix_cache_hits() {
        let text = fixture("llama-cpp-metrics-0c1e570.txt");
        let s = Snapshot::from_samples(&parse(&text));
        assert_eq!(s.kv_cache_usage, None);
        assert_eq!((s.running, s.waiting), (Some(0.0), Some(0.0)));
        assert_eq!(s.prefix_hits_total, Some(157.0));
        assert_eq!(s.prefix_queries_total, Some(1651.0 + 157.0));
    }

    #[test]
    fn a_queue_that_keeps_growing_is_recognised() {
        assert_eq!(growing(&[0.0, 3.0, 7.0, 12.0]), Some(true));
        assert_eq!(growing(&[5.0, 9.0, 4.0]), Some(false));
        assert_eq!(growing(&[0.0, 0.0, 0.0]), Some(false));
        assert_eq!(growing(&[1.0, 2.0]), None);
    }

    #[test]
    fn unknown_servers_yield_nothing() {
        assert!(summarise(
            None,
            &[Snapshot::from_samples(&parse("http_requests_total 5\n"))]
        )
        .is_none());
    }

    #[test]
    fn labels_with_quotes_commas_and_braces_parse() {
        let samples = parse(r#"m{a="x,y",b="q\"}{",c="\\"} 1.5 1700000000000"#);
        assert_eq!(
            samples[0].labels,
            [
                ("a".into(), "x,y".into()),
                ("b".into(), "q\"}{".into()),
                ("c".into(), "\\".into())
            ]
        );
        assert_eq!(samples[0].value, 1.5);
        assert_eq!(
            parse("m +Inf\n# HELP m x\n\nbad line here\n")[0].value,
            f64::INFINITY
        );
    }

    /// KV usage 0.2 → 0.6 → 0.4: peak 60 %, mean 40 %; preemptions 5 before, 9 at the end: 4;
    /// prefix hits 100 of 400 queried tokens during the step: 25 %.
    #[test]
    fn a_step_is_summarised_by_hand() {
        let snap = |kv, running, pre, hits, queries| Snapshot {
            kv_cache_usage: Some(kv),
            running: Some(running),
            waiting: Some(0.0),
            preemptions_total: Some(pre),
            prefix_hits_total: Some(hits),
            prefix_queries_total: Some(queries),
        };
        let before = snap(0.0, 0.0, 5.0, 1000.0, 2000.0);
        let during = [
            snap(0.2, 4.0, 5.0, 1000.0, 2100.0),
            snap(0.6, 8.0, 7.0, 1050.0, 2300.0),
            snap(0.4, 6.0, 9.0, 1100.0, 2400.0),
        ];
        let s = summarise(Some(&before), &during).unwrap();
        assert_eq!(s.kv_cache_usage_pct_peak, Some(60.0));
        assert!((s.kv_cache_usage_pct_mean.unwrap() - 40.0).abs() < 1e-9);
        assert_eq!(
            (s.running_peak, s.waiting_peak, s.preemptions),
            (Some(8), Some(0), Some(4))
        );
        assert_eq!(s.prefix_cache_hit_pct, Some(25.0));
        assert_eq!(s.waiting_growing, Some(false));
    }
}
