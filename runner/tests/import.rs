//! `jauge import` on the tools' real result files (`tests/fixtures/import/`): every mapped
//! figure equals the tool's own value, read here from the file itself; what must be absent is
//! absent; damaged files fail on one line naming the file and the field, and write nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{dir, text, JAUGE};
use jauge::dataset::{Arrival, CountSource, Dataset, Endpoint, ErrorKind, Source, Step, Summary};
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(rel)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn jauge(args: &[&str]) -> Output {
    Command::new(JAUGE).args(args).output().expect("jauge runs")
}

/// `jauge import ARGS --out OUT`, which must succeed; the dataset at OUT.
fn import(args: &[&str], out: &Path) -> Dataset {
    let o = jauge(&[&["import"], args, &["--out", out.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", text(&o));
    common::dataset(out)
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `jauge import ARGS --out OUT`, which must fail as bad input (exit 2) on one line holding
/// `needle`, leaving nothing at OUT.
#[track_caller]
fn refused(args: &[&str], out: &Path, needle: &str) -> String {
    let o = jauge(&[&["import"], args, &["--out", path_str(out)]].concat());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(needle), "`{needle}` not in: {err}");
    assert!(!out.exists(), "nothing is written");
    err
}

/// `value` written as `dir/name`.
fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

/// `a` equals `b` but for the last bits of a float (a unit conversion).
#[track_caller]
fn same(a: Option<f64>, b: f64) {
    let a = a.unwrap_or_else(|| panic!("absent, expected {b}"));
    assert!(
        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        "{a} is not the file's {b}"
    );
}

/// A number of the file (llmperf writes some as strings).
fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        v => v.as_f64().unwrap_or_else(|| panic!("{v} is not a number")),
    }
}

/// The expected figures of a summary, in its unit: mean, p50, p90, p95, p99, max.
#[track_caller]
fn figures(s: &Option<Summary>, expected: [Option<f64>; 6], scale: f64) {
    let s = s.as_ref().expect("a summary");
    let got = [s.mean, s.p50, s.p90, s.p95, s.p99, s.max];
    for (name, (g, e)) in ["mean", "p50", "p90", "p95", "p99", "max"]
        .iter()
        .zip(got.iter().zip(expected))
    {
        match e {
            Some(e) => {
                let g = g.unwrap_or_else(|| panic!("{name} absent, expected {e}"));
                assert!(
                    (g - e * scale).abs() <= 1e-12 * (e * scale).abs().max(1.0),
                    "{name}: {g} is not the file's {e} × {scale}"
                );
            }
            None => assert_eq!(*g, None, "{name} should be absent"),
        }
    }
}

fn note_with<'a>(d: &'a Dataset, needle: &str) -> &'a str {
    d.notes
        .iter()
        .find(|n| n.contains(needle))
        .unwrap_or_else(|| panic!("no note with `{needle}` in {:#?}", d.notes))
}

// ---------------------------------------------------------------- vLLM

/// vLLM's summary of a metric: mean, median, p90, p95, p99 (max from the arrays, below).
fn vllm_figures(run: &Value, metric: &str) -> [Option<f64>; 6] {
    let get = |k: String| run.get(&k).and_then(Value::as_f64);
    [
        get(format!("mean_{metric}_ms")),
        get(format!("median_{metric}_ms")),
        get(format!("p90_{metric}_ms")),
        get(format!("p95_{metric}_ms")),
        get(format!("p99_{metric}_ms")),
        None,
    ]
}

fn max_of(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(f64::MIN, f64::max)
}

