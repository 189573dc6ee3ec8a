//! The `jauge` binary as a user runs it: output, exit codes, files.

use std::path::PathBuf;
use std::process::{Command, Output};

fn jauge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jauge"))
        .args(args)
        .output()
        .expect("the jauge binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "`{needle}` not in:\n{text}");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jauge-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn size_report_for_mistral_on_one_a100_40gb() {
    let o = jauge(&[
        "size",
        "--catalog-model",
        "mistral-7b-v0.1",
        "--gpu",
        "a100-40gb",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    insta::assert_snapshot!(stdout(&o));
}

#[test]
fn size_report_for_llama_3_70b_awq_on_two_a100_40gb() {
    let o = jauge(&[
        "size",
        "--catalog-model",
        "meta-llama/Meta-Llama-3-70B-Instruct",
        "--gpu",
        "a100-40gb",
        "--gpus",
        "2",
        "--quant",
        "awq",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    insta::assert_snapshot!(stdout(&o));
}

#[test]
fn size_report_when_it_does_not_fit() {
    let o = jauge(&[
        "size",
        "--catalog-model",
        "llama-3-70b",
        "--gpu",
        "a100-40gb",
    ]);
    assert!(o.status.success(), "not fitting is an answer, not an error");
    insta::assert_snapshot!(stdout(&o));
}

#[test]
fn size_json_has_the_documented_fields() {
    let o = jauge(&[
        "size",
        "--catalog-model",
        "llama-3-70b",
        "--gpu",
        "a100-40gb",
        "--gpus",
        "2",
        "--quant",
        "awq",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["fits"], true);
    assert_eq!(v["kv_bytes_per_token"], 327_680);
    assert_eq!(v["kv_cache_tokens"], 104_320);
    assert_eq!(v["kv_cache_blocks"], 6_520);
    assert!((v["max_concurrency"].as_f64().unwrap() - 12.734).abs() < 1e-3);
    assert!((v["weights_gib_per_gpu"].as_f64().unwrap() - 18.5215).abs() < 1e-4);
    for term in [
        "total",
        "budget",
        "weights",
        "activation_peak",
        "non_torch",
        "cuda_graphs",
        "kv_cache",
        "headroom",
    ] {
        assert!(
            v["memory_gib_per_gpu"][term].is_number(),
            "memory_gib_per_gpu.{term}"
        );
    }
}

#[test]
fn size_accepts_a_config_json_path() {
    let dir = temp_dir("config").join("My-Llama");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.json");
    std::fs::write(
        &config,
        r#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32,
            "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
            "vocab_size": 128256, "max_position_embeddings": 8192, "torch_dtype": "bfloat16"}"#,
    )
    .unwrap();
    let from_file = jauge(&[
        "size",
        "--catalog-model",
        config.to_str().unwrap(),
        "--gpu",
        "l40s",
        "--json",
    ]);
    let from_catalogue = jauge(&[
        "size",
        "--catalog-model",
        "llama-3-8b",
        "--gpu",
        "l40s",
        "--json",
    ]);
    let a: serde_json::Value = serde_json::from_str(&stdout(&from_file)).unwrap();
    let b: serde_json::Value = serde_json::from_str(&stdout(&from_catalogue)).unwrap();
    assert_eq!(a["model"], "My-Llama");
    assert_eq!(a["kv_cache_tokens"], b["kv_cache_tokens"]);

    std::fs::write(
        &config,
        r#"{"architectures": ["FalconForCausalLM"], "hidden_size": 4096}"#,
    )
    .unwrap();
    let o = jauge(&[
        "size",
        "--catalog-model",
        config.to_str().unwrap(),
        "--gpu",
        "l40s",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(
        &stderr(&o),
        "missing field `num_hidden_layers` (architecture FalconForCausalLM)",
    );
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "size",
                "--catalog-model",
                "llama-3-70",
                "--gpu",
                "a100-40gb",
            ],
            "unknown model `llama-3-70` (did you mean `llama-3-70b`",
        ),
        (
            &["size", "--catalog-model", "llama-3-70b", "--gpu", "a100"],
            "unknown GPU `a100` (did you mean `a100-40gb`, `a100-80gb`, `a10`?)",
        ),
        (
            &[
                "size",
                "--catalog-model",
                "llama-3-70b",
                "--gpu",
                "a100-40gb",
                "--quant",
                "q4",
            ],
            "unknown quantisation `q4`",
        ),
        (
            &[
                "size",
                "--catalog-model",
                "llama-3-70b",
                "--gpu",
                "a100-40gb",
                "--gpus",
                "0",
            ],
            "at least one GPU",
        ),
        (
            &[
                "size",
                "--catalog-model",
                "llama-3-70b",
                "--gpu",
                "a100-40gb",
                "--gpu-memory-utilization",
                "0",
            ],
            "outside (0, 1]",
        ),
        (
            &[
                "size",
                "--catalog-model",
                "llama-3-70b",
                "--gpu",
                "a100-40gb",
                "--context",
                "10000",
            ],
            "beyond llama-3-70b's maximum of 8192",
        ),
        (
            &[
                "size",
                "--catalog-model",
                "mistral-7b-v0.3",
                "--gpu",
                "v100-16gb",
                "--quant",
                "awq",
            ],
            "nearest that works: --quant gptq-4bit on v100-16gb",
        ),
        (
            &[
                "size",
                "--catalog-model",
                "mistral-7b-v0.3",
                "--gpu",
                "a100-40gb",
                "--vllm-version",
                "0.1.7",
            ],
            "predates the memory rules jauge models (0.2.0 and later)",
        ),
    ];
    for (args, expected) in cases {
        let o = jauge(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("jauge: error: "), "{err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

/// One vocabulary: `--catalog-model` and `--gpus` (a count) mean the same in every command;
/// the old names still work for a release, with a warning, and `--gpus 0,1` (the old NVML
/// indices of `jauge run`) says where that moved.
#[test]
fn renamed_flags_still_work_with_a_warning() {
    let old = jauge(&[
        "size",
        "--model",
        "mistral-7b-v0.3",
        "--gpu",
        "a100-40gb",
        "--json",
    ]);
    let new = jauge(&[
        "size",
        "--catalog-model",
        "mistral-7b-v0.3",
        "--gpu",
        "a100-40gb",
        "--json",
    ]);
    assert!(old.status.success(), "{}", stderr(&old));
    assert_eq!(stdout(&old), stdout(&new));
    assert_eq!(
        stderr(&old).trim(),
        "jauge: warning: --model is now --catalog-model; the old name goes away in the next release"
    );
    let o = jauge(&["run", "--gpus", "0,1"]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "use --nvml-gpus 0,1");
}

#[test]
fn list_prints_every_catalogue_entry() {
    let models = stdout(&jauge(&["size", "--list", "models"]));
    insta::assert_snapshot!(models);
    let gpus = stdout(&jauge(&["size", "--list", "gpus"]));
    insta::assert_snapshot!(gpus);
    let quants = stdout(&jauge(&["size", "--list", "quants"]));
    insta::assert_snapshot!(quants);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&jauge(&["size", "--list", "gpus", "--json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), gpus.lines().count() - 1);
}

#[test]
fn validate_reports_every_error_with_its_path() {
    let dir = temp_dir("validate");
    let good = dir.join("good.json");
    std::fs::write(&good, jauge::dataset::example_json()).unwrap();
    let bad = dir.join("bad.json");
    let text = jauge::dataset::example_json()
        .replacen("\"p50\": 120.0", "\"p50\": -4.0", 1)
        .replacen(
            "\"output_tokens\": 256,\n    \"requests_per_step\"",
            "\"output_tokens\": 0,\n    \"requests_per_step\"",
            1,
        );
    std::fs::write(&bad, text).unwrap();

    let o = jauge(&["validate", good.to_str().unwrap()]);
    assert!(o.status.success());
    assert_contains(
        &stdout(&o),
        "good.json: ok (simulated, mistral-7b-v0.3 on 1 × a100-40gb, 2 steps)",
    );

    let o = jauge(&[
        "validate",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "missing.json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert_contains(&out, "bad.json: workload.output_tokens: must be at least 1");
    assert_contains(
        &out,
        "bad.json: steps[0].latency.ttft_ms.p50: negative value -4.0",
    );
    assert_contains(&out, "missing.json: cannot read");
    assert!(stderr(&o).contains("2 of 3 file(s) invalid"));
}

#[test]
fn validate_refuses_a_newer_format_naming_the_version_that_reads_it() {
    let dir = temp_dir("future");
    let file = dir.join("future.json");
    std::fs::write(
        &file,
        r#"{"schema": "jauge.dataset/v3", "provenance": {"tool_version": "2.0.0"}}"#,
    )
    .unwrap();
    let o = jauge(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_contains(&stdout(&o), "upgrade to jauge 2.0.0 or later");
}

#[test]
fn index_lists_valid_datasets_and_refuses_invalid_ones() {
    let dir = temp_dir("index");
    std::fs::create_dir_all(dir.join("a100")).unwrap();
    std::fs::write(dir.join("a100/run.json"), jauge::dataset::example_json()).unwrap();
    let o = jauge(&["index", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let index =
        jauge::dataset::Index::from_json(&std::fs::read_to_string(dir.join("index.json")).unwrap())
            .unwrap();
    assert_eq!(index.datasets.len(), 1);
    assert_eq!(index.datasets[0].file, "a100/run.json");
    assert!(jauge(&["index", "--check", dir.to_str().unwrap()])
        .status
        .success());

    std::fs::write(dir.join("broken.json"), "{}").unwrap();
    let o = jauge(&["index", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_contains(&stdout(&o), "broken.json: schema: missing");
}

#[test]
fn schema_prints_the_json_schema() {
    let o = jauge(&["schema"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), jauge::dataset::json_schema());
}

#[test]
fn help_explains_each_command() {
    let o = jauge(&["size", "--help"]);
    let help = stdout(&o);
    assert_contains(&help, "Maximum concurrency");
    assert!(help.contains("--gpu-memory-utilization"));
    assert!(help.contains("Examples:"));
}

#[test]
fn compare_exits_1_on_a_regression_and_refuses_other_hardware() {
    let dir = temp_dir("compare");
    let a = jauge::dataset::example();
    let mut slower = a.clone();
    slower.steps[1].throughput.output_tok_s =
        slower.steps[1].throughput.output_tok_s.map(|v| v * 0.8);
    let mut other = a.clone();
    other.deployment.gpus.catalogue_id = Some("h100-80gb".into());
    let write = |name: &str, d: &jauge::dataset::Dataset| {
        let p = dir.join(name);
        std::fs::write(&p, d.to_json()).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (pa, ps, po) = (
        write("a.json", &a),
        write("slower.json", &slower),
        write("other.json", &other),
    );
    let same = jauge(&["compare", &pa, &pa]);
    assert_eq!(same.status.code(), Some(0), "{}", stdout(&same));
    let worse = jauge(&["compare", &pa, &ps, "--threshold", "5%"]);
    assert_eq!(worse.status.code(), Some(1));
    assert_contains(
        &stdout(&worse),
        "B is worse than A beyond 5.0 % on 1 figure(s)",
    );
    assert_contains(&stdout(&worse), "-20.0 %  WORSE");
    assert_eq!(
        jauge(&["compare", &pa, &ps, "--threshold", "25%"])
            .status
            .code(),
        Some(0)
    );
    let refused = jauge(&["compare", &pa, &po]);
    assert_eq!(refused.status.code(), Some(2));
    assert_contains(&stderr(&refused), "GPU: a100-40gb vs h100-80gb");
    assert_eq!(
        jauge(&["compare", &pa, &po, "--force"]).status.code(),
        Some(0)
    );
}

#[test]
fn simulate_writes_a_valid_simulated_dataset() {
    let dir = temp_dir("simulate");
    let out = dir.join("sim.json");
    let o = jauge(&[
        "simulate",
        "--catalog-model",
        "mistral-7b-v0.3",
        "--gpu",
        "a100-40gb",
        "--concurrency",
        "1,8,64",
        "--prompt-tokens",
        "128,1024",
        "--output-tokens",
        "64",
        "--slo-ttft-ms",
        "1000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_contains(&stdout(&o), "max users held");
    let d = jauge::dataset::Dataset::from_json(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(d.source, jauge::dataset::Source::Simulated);
    assert_eq!(d.steps.len(), 6);
    assert!(d
        .steps
        .iter()
        .all(|s| s.requests.unwrap().completed == s.requests.unwrap().sent && s.server.is_some()));
    // More users never lower the total throughput of a row below one user's.
    for prompt in [128, 1024] {
        let row: Vec<f64> = d
            .steps
            .iter()
            .filter(|s| s.prompt_tokens == prompt)
            .map(|s| s.throughput.output_tok_s.unwrap())
            .collect();
        assert!(row.iter().all(|t| *t >= row[0] * 0.99), "{row:?}");
    }
    let too_big = jauge(&["simulate", "--catalog-model", "llama-3-70b", "--gpu", "l4"]);
    assert_eq!(too_big.status.code(), Some(2));
    assert_contains(&stderr(&too_big), "does not fit");
}

#[test]
fn limit_can_answer_from_the_simulator() {
    let o = jauge(&[
        "limit",
        "--simulate",
        "--catalog-model",
        "mistral-7b-v0.3",
        "--gpu",
        "a100-40gb",
        "--slo-ttft-ms",
        "2000",
        "--prompt-tokens",
        "512,40000",
        "--output-tokens",
        "128",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_contains(&out, "SIMULATED");
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("512"))
        .unwrap();
    let users: u32 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(users > 1, "{row}");
    let too_long = out
        .lines()
        .find(|l| l.trim_start().starts_with("40000"))
        .unwrap();
    assert!(
        too_long.contains("beyond mistral-7b-v0.3's maximum of 32768"),
        "{too_long}"
    );
}

#[test]
fn calibrate_fits_measured_datasets_and_simulate_uses_the_fit() {
    let dir = temp_dir("calibrate");
    let mut files = Vec::new();
    for (name, concurrency, prompt) in [("a", "1,4,16", "256"), ("b", "2,8", "1024")] {
        let path = dir.join(format!("{name}.json"));
        let o = jauge(&[
            "simulate",
            "--catalog-model",
            "mistral-7b-v0.3",
            "--gpu",
            "a100-40gb",
            "--concurrency",
            concurrency,
            "--prompt-tokens",
            prompt,
            "--output-tokens",
            "32",
            "--requests-per-step",
            "16",
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        // Stand-ins for measurements (test data only): the simulator's own output at the
        // default factors, which the fit must reproduce with a small held-out error.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"source\": \"simulated\"", "\"source\": \"measured\"");
        std::fs::write(&path, text).unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    let out = dir.join("calibration.json");
    let mut args = vec!["calibrate", "--report"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--out", out.to_str().unwrap()]);
    let o = jauge(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_contains(&text, "Factors fitted on 2 datasets from 2 sources");
    assert_contains(&text, "each source predicted by a fit made without it");
    assert_contains(&text, "engine jauge-sim");
    let calibration =
        jauge::calibrate::Calibration::from_json(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        (calibration.corpus.used, calibration.corpus.sources),
        (2, 2)
    );
    let throughput = calibration
        .summary
        .iter()
        .find(|r| {
            r.figure == Some(jauge::calibrate::Figure::OutputTokS)
                && r.gpu.is_none()
                && r.format.is_none()
        })
        .unwrap();
    // Each dataset is predicted by the fit on the other one: the truth is a point of the model,
    // so the held-out error is small.
    assert!(throughput.held_out_pct.unwrap() < 5.0, "{throughput:?}");
    let checks = std::fs::read_to_string(dir.join("calibration-checks.json")).unwrap();
    assert_contains(&checks, "jauge.calibration-checks/v1");

    let sim = dir.join("calibrated.json");
    let o = jauge(&[
        "simulate",
        "--catalog-model",
        "mistral-7b-v0.3",
        "--gpu",
        "a100-40gb",
        "--concurrency",
        "1,4",
        "--prompt-tokens",
        "128",
        "--calibration",
        out.to_str().unwrap(),
        "--out",
        sim.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_contains(
        &std::fs::read_to_string(&sim).unwrap(),
        "factors: calibration",
    );
    // A GPU the calibration never saw takes its global factors.
    let other = jauge(&[
        "simulate",
        "--catalog-model",
        "mistral-7b-v0.3",
        "--gpu",
        "l4",
        "--concurrency",
        "1",
        "--prompt-tokens",
        "128",
        "--calibration",
        out.to_str().unwrap(),
    ]);
    assert!(other.status.success(), "{}", stderr(&other));

    let simulated_only = jauge(&["calibrate", &files[0].replace("a.json", "calibrated.json")]);
    assert_eq!(simulated_only.status.code(), Some(2));
    assert_contains(
        &stderr(&simulated_only),
        "simulated (the simulator cannot be checked against itself)",
    );
}

/// `jauge simulate` answers in the three modes benchmarks use, each step computed as `jauge
/// run` computes it (wall time from the first intended send to the last response).
#[test]
fn simulate_answers_closed_open_and_all_at_once() {
    let sim = |extra: &[&str]| {
        let mut args = vec![
            "simulate",
            "--catalog-model",
            "llama-3-8b",
            "--gpu",
            "h100-80gb",
            "--prompt-tokens",
            "256",
            "--output-tokens",
            "32",
            "--json",
        ];
        args.extend(extra);
        let o = jauge(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        jauge::dataset::Dataset::from_json(&stdout(&o)).unwrap()
    };
    let closed = sim(&["--concurrency", "1,8", "--requests", "40"]);
    assert_eq!(closed.steps.len(), 2);
    assert!(closed.steps.iter().all(|s| s.rate_rps.is_none()));
    assert_eq!(closed.steps[1].requests.unwrap().sent, 40);

    let open = sim(&["--rate", "2,8", "--requests", "50", "--arrival", "constant"]);
    assert_eq!(
        open.workload.arrival,
        Some(jauge::dataset::Arrival::Constant)
    );
    let rates: Vec<Option<f64>> = open.steps.iter().map(|s| s.rate_rps).collect();
    assert_eq!(rates, [Some(2.0), Some(8.0)]);
    for step in &open.steps {
        // No cap: every request may be in flight; the step lasts at least its arrivals.
        assert_eq!(step.concurrency, 50);
        let arrivals_s = 49.0 / step.rate_rps.unwrap();
        assert!(step.duration_s.unwrap() >= arrivals_s, "{step:?}");
        // A light open loop delivers its rate: 50 requests over the 49 gaps between arrivals
        // plus the last one's latency.
        let completed = step.throughput.requests_s.unwrap();
        let rate = step.rate_rps.unwrap();
        assert!(completed <= rate * 50.0 / 49.0, "{completed}");
        assert!(completed > rate * 0.9, "{completed}");
    }
    let capped = sim(&["--rate", "8", "--concurrency", "2", "--requests", "30"]);
    assert_eq!(capped.steps[0].concurrency, 2);
    assert!(
        capped.steps[0]
            .server
            .as_ref()
            .unwrap()
            .running_peak
            .unwrap()
            <= 2
    );

    let offline = sim(&["--rate", "inf", "--requests", "64"]);
    let step = &offline.steps[0];
    assert_eq!((step.concurrency, step.rate_rps), (64, None));
    // Every request at once queues: the median waits longer than one user alone.
    let alone = &closed.steps[0];
    assert!(
        step.latency.ttft_ms.unwrap().p50.unwrap() > alone.latency.ttft_ms.unwrap().p50.unwrap()
    );

    for (bad, says) in [
        (vec!["--rate", "0"], "--rate: requests per second above 0"),
        (vec!["--rate", "4,2"], "must be increasing"),
        (vec!["--requests", "0"], "--requests: between 1"),
    ] {
        let mut args = vec![
            "simulate",
            "--catalog-model",
            "llama-3-8b",
            "--gpu",
            "h100-80gb",
        ];
        args.extend(bad);
        let o = jauge(&args);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert_contains(&stderr(&o), says);
    }
    let text = stdout(&jauge(&[
        "simulate",
        "--catalog-model",
        "llama-3-8b",
        "--gpu",
        "h100-80gb",
        "--rate",
        "4",
        "--requests",
        "20",
        "--prompt-tokens",
        "128",
    ]));
    assert_contains(&text, "SIMULATED");
    assert_contains(&text, "open loop at 4 req/s");
}

/// `jauge size --engine` answers for every engine with the same fields, and names what it
/// sizes when asked for another.
#[test]
fn size_answers_for_every_engine_with_the_same_fields() {
    let fields = [
        "engine",
        "engine_version",
        "fits",
        "kv_cache_tokens",
        "kv_cache_bytes",
        "kv_bytes_per_token_per_gpu",
        "max_concurrency",
        "memory_gib_per_gpu",
        "rules",
    ];
    let sized = |extra: &[&str]| {
        let mut args = vec!["size", "--max-model-len", "8192", "--json"];
        args.extend(extra);
        let o = jauge(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        for field in fields {
            assert!(v.get(field).is_some(), "{extra:?}: no {field}");
        }
        assert!(v["kv_cache_tokens"].as_u64().unwrap() > 0, "{extra:?}");
        assert!(!v["rules"].as_array().unwrap().is_empty(), "{extra:?}");
        v
    };
    let h100 = ["--catalog-model", "llama-3-8b", "--gpu", "h100-80gb"];
    let old = sized(&[&h100[..], &["--engine", "vllm@0.4.2"]].concat());
    let today = sized(&h100);
    assert_eq!(old["engine_version"], "0.4.2");
    // Each release measures non-KV memory its own way (shared/src/sizing/tests.rs has the
    // arithmetic): the answers differ.
    assert_ne!(old["kv_cache_tokens"], today["kv_cache_tokens"]);
    assert_eq!(
        sized(&[&h100[..], &["--vllm-version", "0.4.2"]].concat())["kv_cache_tokens"],
        old["kv_cache_tokens"]
    );
    assert_eq!(
        sized(&[&h100[..], &["--engine", "sglang@0.4.6"]].concat())["engine"],
        "sglang"
    );
    assert_eq!(
        sized(&[&h100[..], &["--engine", "trtllm"]].concat())["engine"],
        "trtllm"
    );
    let gguf = sized(&[
        "--catalog-model",
        "llama-3-8b",
        "--quant",
        "gguf-q4_k_m",
        "--gpu",
        "rtx-4090",
        "--engine",
        "llama.cpp",
        "--parallel",
        "4",
    ]);
    assert_eq!(gguf["max_concurrency"], 4.0);
    let o = jauge(&[
        "size",
        "--catalog-model",
        "llama-3-8b",
        "--gpu",
        "h100-80gb",
        "--engine",
        "tgi",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sglang"), "{}", stderr(&o));
}

/// `--total-memory-gib` replaces the catalogue's total in the budget; a total no GPU has is
/// refused; `--engine` and `--vllm-version` that disagree are refused; the simulator refuses an
/// engine it does not simulate.
#[test]
fn engine_and_memory_flags_are_checked() {
    let base = [
        "size",
        "--catalog-model",
        "mistral-7b-v0.3",
        "--gpu",
        "rtx-4090",
    ];
    let o = jauge(&[&base[..], &["--total-memory-gib", "22.5", "--json"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["memory_gib_per_gpu"]["total"], 22.5);
    assert!((v["memory_gib_per_gpu"]["budget"].as_f64().unwrap() - 20.25).abs() < 1e-9);
    for bad in [
        &["--total-memory-gib", "0"][..],
        &["--engine", "vllm@0.4.2", "--vllm-version", "0.5.4"],
    ] {
        let o = jauge(&[&base[..], bad].concat());
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{bad:?}: {}", stderr(&o));
    }
    let o = jauge(&[
        "simulate",
        "--catalog-model",
        "llama-3-8b",
        "--gpu",
        "h100-80gb",
        "--engine",
        "sglang",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("jauge simulates vLLM"),
        "{}",
        stderr(&o)
    );
}

/// The study's comparisons under its 2024 release, in a folder of their own: deployments that
/// today's rules start and 0.4.2's accounting does not are said to be unable to run.
#[test]
fn the_seed_preset_deploys_under_an_older_vllm_release() {
    let out = temp_dir("seed-0.4.2");
    let o = jauge(&[
        "study",
        "--predict",
        "--preset",
        "seed",
        "--engine",
        "vllm@0.4.2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = stdout(&o);
    assert!(
        printed.contains("mistral-7b-v0.1 on 1 × v100-16gb, fp16: cannot run"),
        "{printed}"
    );
    assert!(out.join("report.md").is_file());
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("vLLM 0.4.2"),
        "the report names the release"
    );
}
