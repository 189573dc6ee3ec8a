//! `jauge study` end to end against the simulated server, and its report from recorded
//! datasets.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use jauge::dataset::{LimitReason, Source};
use jauge_runner::study::report::Study;

mod common;
use common::{dataset, dir, interrupt, serve_sim, text, wait_for_a_step, JAUGE};

/// A small, fast study: tiny prompts and outputs, the simulated GPU 20× faster.
fn study(out: &Path, extra: &[&str]) -> Output {
    Command::new(JAUGE)
        .args(["study", "--out", out.to_str().unwrap(), "-q"])
        .args(["--concurrency", "1,2", "--prompt-tokens", "64,128"])
        .args([
            "--output-tokens",
            "8",
            "--max-users",
            "4",
            "--context-step",
            "64",
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// With the server's max_model_len known, the search finds the limit exactly: the ceiling
/// passes and one step above it gets vLLM's 400.
#[test]
fn the_context_search_finds_the_configured_max_model_len_exactly() {
    let out = dir("exact");
    let o = study(&out, &["--max-model-len", "2048", "--time-scale", "20"]);
    assert!(o.status.success(), "{}", text(&o));
    let speed = dataset(&out.join("speed.json"));
    let context = dataset(&out.join("context.json"));
    assert_eq!(speed.source, Source::Simulated);
    assert_eq!(context.source, Source::Simulated);
    assert_eq!(speed.limits.len(), 2, "users found for both prompt sizes");
    assert!(!context.context_limits.is_empty());
    for limit in &context.context_limits {
        assert_eq!(limit.max_context_tokens, Some(2048 - 8), "{limit:?}");
        assert_eq!(limit.refused_at_tokens, Some(2048 - 8 + 64));
        assert_eq!(limit.reason, LimitReason::ContextLength);
        let detail = limit.detail.as_deref().unwrap();
        assert!(
            detail.contains("maximum context length is 2048 tokens"),
            "{detail}"
        );
    }
    // Every probe is a step of the dataset, and the dataset is valid.
    assert_eq!(
        context.steps.len() as u32,
        context.context_limits.iter().map(|l| l.probes).sum::<u32>()
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| 2040 |"), "{report}");
    assert!(std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("<svg"));
}

/// A server that does not say its max_model_len (as most engines other than vLLM) but
/// answers vLLM's 400 above it: the search doubles, then bisects to within one step.
#[test]
fn the_context_search_bisects_when_the_server_hides_its_limit() {
    let (_server, url) = serve_sim(&[
        "--time-scale",
        "20",
        "--max-model-len",
        "3000",
        "--hide-max-model-len",
    ]);
    let out = dir("hidden");
    let o = study(&out, &["--url", &url, "--no-gpu"]);
    assert!(o.status.success(), "{}", text(&o));
    let context = dataset(&out.join("context.json"));
    let one = context
        .context_limits
        .iter()
        .find(|l| l.concurrency == 1)
        .unwrap();
    let (ok, refused) = (
        one.max_context_tokens.unwrap(),
        one.refused_at_tokens.unwrap(),
    );
    assert!(ok <= 3000 - 8 && refused > 3000 - 8, "{one:?}");
    assert!(refused - ok <= 64, "{one:?}");
    assert_eq!(one.reason, LimitReason::ContextLength);
    assert!(one
        .detail
        .as_deref()
        .unwrap()
        .contains("maximum context length is 3000"));
    assert!(one.probes > 2, "a search, not a lookup: {one:?}");
}

#[test]
fn a_study_is_never_overwritten_and_resume_finishes_it() {
    let out = dir("resume");
    let o = study(&out, &["--max-model-len", "1024", "--time-scale", "20"]);
    assert!(o.status.success(), "{}", text(&o));
    let again = study(&out, &["--max-model-len", "1024", "--time-scale", "20"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("--resume"), "{}", text(&again));
    let steps = dataset(&out.join("speed.json")).steps.len();
    let resumed = study(
        &out,
        &["--max-model-len", "1024", "--time-scale", "20", "--resume"],
    );
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert_eq!(
        dataset(&out.join("speed.json")).steps.len(),
        steps,
        "nothing measured twice"
    );
}

#[test]
fn predict_writes_a_simulated_dataset_per_deployment_and_says_what_cannot_run() {
    let out = dir("preset");
    let o = Command::new(JAUGE)
        .args(["study", "--predict", "--preset", "seed", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("SIMULATED"), "{said}");
    assert!(
        said.contains("codestral-22b-v0.1 on 1 × v100-16gb, awq: cannot run — AWQ"),
        "{said}"
    );
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".json"))
        .collect();
    files.sort();
    assert!(files.contains(&"mistral-7b-v0.1-1xv100-16gb-fp16.json".to_string()));
    assert!(!files
        .iter()
        .any(|f| f.contains("awq") && f.contains("v100")));
    for file in &files {
        let d = dataset(&out.join(file));
        assert_eq!(d.source, Source::Simulated, "{file}");
        assert!(!d.context_limits.is_empty(), "{file}");
        assert!(!d.limits.is_empty(), "{file}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for id in [
        "mistral-7b-v100-vs-a100",
        "mixtral-8x7b-2xa100",
        "mixtral-8x22b-4xa100",
        "codestral-22b-v100-a100",
        "llama-3-70b-a100",
    ] {
        assert!(md.contains(id), "{id}");
    }
}

#[test]
fn bad_study_arguments_are_refused_clearly() {
    let out = dir("bad");
    for (args, says) in [
        (vec!["--preset", "seed"], "add --predict"),
        (
            vec!["--predict", "--preset", "nope"],
            "unknown study preset `nope`",
        ),
        (vec!["--predict"], "--catalog-model"),
        (vec!["--prompt-tokens", "128,64"], "increasing"),
        (
            vec!["--url", "http://127.0.0.1:9", "--time-scale", "10"],
            "built-in server only",
        ),
    ] {
        let o = Command::new(JAUGE)
            .args(["study", "--out"])
            .arg(&out)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
    }
}

/// The report, from recorded datasets: its sections, in the study's order, and its figures.
#[test]
fn the_report_from_recorded_datasets_has_every_section_and_figure() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/study");
    let speed = dataset(&fixtures.join("speed.json"));
    let context = dataset(&fixtures.join("context.json"));
    let study = Study::single(vec![speed.clone(), context.clone()]);
    let md = study.markdown();
    let sections = [
        "## Summary",
        "#### 1. Memory",
        "#### 2. Speed and users",
        "#### 3. Maximum context",
        "#### 4. What limited it",
    ];
    let mut at = 0;
    for section in sections {
        let found = md[at..]
            .find(section)
            .unwrap_or_else(|| panic!("{section} after byte {at}:\n{md}"));
        at += found;
    }
    assert!(md.contains("**SIMULATED**"));
    for limit in &speed.limits {
        let users = limit.max_concurrency_ok.unwrap().to_string();
        assert!(
            md.contains(&format!("| {} | {users} |", limit.prompt_tokens)),
            "{md}"
        );
    }
    for limit in &context.context_limits {
        assert!(md.contains(&limit.max_context_tokens.unwrap().to_string()));
    }
    // Every step with every figure, as `jauge show` prints them.
    let steps = jauge_runner::show::steps(&speed).markdown();
    assert!(md.contains(&steps), "{steps}\n{md}");
    let html = study.html();
    assert!(
        html.matches("<svg").count() >= 5,
        "memory and four speed charts"
    );
    assert!(!html.contains("<script"), "readable without scripts");
    assert!(html.contains("(simulated)"));
    assert!(
        html.contains("data-metric=\"itl_p95_ms\""),
        "the per-step figures carry their metric"
    );
}

/// Ctrl-C in the middle: exit 130, the finished steps kept; --resume finishes the study and
/// writes the report.
#[test]
fn ctrl_c_stops_the_study_and_resume_continues_it() {
    let out = dir("interrupt");
    let args = [
        "study",
        "--out",
        out.to_str().unwrap(),
        "-q",
        "--concurrency",
        "1,2,4,8",
        "--prompt-tokens",
        "64,128",
        "--output-tokens",
        "16",
        "--max-users",
        "8",
        "--max-model-len",
        "1024",
        "--time-scale",
        "4",
    ];
    let mut child = Command::new(JAUGE)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_a_step(&out.join("speed.json"));
    interrupt(&child);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let kept = dataset(&out.join("speed.json")).steps;
    assert!(!kept.is_empty());
    assert!(
        !out.join("report.md").exists(),
        "no report for half a study"
    );

    let o = Command::new(JAUGE)
        .args(args)
        .arg("--resume")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let done = dataset(&out.join("speed.json"));
    assert_eq!(
        done.steps[..kept.len()],
        kept[..],
        "finished steps kept as they were"
    );
    assert!(!dataset(&out.join("context.json")).context_limits.is_empty());
    assert!(out.join("report.html").exists());
}