#[test]
fn vllm_bench_serve_maps_every_figure_to_the_files_own_value() {
    let d = dir("import-vllm");
    let input = fixture("vllm/bench_serve_c4_detailed.json");
    let run = read_json(&input);
    let out = d.join("c4.json");
    let ds = import(&[path_str(&input)], &out);

    assert_eq!(ds.source, Source::Imported("vllm".into()));
    assert_eq!(ds.provenance.tool, "vllm");
    assert_eq!(ds.provenance.tool_version, "unknown");
    assert_eq!(ds.provenance.created_at, "2026-11-25T13:44:44Z"); // "date": "20261125-134444"
    assert_eq!(ds.deployment.model.served_name, run["model_id"]);
    assert_eq!(ds.deployment.gpus.name, "unknown");
    assert_eq!(ds.workload.endpoint, Endpoint::Completions);
    assert_eq!(ds.workload.rate_rps, None); // request_rate "inf" with a cap: closed loop
    assert_eq!(ds.steps.len(), 1);
    let s = &ds.steps[0];
    let completed = run["completed"].as_u64().unwrap() as u32;
    assert_eq!(
        s.concurrency as u64,
        run["max_concurrency"].as_u64().unwrap()
    );
    assert_eq!(s.rate_rps, None);
    assert_eq!(
        f64::from(s.prompt_tokens),
        (num(&run["total_input_tokens"]) / f64::from(completed)).round()
    );
    assert_eq!(
        f64::from(s.output_tokens),
        (num(&run["total_output_tokens"]) / f64::from(completed)).round()
    );
    let r = s.requests.unwrap();
    assert_eq!(
        (r.completed, r.failed),
        (completed, run["failed"].as_u64().unwrap() as u32)
    );
    assert_eq!(r.sent, run["num_prompts"].as_u64().unwrap() as u32);
    assert_eq!(s.errors.get(&ErrorKind::ServerError), Some(&r.failed)); // "Internal Server Error"
    same(s.duration_s, num(&run["duration"]));
    same(s.throughput.output_tok_s, num(&run["output_throughput"]));
    same(
        s.throughput.total_tok_s,
        num(&run["total_token_throughput"]),
    );
    same(s.throughput.requests_s, num(&run["request_throughput"]));
    assert_eq!(
        s.token_counts, None,
        "vLLM does not say where its counts come from"
    );

    // The completed requests' arrays give the maxima the summaries leave out.
    let ok: Vec<usize> = run["errors"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, e)| e.as_str() == Some(""))
        .map(|(i, _)| i)
        .collect();
    let at = |key: &str, i: usize| num(&run[key][i]);
    let max_ttft = max_of(ok.iter().map(|&i| at("ttfts", i)));
    let gaps: Vec<f64> = ok
        .iter()
        .flat_map(|&i| run["itls"][i].as_array().unwrap().iter().map(num))
        .collect();
    let max_tpot = max_of(
        ok.iter()
            .map(|&i| (at("latencies", i) - at("ttfts", i)) / (at("output_lens", i) - 1.0)),
    );
    let max_e2e = max_of(ok.iter().map(|&i| at("latencies", i)));

    let l = &s.latency;
    let with_max = |mut f: [Option<f64>; 6], max: f64| {
        f[5] = Some(max * 1000.0);
        f
    };
    figures(
        &l.ttft_ms,
        with_max(vllm_figures(&run, "ttft"), max_ttft),
        1.0,
    );
    figures(
        &l.itl_ms,
        with_max(vllm_figures(&run, "itl"), max_of(gaps.iter().copied())),
        1.0,
    );
    figures(
        &l.tpot_ms,
        with_max(vllm_figures(&run, "tpot"), max_tpot),
        1.0,
    );
    figures(
        &l.e2e_ms,
        with_max(vllm_figures(&run, "e2el"), max_e2e),
        1.0,
    );
    assert_eq!(l.ttft_ms.unwrap().count, Some(completed));
    let longer_than_one = ok.iter().filter(|&&i| at("output_lens", i) > 1.0).count();
    assert_eq!(l.tpot_ms.unwrap().count, Some(longer_than_one as u32));
    assert_eq!(l.itl_ms.unwrap().count, Some(gaps.len() as u32));
    assert_eq!(l.ttft_from_intended_ms, None);

    note_with(&ds, "bench_serve_c4_detailed.json");
    note_with(&ds, "token_counts is left out");
    note_with(&ds, "Deployment: the file does not record");
}

/// The rows of a pandas CSV dump, by column name (quoted cells hold commas).
fn csv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let split = |line: &str| -> Vec<String> {
        let (mut cells, mut cell, mut quoted) = (Vec::new(), String::new(), false);
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => cells.push(std::mem::take(&mut cell)),
                c => cell.push(c),
            }
        }
        cells.push(cell);
        cells
    };
    let mut lines = text.lines();
    let header = split(lines.next().unwrap());
    lines
        .map(|l| header.iter().cloned().zip(split(l)).collect())
        .collect()
}

