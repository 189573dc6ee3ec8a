//! Reading datasets: every rule reports its JSON path; round trips lose nothing.

use proptest::prelude::*;

use super::*;
use crate::error::DatasetError;

fn with(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Dataset, DatasetError> {
    let mut value: serde_json::Value = serde_json::from_str(&example_json()).unwrap();
    edit(&mut value);
    Dataset::from_json(&value.to_string())
}

fn messages(result: Result<Dataset, DatasetError>) -> Vec<String> {
    result
        .unwrap_err()
        .violations()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn percentiles_out_of_order_name_the_field() {
    let found = messages(with(|v| {
        v["steps"][1]["latency"]["e2e_ms"]["p99"] = 1.0.into()
    }));
    assert_eq!(
        found,
        ["steps[1].latency.e2e_ms.p99: 1.0 is below p95 6808.5; percentiles must not decrease"]
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let found = messages(with(|v| {
        v["workload"]["prompt_tokens"] = serde_json::json!([1024, 512]);
        v["steps"][0]["throughput"]["output_tok_s"] = (-1.0).into();
        v["deployment"]["engine"]["settings"]["gpu_memory_utilization"] = 1.2.into();
    }));
    assert_eq!(
        found,
        [
            "deployment.engine.settings.gpu_memory_utilization: 1.2 is outside (0, 1]",
            "workload.prompt_tokens[1]: grid not strictly increasing (512 after 1024)",
            "steps[0].throughput.output_tok_s: negative value -1.0",
        ]
    );
}

#[test]
fn cuda_memory_cannot_exceed_the_installed_memory() {
    let found = messages(with(|v| {
        v["deployment"]["gpus"]["cuda_memory_mib"] = 41_000.into()
    }));
    assert_eq!(
        found,
        ["deployment.gpus.cuda_memory_mib: 41000 MiB is more than the 40960 MiB installed (memory_mib)"]
    );
    assert!(with(|v| v["deployment"]["gpus"]["cuda_memory_mib"] = 40_330.into()).is_ok());
}

#[test]
fn a_step_off_the_grid_is_refused() {
    let found = messages(with(|v| v["steps"][1]["concurrency"] = 3.into()));
    assert_eq!(
        found,
        ["steps[1].concurrency: 3 is not in workload.concurrency"]
    );
}

#[test]
fn the_same_point_twice_is_refused() {
    let found = messages(with(|v| v["steps"][1]["concurrency"] = 1.into()));
    assert_eq!(
        found,
        ["steps[1]: a second step for concurrency 1, prompt_tokens 1024, output_tokens 256"]
    );
}

#[test]
fn error_counts_must_add_up() {
    let found = messages(with(|v| {
        v["steps"][0]["requests"]["failed"] = 2.into();
        v["steps"][0]["requests"]["completed"] = 14.into();
        v["steps"][0]["errors"] = serde_json::json!({"timeout": 1});
    }));
    assert_eq!(
        found,
        ["steps[0].errors: errors by kind add up to 1, but requests.failed is 2"]
    );
}

#[test]
fn an_unknown_error_kind_names_its_path() {
    let found = messages(with(|v| {
        v["steps"][0]["errors"] = serde_json::json!({"gremlins": 1})
    }));
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("steps[0].errors"), "{found:?}");
    assert!(found[0].contains("gremlins"), "{found:?}");
}

#[test]
fn a_wrong_type_names_its_path() {
    let found = messages(with(|v| v["steps"][1]["requests"]["sent"] = "many".into()));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("steps[1].requests.sent: invalid type"),
        "{found:?}"
    );
}

#[test]
fn a_missing_field_names_its_parent() {
    let found = messages(with(|v| {
        v["deployment"].as_object_mut().unwrap().remove("gpus");
    }));
    assert_eq!(found, ["deployment: missing field `gpus`"]);
}

#[test]
fn secrets_in_the_command_line_are_refused() {
    let found = messages(with(|v| {
        v["provenance"]["command_line"] =
            serde_json::json!(["jauge", "run", "--url", "http://u:pw@h/"]);
    }));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("provenance.command_line[3]: holds a secret"),
        "{found:?}"
    );
}

#[test]
fn a_bad_source_is_refused() {
    let found = messages(with(|v| v["source"] = "guessed".into()));
    assert!(
        found[0].starts_with("source: unknown source `guessed`"),
        "{found:?}"
    );
}

#[test]
fn not_json_says_so() {
    let found = messages(Dataset::from_json("steps: []"));
    assert!(found[0].starts_with("not valid JSON"), "{found:?}");
}

#[test]
fn imported_source_round_trips() {
    let mut dataset = example();
    dataset.source = Source::Imported("guidellm".into());
    let text = dataset.to_json();
    assert!(text.contains("\"source\": \"imported:guidellm\""));
    assert_eq!(Dataset::from_json(&text).unwrap(), dataset);
}

#[test]
fn unknown_engine_settings_are_kept() {
    let dataset =
        with(|v| v["deployment"]["engine"]["settings"]["enforce_eager"] = true.into()).unwrap();
    assert_eq!(
        dataset.deployment.engine.settings.other["enforce_eager"],
        true
    );
    assert!(dataset.to_json().contains("\"enforce_eager\": true"));
}

fn values() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(0.0f64..1e6, 1..200)
}

proptest! {
    #[test]
    fn p50_p90_p95_p99_max_never_decrease(xs in values()) {
        let s = Summary::from_values(&xs).unwrap();
        prop_assert!(s.p50 <= s.p90 && s.p90 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max);
        prop_assert!(s.mean.unwrap() <= s.max.unwrap() + 1e-9);
        prop_assert_eq!(s.count, Some(xs.len() as u32));
    }

    #[test]
    fn a_dataset_round_trips_through_json(ttft in values(), tpot in values(), tok_s in 0.0f64..1e5, users in 1u32..4096) {
        let mut dataset = example();
        dataset.workload.concurrency = vec![users];
        dataset.steps.truncate(1);
        let step = &mut dataset.steps[0];
        step.concurrency = users;
        step.latency.ttft_ms = Summary::from_values(&ttft);
        step.latency.tpot_ms = Summary::from_values(&tpot);
        step.throughput.output_tok_s = Some(tok_s);
        step.throughput.total_tok_s = Some(tok_s * 3.0);
        dataset.limits.clear();
        prop_assert!(dataset.violations().is_empty(), "{:?}", dataset.violations());
        let again = Dataset::from_json(&dataset.to_json()).unwrap();
        prop_assert_eq!(&again, &dataset);
        prop_assert_eq!(again.to_json(), dataset.to_json());
    }
}

#[test]
fn error_kind_names_are_their_serialised_form() {
    use crate::dataset::ErrorKind::*;
    for kind in [
        Timeout,
        Connection,
        ContextLength,
        RateLimited,
        ClientError,
        ServerError,
        Truncated,
        MalformedStream,
        ResponseTooLarge,
        OverlongStream,
        Other,
    ] {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
    }
}