#[test]
fn vllm_sweep_folder_becomes_one_dataset_per_run_number_never_averaged() {
    let d = dir("import-vllm-sweep");
    let folder = fixture("vllm/sweep_exp1");
    let rows = csv(&folder.join("summary.csv"));
    let o = jauge(&[
        "import",
        path_str(&folder),
        "--out",
        path_str(&d.join("exp1.json")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let runs: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["run_number"].as_str()).collect();
    assert_eq!(runs.len(), 3, "the sweep ran each point 3 times");
    for run in runs {
        let ds = common::dataset(&d.join(format!("exp1-run{run}.json")));
        note_with(&ds, "never averaged");
        let mine: Vec<_> = rows.iter().filter(|r| r["run_number"] == run).collect();
        assert_eq!(ds.steps.len(), mine.len());
        for row in mine {
            let f = |k: &str| row[k].parse::<f64>().unwrap();
            let s = ds
                .steps
                .iter()
                .find(|s| f64::from(s.concurrency) == f("max_concurrency"))
                .unwrap();
            let r = s.requests.unwrap();
            assert_eq!(
                (f64::from(r.completed), f64::from(r.failed)),
                (f("completed"), f("failed"))
            );
            same(s.duration_s, f("duration"));
            same(s.throughput.output_tok_s, f("output_throughput"));
            same(s.throughput.total_tok_s, f("total_token_throughput"));
            same(s.throughput.requests_s, f("request_throughput"));
            let l = &s.latency;
            for (summary, metric) in [
                (&l.ttft_ms, "ttft"),
                (&l.tpot_ms, "tpot"),
                (&l.itl_ms, "itl"),
                (&l.e2e_ms, "e2el"),
            ] {
                let s = summary.unwrap();
                same(s.mean, f(&format!("mean_{metric}_ms")));
                same(s.p50, f(&format!("p50_{metric}_ms")));
                same(s.p90, f(&format!("p90_{metric}_ms")));
                same(s.p95, f(&format!("p95_{metric}_ms")));
                same(s.p99, f(&format!("p99_{metric}_ms")));
            }
            // The sweep keeps `latencies` (0.0 for a failed request): E2E's maximum.
            let latencies: Vec<f64> = row["latencies"]
                .trim_matches(['[', ']'])
                .split(", ")
                .map(|v| v.parse().unwrap())
                .collect();
            same(
                l.e2e_ms.unwrap().max,
                max_of(latencies.into_iter()) * 1000.0,
            );
            assert_eq!(
                l.ttft_ms.unwrap().max,
                None,
                "no ttfts without --save-detailed"
            );
        }
    }
}

#[test]
fn a_sweep_run_file_reads_the_same_as_its_summary_row() {
    let d = dir("import-vllm-run");
    let run_file = fixture("vllm/sweep_exp1/BENCH--max_concurrency=4/run=0.json");
    let run = read_json(&run_file);
    let ds = import(&[path_str(&run_file)], &d.join("run0.json"));
    let o = jauge(&[
        "import",
        path_str(&fixture("vllm/sweep_exp1")),
        "--out",
        path_str(&d.join("sweep.json")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let summary = common::dataset(&d.join("sweep-run0.json"));
    let by_csv = summary.steps.iter().find(|s| s.concurrency == 4).unwrap();
    assert_eq!(&ds.steps[0], by_csv);
    same(
        ds.steps[0].latency.ttft_ms.unwrap().p95,
        num(&run["p95_ttft_ms"]),
    );
}

#[test]
fn a_sweep_folder_without_its_summary_reads_its_run_files() {
    let d = dir("import-vllm-runs");
    let point = d.join("exp/BENCH--max_concurrency=4");
    std::fs::create_dir_all(&point).unwrap();
    std::fs::copy(
        fixture("vllm/sweep_exp1/BENCH--max_concurrency=4/run=0.json"),
        point.join("run=0.json"),
    )
    .unwrap();
    let ds = import(&[path_str(&d.join("exp"))], &d.join("exp.json"));
    assert_eq!(ds.steps.len(), 1);
    note_with(&ds, "run=0.json");
}

#[test]
fn a_sweeps_summary_json_list_is_read_before_its_run_files() {
    let d = dir("import-vllm-summary-json");
    let run = read_json(&fixture(
        "vllm/sweep_exp1/BENCH--max_concurrency=4/run=0.json",
    ));
    let mut second = run.clone();
    second["run_number"] = 1.into();
    second["mean_ttft_ms"] = 40.0.into();
    let exp = d.join("exp");
    std::fs::create_dir_all(exp.join("BENCH--max_concurrency=4")).unwrap();
    write_json(&exp, "summary.json", &Value::Array(vec![run, second]));
    write_json(
        &exp.join("BENCH--max_concurrency=4"),
        "run=0.json",
        &Value::Null,
    );
    let o = jauge(&[
        "import",
        path_str(&exp),
        "--out",
        path_str(&d.join("s.json")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let second = common::dataset(&d.join("s-run1.json"));
    assert_eq!(second.steps[0].latency.ttft_ms.unwrap().mean, Some(40.0));
    note_with(&second, "summary.json");
}

#[test]
fn vllm_append_result_lines_become_steps_and_a_bad_line_is_named() {
    let d = dir("import-vllm-jsonl");
    let mut run = read_json(&fixture(
        "vllm/sweep_exp1/BENCH--max_concurrency=4/run=0.json",
    ));
    let first = serde_json::to_string(&run).unwrap();
    run["max_concurrency"] = 1.into();
    let second = serde_json::to_string(&run).unwrap();
    let lines = d.join("results.jsonl");
    std::fs::write(&lines, format!("{first}\n{second}\n")).unwrap();
    let ds = import(&[path_str(&lines)], &d.join("lines.json"));
    assert_eq!(ds.workload.concurrency, [1, 4]);

    run.as_object_mut().unwrap().remove("completed");
    let broken = d.join("broken.jsonl");
    let third = serde_json::to_string(&run).unwrap();
    std::fs::write(&broken, format!("{first}\n{third}\n")).unwrap();
    let err = refused(&[path_str(&broken)], &d.join("b.json"), "");
    assert_eq!(
        err,
        format!(
            "jauge: error: {}: [line 2].completed: missing",
            broken.display()
        )
    );
}

#[test]
fn open_loop_runs_keep_their_rate_and_count_the_requests_as_concurrency() {
    let d = dir("import-vllm-rate");
    let mut run = read_json(&fixture(
        "vllm/sweep_exp1/BENCH--max_concurrency=4/run=0.json",
    ));
    run["request_rate"] = 8.0.into();
    run["max_concurrency"] = Value::Null;
    run["burstiness"] = 0.5.into();
    let path = write_json(&d, "rate.json", &run);
    let ds = import(&[path_str(&path)], &d.join("out.json"));
    let s = &ds.steps[0];
    assert_eq!((s.rate_rps, s.concurrency), (Some(8.0), 16));
    assert_eq!(ds.workload.rate_rps, Some(8.0));
    assert_eq!(ds.workload.arrival, Some(Arrival::Gamma));
    note_with(&ds, "concurrency is the 16 requests sent");
}

#[test]
fn python_nan_figures_are_read_as_absent_and_said() {
    let d = dir("import-vllm-nan");
    let text = std::fs::read_to_string(fixture(
        "vllm/sweep_exp1/BENCH--max_concurrency=4/run=0.json",
    ))
    .unwrap()
    .replace("\"p99_itl_ms\": 11.143601219778247", "\"p99_itl_ms\": NaN");
    let path = d.join("nan.json");
    std::fs::write(&path, text).unwrap();
    let ds = import(&[path_str(&path)], &d.join("out.json"));
    assert_eq!(ds.steps[0].latency.itl_ms.unwrap().p99, None);
    note_with(&ds, "NaN or Infinity");
}

// ---------------------------------------------------------------- GuideLLM

/// A GuideLLM distribution's mean, p50, p90, p95, p99, max.
fn guidellm_figures(d: &Value) -> [Option<f64>; 6] {
    let p = &d["percentiles"];
    [
        Some(num(&d["mean"])),
        Some(num(&p["p50"])),
        Some(num(&p["p90"])),
        Some(num(&p["p95"])),
        Some(num(&p["p99"])),
        Some(num(&d["max"])),
    ]
}

#[test]
fn guidellm_report_maps_ttft_e2e_and_its_token_weighted_itl_as_tpot_when_lengths_are_equal() {
    let d = dir("import-guidellm");
    let input = fixture("guidellm/guidellm_report_0.8.1.trimmed.json");
    let report = read_json(&input);
    let ds = import(&[path_str(&input)], &d.join("g.json"));
    assert_eq!(ds.source, Source::Imported("guidellm".into()));
    assert_eq!(
        ds.provenance.tool_version,
        report["metadata"]["guidellm_version"]
    );
    assert_eq!(ds.provenance.created_at, "2026-11-25T13:40:26Z"); // benchmarks[0].start_time
    assert_eq!(
        ds.deployment.model.served_name,
        report["config"]["spec"]["backend"]["model"]
    );
    let benchmarks = report["benchmarks"].as_array().unwrap();
    assert_eq!(ds.steps.len(), benchmarks.len());
    for b in benchmarks {
        let m = &b["metrics"];
        let ok = |name: &str| &m[name]["successful"];
        let streams = b["config"]["strategy"]["streams"].as_u64().unwrap() as u32;
        let s = ds.steps.iter().find(|s| s.concurrency == streams).unwrap();
        let totals = &m["request_totals"];
        let r = s.requests.unwrap();
        assert_eq!(u64::from(r.sent), totals["total"].as_u64().unwrap());
        assert_eq!(
            u64::from(r.completed),
            totals["successful"].as_u64().unwrap()
        );
        assert_eq!(
            u64::from(r.failed),
            totals["errored"].as_u64().unwrap() + totals["incomplete"].as_u64().unwrap()
        );
        same(s.duration_s, num(&b["duration"]));
        assert_eq!(
            f64::from(s.prompt_tokens),
            num(&ok("prompt_token_count")["mean"]).round()
        );
        assert_eq!(
            f64::from(s.output_tokens),
            num(&ok("output_token_count")["mean"]).round()
        );
        figures(
            &s.latency.ttft_ms,
            guidellm_figures(ok("time_to_first_token_ms")),
            1.0,
        );
        figures(
            &s.latency.e2e_ms,
            guidellm_figures(ok("request_latency")),
            1000.0,
        );
        // Every request has 32 output tokens: the token-weighted ITL is the per-request TPOT.
        assert_eq!(
            ok("output_token_count")["min"],
            ok("output_token_count")["max"]
        );
        figures(
            &s.latency.tpot_ms,
            guidellm_figures(ok("inter_token_latency_ms")),
            1.0,
        );
        assert_eq!(s.latency.tpot_ms.unwrap().count, Some(r.completed));
        assert_ne!(
            s.latency.tpot_ms.unwrap().mean.unwrap(),
            num(&ok("time_per_output_token_ms")["mean"]),
            "time_per_output_token_ms has the TTFT inside"
        );
        assert_eq!(s.latency.itl_ms, None, "GuideLLM keeps no per-gap ITL");
        same(
            s.throughput.output_tok_s,
            num(&ok("output_tokens_per_second")["mean"]),
        );
        same(
            s.throughput.total_tok_s,
            num(&ok("tokens_per_second")["mean"]),
        );
        same(
            s.throughput.requests_s,
            num(&ok("requests_per_second")["mean"]),
        );
        assert_eq!(s.throughput.per_user_output_tok_s, None);
        assert_eq!(s.token_counts, None);
    }
    note_with(&ds, "time_per_output_token_ms includes the TTFT");
}

#[test]
fn guidellm_tpot_is_left_out_when_output_lengths_vary() {
    let d = dir("import-guidellm-vary");
    let mut report = read_json(&fixture("guidellm/guidellm_report_0.8.1.trimmed.json"));
    report["benchmarks"][1]["metrics"]["output_token_count"]["successful"]["min"] = 20.0.into();
    let path = write_json(&d, "vary.json", &report);
    let ds = import(&[path_str(&path)], &d.join("out.json"));
    let c4 = ds.steps.iter().find(|s| s.concurrency == 4).unwrap();
    let c1 = ds.steps.iter().find(|s| s.concurrency == 1).unwrap();
    assert_eq!(c4.latency.tpot_ms, None);
    assert!(c1.latency.tpot_ms.is_some());
    note_with(&ds, "tpot_ms left out: output lengths varied");
}

#[test]
fn guidellm_reports_of_unknown_versions_are_refused() {
    let d = dir("import-guidellm-version");
    let mut report = read_json(&fixture("guidellm/guidellm_report_0.8.1.trimmed.json"));
    report["metadata"]["version"] = 3.into();
    let path = write_json(&d, "v3.json", &report);
    refused(
        &[path_str(&path)],
        &d.join("o.json"),
        "metadata.version: 3: a report format newer",
    );
}

// ---------------------------------------------------------------- AIPerf, GenAI-Perf

/// An AIPerf metric's avg, p50, p90, p95, p99, max.
fn aiperf_figures(m: &Value) -> [Option<f64>; 6] {
    let avg = m.get("avg").or_else(|| m.get("mean")).unwrap();
    ["p50", "p90", "p95", "p99", "max"]
        .iter()
        .fold(vec![Some(num(avg))], |mut v, k| {
            v.push(Some(num(&m[*k])));
            v
        })
        .try_into()
        .unwrap()
}

#[test]
fn aiperf_export_maps_tpot_itl_per_user_speed_and_the_servers_usage() {
    let d = dir("import-aiperf");
    let input = fixture("aiperf/profile_export_aiperf.json");
    let f = read_json(&input);
    let ds = import(&[path_str(&input)], &d.join("a.json"));
    assert_eq!(ds.source, Source::Imported("aiperf".into()));
    assert_eq!(ds.provenance.tool_version, f["aiperf_version"]);
    assert_eq!(ds.provenance.created_at, "2026-11-25T13:41:58.053484Z");
    assert_eq!(ds.deployment.model.served_name, "faulty-llama");
    let s = &ds.steps[0];
    assert_eq!(s.concurrency, 4); // input_config.phases[profiling].concurrency
    let r = s.requests.unwrap();
    assert_eq!(f64::from(r.completed), num(&f["request_count"]["avg"]));
    assert_eq!(f64::from(r.failed), num(&f["error_request_count"]["avg"]));
    assert_eq!(f64::from(r.sent), num(&f["completed_request_count"]["avg"]));
    assert_eq!(s.errors.get(&ErrorKind::ServerError), Some(&2)); // error_summary: code 500
    same(s.duration_s, num(&f["benchmark_duration"]["avg"]));
    assert_eq!(f["time_to_first_token"]["unit"], "ms");
    figures(
        &s.latency.ttft_ms,
        aiperf_figures(&f["time_to_first_token"]),
        1.0,
    );
    figures(
        &s.latency.tpot_ms,
        aiperf_figures(&f["inter_token_latency"]),
        1.0,
    );
    figures(
        &s.latency.itl_ms,
        aiperf_figures(&f["inter_chunk_latency"]),
        1.0,
    );
    figures(
        &s.latency.e2e_ms,
        aiperf_figures(&f["request_latency"]),
        1.0,
    );
    assert_eq!(
        f64::from(s.latency.itl_ms.unwrap().count.unwrap()),
        num(&f["inter_chunk_latency"]["count"])
    );
    same(
        s.throughput.output_tok_s,
        num(&f["output_token_throughput"]["avg"]),
    );
    same(
        s.throughput.total_tok_s,
        num(&f["total_token_throughput"]["avg"]),
    );
    same(
        s.throughput.requests_s,
        num(&f["request_throughput"]["avg"]),
    );
    same(
        s.throughput.per_user_output_tok_s,
        num(&f["output_token_throughput_per_user"]["avg"]),
    );
    let t = s.token_counts.unwrap();
    assert_eq!(t.output_source, CountSource::Usage);
    same(
        Some(t.prompt_tokens_mean),
        num(&f["usage_prompt_tokens"]["avg"]),
    );
    same(
        Some(t.output_tokens_mean),
        num(&f["usage_completion_tokens"]["avg"]),
    );
    note_with(&ds, "aiperf profile -m 'faulty-llama'");
}

#[test]
fn aiperf_sweep_aggregate_of_single_trials_gives_a_step_per_combination() {
    let d = dir("import-aiperf-sweep");
    let input = fixture("aiperf/sweep_aggregate/profile_export_aiperf_sweep.trimmed.json");
    let f = read_json(&input);
    let ds = import(&[path_str(&input)], &d.join("s.json"));
    for combination in f["per_combination_metrics"].as_array().unwrap() {
        let c = combination["parameters"]["concurrency"].as_u64().unwrap() as u32;
        let m = &combination["metrics"];
        let s = ds.steps.iter().find(|s| s.concurrency == c).unwrap();
        figures(
            &s.latency.ttft_ms,
            aiperf_figures(&m["time_to_first_token"]),
            1.0,
        );
        figures(
            &s.latency.tpot_ms,
            aiperf_figures(&m["inter_token_latency"]),
            1.0,
        );
        figures(
            &s.latency.itl_ms,
            aiperf_figures(&m["inter_chunk_latency"]),
            1.0,
        );
        figures(
            &s.latency.e2e_ms,
            aiperf_figures(&m["request_latency"]),
            1.0,
        );
        same(
            s.throughput.output_tok_s,
            num(&m["output_token_throughput"]["mean"]),
        );
        assert_eq!(
            f64::from(s.requests.unwrap().failed),
            num(&m["error_request_count"]["mean"])
        );
    }

    let mut averaged = f.clone();
    averaged["metadata"]["num_trials_per_value"] = 3.into();
    let path = write_json(&d, "trials.json", &averaged);
    refused(
        &[path_str(&path)],
        &d.join("t.json"),
        "jauge never averages runs",
    );
}

#[test]
fn genai_perf_export_has_no_itl_and_no_failure_count() {
    // GenAI-Perf was not run for the reference notes; this file follows its exporter's code
    // (importers.md §3), numbers from AIPerf's sample.
    let d = dir("import-genai-perf");
    let path = d.join("profile_export_genai_perf.json");
    std::fs::write(
        &path,
        r#"{"time_to_first_token":{"unit":"ms","avg":40.5,"p1":16.1,"p50":42.4,"p90":44.5,"p95":44.7,"p99":46.0,"min":13.9,"max":46.5,"std":7.3},
            "inter_token_latency":{"unit":"ms","avg":9.27,"p50":9.18,"p99":10.37,"max":10.48},
            "request_latency":{"unit":"ms","avg":327.9,"p50":327.4,"p99":343.0,"max":346.9},
            "output_token_throughput":{"unit":"tokens/sec","avg":363.5},
            "request_throughput":{"unit":"requests/sec","avg":11.4},
            "request_count":{"unit":"count","avg":30},
            "input_config":{"model":["faulty-llama"],"perf_analyzer":{"stimulus":{"concurrency":4}},
                            "input":{"synthetic_tokens":{"mean":64},"output_tokens":{"mean":32}}}}"#,
    )
    .unwrap();
    let ds = import(&[path_str(&path)], &d.join("g.json"));
    assert_eq!(ds.source, Source::Imported("genai-perf".into()));
    let s = &ds.steps[0];
    assert_eq!(
        (s.concurrency, s.prompt_tokens, s.output_tokens),
        (4, 64, 32)
    );
    assert_eq!(s.latency.itl_ms, None);
    assert_eq!(s.latency.tpot_ms.unwrap().p99, Some(10.37));
    assert_eq!(s.requests, None);
    note_with(&ds, "GenAI-Perf records no count of failed requests");
}

// ---------------------------------------------------------------- inference-perf

/// An inference-perf distribution's mean, median, p90, p95, p99, max (seconds).
fn inference_perf_figures(d: &Value) -> [Option<f64>; 6] {
    ["mean", "median", "p90", "p95", "p99", "max"].map(|k| Some(num(&d[k])))
}

#[test]
fn inference_perf_stage_maps_seconds_to_ms_and_leaves_its_per_token_itl_out() {
    let d = dir("import-inference-perf");
    let input = fixture("inference_perf/stage_1_lifecycle_metrics.json");
    let f = read_json(&input);
    let ds = import(&[path_str(&input)], &d.join("i.json"));
    assert_eq!(ds.source, Source::Imported("inference-perf".into()));
    assert_eq!(ds.deployment.model.served_name, "faulty-llama"); // config.yaml server.model_name
    assert_eq!(ds.deployment.engine.name, "vllm"); // config.yaml server.type
    assert_eq!(ds.provenance.created_at, "2026-11-25T13:43:28.258936Z"); // the partial report
    let s = &ds.steps[0];
    let ok = &f["successes"];
    assert_eq!(
        u64::from(s.concurrency),
        f["load_summary"]["concurrency"].as_u64().unwrap()
    );
    let r = s.requests.unwrap();
    assert_eq!(
        u64::from(r.sent),
        f["load_summary"]["count"].as_u64().unwrap()
    );
    assert_eq!(u64::from(r.completed), ok["count"].as_u64().unwrap());
    assert_eq!(
        u64::from(r.failed),
        f["failures"]["count"].as_u64().unwrap()
    );
    assert_eq!(s.errors.get(&ErrorKind::ServerError), Some(&r.failed));
    same(s.duration_s, num(&f["benchmark_time_seconds"]));
    let l = &ok["latency"];
    figures(
        &s.latency.ttft_ms,
        inference_perf_figures(&l["time_to_first_token"]),
        1000.0,
    );
    figures(
        &s.latency.tpot_ms,
        inference_perf_figures(&l["time_per_output_token"]),
        1000.0,
    );
    figures(
        &s.latency.e2e_ms,
        inference_perf_figures(&l["request_latency"]),
        1000.0,
    );
    assert_eq!(
        s.latency.itl_ms, None,
        "its ITL is per token, not per chunk"
    );
    same(
        s.throughput.output_tok_s,
        num(&ok["throughput"]["output_tokens_per_sec"]),
    );
    same(
        s.throughput.total_tok_s,
        num(&ok["throughput"]["total_tokens_per_sec"]),
    );
    same(
        s.throughput.requests_s,
        num(&ok["throughput"]["requests_per_sec"]),
    );
    let t = s.token_counts.unwrap();
    assert_eq!(t.output_source, CountSource::Usage); // client_fallback_requests: 0, 0
    same(
        Some(t.output_tokens_mean),
        num(&ok["output_tokens"]["mean"]),
    );
    note_with(&ds, "per-token inter_token_latency (not mapped)");

    let folder = import(
        &[path_str(&fixture("inference_perf"))],
        &d.join("folder.json"),
    );
    assert_eq!(folder.steps, ds.steps);
}

#[test]
fn inference_perf_summary_which_pools_stages_is_refused() {
    let d = dir("import-inference-perf-summary");
    let path = d.join("summary_lifecycle_metrics.json");
    std::fs::copy(
        fixture("inference_perf/stage_1_lifecycle_metrics.json"),
        &path,
    )
    .unwrap();
    refused(&[path_str(&path)], &d.join("o.json"), "pools every stage");
}

// ---------------------------------------------------------------- llmperf

#[test]
fn llmperf_summary_maps_ttft_and_e2e_and_nothing_with_the_ttft_inside() {
    let d = dir("import-llmperf");
    let input = fixture("llmperf/faulty-llama_64_32_summary.json");
    let f = read_json(&input);
    let ds = import(&[path_str(&input)], &d.join("l.json"));
    assert_eq!(ds.source, Source::Imported("llmperf".into()));
    assert_eq!(ds.provenance.created_at, "2026-11-25T13:50:27Z"); // timestamp 1795614627
    assert_eq!(ds.workload.endpoint, Endpoint::Chat);
    let s = &ds.steps[0];
    assert_eq!(
        u64::from(s.concurrency),
        f["num_concurrent_requests"].as_u64().unwrap()
    );
    // What was asked for (32), not the re-tokenized count with its BOS token (33).
    assert_eq!(f64::from(s.output_tokens), num(&f["mean_output_tokens"]));
    assert_eq!(num(&f["results_number_output_tokens_mean"]), 33.0);
    let r = s.requests.unwrap();
    assert_eq!(f64::from(r.sent), num(&f["results_num_requests_started"]));
    assert_eq!(
        f64::from(r.completed),
        num(&f["results_num_completed_requests"])
    );
    assert_eq!(f64::from(r.failed), num(&f["results_number_errors"]));
    let llmperf = |m: &str| -> [Option<f64>; 6] {
        [
            "mean",
            "quantiles_p50",
            "quantiles_p90",
            "quantiles_p95",
            "quantiles_p99",
            "max",
        ]
        .map(|k| Some(num(&f[format!("results_{m}_{k}")])))
    };
    figures(&s.latency.ttft_ms, llmperf("ttft_s"), 1000.0);
    figures(&s.latency.e2e_ms, llmperf("end_to_end_latency_s"), 1000.0);
    assert_eq!(s.latency.tpot_ms, None);
    assert_eq!(s.latency.itl_ms, None);
    assert_eq!(
        s.throughput.output_tok_s, None,
        "its window has Ray's start-up inside"
    );
    assert_eq!(s.throughput.requests_s, None);
    assert_eq!(s.token_counts, None);
    note_with(
        &ds,
        &f["results_mean_output_throughput_token_per_s"].to_string(),
    );
    note_with(&ds, "33 output tokens");
}

// ---------------------------------------------------------------- failures, files, flags

#[test]
fn damaged_and_unknown_files_fail_on_one_line_naming_the_file_and_the_field() {
    let d = dir("import-damaged");
    let mut report = read_json(&fixture("guidellm/guidellm_report_0.8.1.trimmed.json"));
    report["benchmarks"][1]["metrics"]["time_to_first_token_ms"] = "fast".into();
    let mut vllm = read_json(&fixture("vllm/bench_serve_c4_detailed.json"));
    vllm.as_object_mut().unwrap().remove("completed");
    let mut aiperf = read_json(&fixture("aiperf/profile_export_aiperf.json"));
    aiperf["time_to_first_token"]["unit"] = "fortnights".into();
    let mut llmperf = read_json(&fixture("llmperf/faulty-llama_64_32_summary.json"));
    llmperf["results_ttft_s_mean"] = (-1.0).into();
    let truncated = std::fs::read_to_string(fixture("llmperf/faulty-llama_64_32_summary.json"))
        .unwrap()[..300]
        .to_string();
    let cases = [
        (
            "guidellm.json",
            report.to_string(),
            "benchmarks[1].metrics.time_to_first_token_ms: expected an object, found a string",
        ),
        ("vllm.json", vllm.to_string(), "completed: missing"),
        (
            "aiperf.json",
            aiperf.to_string(),
            "time_to_first_token.unit: `fortnights` is not a unit of time",
        ),
        (
            "llmperf.json",
            llmperf.to_string(),
            "results_ttft_s_mean: expected a non-negative number, found -1",
        ),
        ("truncated.json", truncated, "not JSON: EOF while parsing"),
        (
            "other.json",
            r#"{"hello": "world"}"#.to_string(),
            "not a result file jauge import knows",
        ),
    ];
    let out = d.join("out");
    for (name, content, field) in cases {
        let path = d.join(name);
        std::fs::write(&path, content).unwrap();
        let err = refused(&[path_str(&path)], &out, field);
        assert!(
            err.starts_with(&format!("jauge: error: {}: {field}", path.display())),
            "{name}: {err}"
        );
    }
    let missing = d.join("missing.json");
    refused(&[path_str(&missing)], &out, "missing.json: cannot read it");
}

#[test]
fn a_failing_input_among_several_leaves_no_file_at_all() {
    let d = dir("import-several");
    let bad = d.join("bad.json");
    std::fs::write(&bad, r#"{"completed": 3, "failed": 0, "duration": 1.0}"#).unwrap();
    let out = d.join("out");
    let llmperf = fixture("llmperf/faulty-llama_64_32_summary.json");
    let aiperf = fixture("aiperf/profile_export_aiperf.json");
    refused(
        &[path_str(&llmperf), path_str(&aiperf), path_str(&bad)],
        &out,
        "bad.json: request_rate: missing",
    );

    let o = jauge(&[
        "import",
        path_str(&llmperf),
        path_str(&aiperf),
        "--out",
        path_str(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
}

#[test]
fn merge_pools_runs_into_one_dataset_and_splits_repeated_points() {
    let d = dir("import-merge");
    let mut run = read_json(&fixture(
        "vllm/sweep_exp1/BENCH--max_concurrency=4/run=0.json",
    ));
    run.as_object_mut().unwrap().remove("run_number");
    let c4 = write_json(&d, "c4.json", &run);
    run["max_concurrency"] = 1.into();
    let c1 = write_json(&d, "c1.json", &run);
    let ds = import(
        &[path_str(&c1), path_str(&c4), "--merge"],
        &d.join("m.json"),
    );
    assert_eq!(ds.workload.concurrency, [1, 4]);
    note_with(&ds, "Imported from 2 vllm result files");

    let o = jauge(&[
        "import",
        path_str(&c4),
        path_str(&c4),
        "--merge",
        "--out",
        path_str(&d.join("twice.json")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let first = common::dataset(&d.join("twice-run0.json"));
    let second = common::dataset(&d.join("twice-run1.json"));
    assert_eq!(
        first.steps, second.steps,
        "two runs, two datasets, nothing averaged"
    );
}

#[test]
fn existing_datasets_are_kept_unless_force() {
    let d = dir("import-force");
    let input = fixture("llmperf/faulty-llama_64_32_summary.json");
    let out = d.join("l.json");
    std::fs::write(&out, "keep me").unwrap();
    let o = jauge(&["import", path_str(&input), "--out", path_str(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("exists: pass --force"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    let o = jauge(&[
        "import",
        path_str(&input),
        "--out",
        path_str(&out),
        "--force",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    common::dataset(&out);
}

#[test]
fn deployment_flags_fill_what_no_result_file_says() {
    let d = dir("import-deployment");
    let input = fixture("aiperf/profile_export_aiperf.json");
    let ds = import(
        &[
            path_str(&input),
            "--catalog-model",
            "mistral-7b-v0.3",
            "--gpu",
            "a100-40gb",
            "--gpus",
            "2",
            "--quant",
            "awq",
            "--engine",
            "vllm",
            "--engine-version",
            "0.11.0",
        ],
        &d.join("a.json"),
    );
    let dep = &ds.deployment;
    assert_eq!(
        dep.model.served_name, "faulty-llama",
        "the file's name is kept"
    );
    assert_eq!(dep.model.catalogue_id.as_deref(), Some("mistral-7b-v0.3"));
    assert_eq!(dep.gpus.catalogue_id.as_deref(), Some("a100-40gb"));
    assert_eq!(dep.gpus.count, 2);
    assert_eq!(dep.quantization, "awq");
    assert_eq!(
        (dep.engine.name.as_str(), dep.engine.version.as_deref()),
        ("vllm", Some("0.11.0"))
    );
    assert_eq!(dep.engine.settings.tensor_parallel_size, Some(2));
    assert!(ds
        .notes
        .iter()
        .all(|n| !n.starts_with("Deployment: the file does not record")));

    refused(
        &[path_str(&input), "--gpu", "a100"],
        &d.join("x.json"),
        "--gpu: unknown GPU `a100`",
    );
}

#[test]
fn secrets_in_the_input_never_reach_the_dataset() {
    let d = dir("import-secrets");
    let key = "sk-import-test-0123456789";
    let mut report = read_json(&fixture("guidellm/guidellm_report_0.8.1.trimmed.json"));
    report["config"]["spec"]["backend"]["api_key"] = key.into();
    // A server that repeats the key, in the only errored request the report keeps of c=1 … and
    // a second one so that the report keeps every errored request and classifies each.
    let errored = report["benchmarks"][0]["requests"]["errored"][0].clone();
    let mut repeated = errored.clone();
    repeated["info"]["error"] = format!("Incorrect API key provided: {key}").into();
    report["benchmarks"][0]["requests"]["errored"] = Value::Array(vec![errored, repeated]);
    report["config"]["spec"]["backend"]["target"] =
        format!("http://admin:hunter22@h:8000/v1?api_key={key}").into();
    let path = write_json(&d, "benchmarks.json", &report);
    let out = d.join("out.json");
    let ds = import(&[path_str(&path)], &out);
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(
        !written.contains(key) && !written.contains("hunter22"),
        "{written}"
    );
    let c1 = ds.steps.iter().find(|s| s.concurrency == 1).unwrap();
    assert_eq!(c1.errors.values().sum::<u32>(), 2);
}

#[test]
fn imported_datasets_pass_validate_and_show() {
    let d = dir("import-roundtrip");
    let inputs = [
        "vllm/bench_serve_c4_detailed.json",
        "guidellm/guidellm_report_0.8.1.trimmed.json",
        "aiperf/profile_export_aiperf.json",
        "inference_perf/stage_1_lifecycle_metrics.json",
        "llmperf/faulty-llama_64_32_summary.json",
    ];
    let paths: Vec<PathBuf> = inputs.iter().map(|i| fixture(i)).collect();
    let out = d.join("all");
    let mut args = vec!["import"];
    args.extend(paths.iter().map(|p| path_str(p)));
    args.extend(["--out", path_str(&out)]);
    let o = jauge(&args);
    assert!(o.status.success(), "{}", text(&o));
    let mut written: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    written.sort();
    assert_eq!(written.len(), inputs.len());
    let mut args = vec!["validate".to_string()];
    args.extend(written.iter().map(|p| p.display().to_string()));
    let o = Command::new(JAUGE).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    for tool in ["vllm", "guidellm", "aiperf", "inference-perf", "llmperf"] {
        assert!(
            text(&o).contains(&format!("ok (imported:{tool}")),
            "{}",
            text(&o)
        );
    }
    for path in &written {
        let o = jauge(&["show", path_str(path)]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains(": imported:"), "{}", text(&o));
        let o = jauge(&["show", path_str(path), "--json"]);
        let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
        let ds = common::dataset(path);
        assert_eq!(shown["steps"].as_array().unwrap().len(), ds.steps.len());
        let first: &Step = &ds.steps[0];
        assert!(shown["steps"][0]["metrics"].is_object(), "{first:?}");
    }
}
