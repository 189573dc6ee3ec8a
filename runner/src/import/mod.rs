//! `jauge import`: other benchmark tools' result files as jauge datasets (`imported:<tool>`).
//!
//! Each tool's file is read by its own module, which maps a figure only where it means exactly
//! jauge's (vLLM's definitions) and says in a note what it left out and why; [`build`] turns
//! what they read into datasets the one way. This module finds out which tool wrote an input
//! (by its fields, or `--tool`), reads folders (a vLLM sweep, an inference-perf report, AIPerf's
//! per-point exports), names the outputs, and writes them all or none.

mod aiperf;
mod build;
mod field;
mod guidellm;
mod inference_perf;
mod llmperf;
mod vllm;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use jauge::catalogue::Catalogue;
use jauge::dataset::{Dataset, EngineSettings};
use serde_json::Value;

use crate::cli::{ImportArgs, ImportTool};
use crate::exit::bad_input;
use build::{Built, Given, Parsed};

/// The tools jauge imports from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `vllm bench serve` and `vllm bench sweep serve` (and `benchmark_serving.py`).
    Vllm,
    /// GuideLLM's report.
    Guidellm,
    /// NVIDIA AIPerf.
    Aiperf,
    /// NVIDIA GenAI-Perf, AIPerf's predecessor.
    GenaiPerf,
    /// kubernetes-sigs/inference-perf.
    InferencePerf,
    /// ray-project/llmperf.
    Llmperf,
}

impl Tool {
    /// The name in `imported:<name>` and `provenance.tool`.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Vllm => "vllm",
            Tool::Guidellm => "guidellm",
            Tool::Aiperf => "aiperf",
            Tool::GenaiPerf => "genai-perf",
            Tool::InferencePerf => "inference-perf",
            Tool::Llmperf => "llmperf",
        }
    }

    fn of(arg: ImportTool) -> Option<Tool> {
        match arg {
            ImportTool::Auto => None,
            ImportTool::Vllm => Some(Tool::Vllm),
            ImportTool::Guidellm => Some(Tool::Guidellm),
            ImportTool::Aiperf => Some(Tool::Aiperf),
            ImportTool::GenaiPerf => Some(Tool::GenaiPerf),
            ImportTool::InferencePerf => Some(Tool::InferencePerf),
            ImportTool::Llmperf => Some(Tool::Llmperf),
        }
    }
}

/// A result file's content: one JSON document, JSON Lines (vLLM's `--append-result`), or the
/// rows of a CSV table (vLLM's sweep `summary.csv`); lines and rows numbered from 1.
#[derive(Debug)]
pub enum Doc {
    /// One JSON document.
    Json(Value),
    /// One JSON object per line.
    Lines(Vec<(usize, Value)>),
    /// CSV rows as objects.
    Table(Vec<(usize, Value)>),
}

/// The most files a folder may hold for jauge import to look through.
const MAX_FOLDER_ENTRIES: usize = 50_000;
/// How deep into a folder jauge import looks (a vLLM sweep is OUTPUT/EXPERIMENT/POINT/run=N).
const MAX_FOLDER_DEPTH: usize = 6;

/// Runs `jauge import`: reads every input, converts and checks every dataset, then writes them
/// all (or, when one cannot be written, removes those it created).
pub fn run(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let given = given(args)?;
    let hint = Tool::of(args.tool);
    let mut units: Vec<(PathBuf, String, Parsed)> = Vec::new();
    for input in &args.inputs {
        let shown = input.display().to_string();
        let parsed = read_input(input, hint)?;
        units.push((input.clone(), shown, parsed));
    }
    if args.merge && units.len() > 1 {
        let sources: Vec<String> = units.iter().map(|(_, s, _)| s.clone()).collect();
        let first = units[0].0.clone();
        let parsed = merge(units.into_iter().map(|(_, s, p)| (s, p)).collect())?;
        units = vec![(first, sources.join(", "), parsed)];
    }
    let mut outputs: Vec<(PathBuf, String, Dataset)> = Vec::new();
    let several_units = units.len() > 1;
    for (input, shown, parsed) in units {
        let built = build::datasets(parsed, &given).with_context(|| shown.clone())?;
        for Built { repeat, dataset } in built {
            let path = output_path(args, &input, repeat, several_units)?;
            outputs.push((path, shown.clone(), dataset));
        }
    }
    check_outputs(args, &outputs)?;
    write_all(&outputs)?;
    for (path, shown, dataset) in &outputs {
        crate::output::print(&format!(
            "{}: {}, {} step{} from {shown}\n",
            path.display(),
            dataset.source,
            dataset.steps.len(),
            if dataset.steps.len() == 1 { "" } else { "s" }
        ))?;
    }
    let any = |missing: fn(&Dataset) -> bool| outputs.iter().any(|(_, _, d)| missing(d));
    let unknown: Vec<&str> = [
        (
            "the GPU (--gpu)",
            any(|d| d.deployment.gpus.catalogue_id.is_none()),
        ),
        (
            "the weights' format (--quant)",
            any(|d| d.deployment.quantization == "unknown"),
        ),
        (
            "the engine (--engine)",
            any(|d| d.deployment.engine.name == "unknown"),
        ),
    ]
    .into_iter()
    .filter_map(|(what, missing)| missing.then_some(what))
    .collect();
    if !unknown.is_empty() {
        eprintln!(
            "jauge: note: recorded as unknown, as the files do not say: {}",
            unknown.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The deployment the flags describe, every id checked against the catalogue.
fn given(args: &ImportArgs) -> anyhow::Result<Given> {
    let cat = Catalogue::builtin();
    let d = &args.deployment;
    let model = d
        .catalog_model
        .as_deref()
        .map(|id| {
            cat.model(id)
                .map_err(|e| bad_input(format!("--catalog-model: {e}")))
        })
        .transpose()?;
    let gpu = d
        .gpu
        .as_deref()
        .map(|id| cat.gpu(id).map_err(|e| bad_input(format!("--gpu: {e}"))))
        .transpose()?;
    let quant = d
        .quant
        .as_deref()
        .map(|id| {
            cat.quant(id)
                .map(|q| q.id.clone())
                .map_err(|e| bad_input(format!("--quant: {e}")))
        })
        .transpose()?;
    let gpus = d.gpu_count();
    if gpus == Some(0) {
        return Err(bad_input(
            "--gpus: at least 1 (the number of GPUs serving the model)",
        ));
    }
    if let Some(u) = d.gpu_memory_utilization {
        if !(u > 0.0 && u <= 1.0) {
            return Err(bad_input("--gpu-memory-utilization: above 0 and at most 1"));
        }
    }
    for (flag, value) in [
        ("--max-model-len", d.max_model_len),
        ("--block-size", d.block_size),
        ("--max-num-seqs", d.max_num_seqs),
        ("--max-num-batched-tokens", d.max_num_batched_tokens),
    ] {
        if value == Some(0) {
            return Err(bad_input(format!("{flag}: at least 1")));
        }
    }
    let (engine, version_in_engine) = match d.engine.as_deref().map(|e| e.split_once('@')) {
        Some(Some((name, version))) => (Some(name.to_string()), Some(version.to_string())),
        Some(None) => (d.engine.clone(), None),
        None => (d.vllm_version.as_ref().map(|_| "vllm".to_string()), None),
    };
    Ok(Given {
        model,
        gpu,
        gpus,
        quant,
        kv_cache_dtype: d.kv_cache_dtype.clone(),
        engine,
        engine_version: args
            .engine_version
            .clone()
            .or(version_in_engine)
            .or(d.vllm_version.clone()),
        served_model: args.served_model.clone(),
        settings: EngineSettings {
            max_model_len: d.max_model_len,
            gpu_memory_utilization: d.gpu_memory_utilization,
            block_size: d.block_size,
            max_num_seqs: d.max_num_seqs,
            max_num_batched_tokens: d.max_num_batched_tokens,
            ..EngineSettings::default()
        },
    })
}

/// One input: a result file, or a folder of them.
fn read_input(path: &Path, hint: Option<Tool>) -> anyhow::Result<Parsed> {
    if path.is_dir() {
        read_folder(path, hint)
    } else {
        read_file(path, hint)
    }
}

/// A result file, its tool found from its fields unless `hint` names it; its errors name it.
fn read_file(path: &Path, hint: Option<Tool>) -> anyhow::Result<Parsed> {
    let shown = path.display().to_string();
    let (tool, doc, replaced) = read_doc(path, hint).with_context(|| shown.clone())?;
    let mut parsed = match tool {
        Tool::Vllm => vllm::parse(&shown, &doc),
        Tool::Guidellm => json(&doc).and_then(|v| guidellm::parse(&shown, v)),
        Tool::Aiperf | Tool::GenaiPerf => json(&doc).and_then(|v| aiperf::parse(&shown, v, tool)),
        Tool::InferencePerf => json(&doc).and_then(|v| inference_perf::parse(&shown, path, v)),
        Tool::Llmperf => json(&doc).and_then(|v| llmperf::parse(&shown, v)),
    }
    .with_context(|| shown.clone())?;
    if replaced > 0 {
        parsed.header.note(format!(
            "{shown}: {replaced} value(s) written as NaN or Infinity (a statistic of no values) were read as absent."
        ));
    }
    Ok(parsed)
}

fn json(doc: &Doc) -> anyhow::Result<&Value> {
    match doc {
        Doc::Json(value) => Ok(value),
        Doc::Lines(_) | Doc::Table(_) => Err(bad_input("expected one JSON document")),
    }
}

/// The file's content and the tool that wrote it; how many `NaN`/`Infinity` were read as
/// absent.
fn read_doc(path: &Path, hint: Option<Tool>) -> anyhow::Result<(Tool, Doc, usize)> {
    let text = field::read_text(path)?;
    let name = file_name(path);
    if name.ends_with(".csv") {
        if hint.is_none_or(|t| t == Tool::Vllm) && vllm::looks_like_csv(&text) {
            return Ok((Tool::Vllm, Doc::Table(vllm::csv_rows(&text)?), 0));
        }
        return Err(bad_input(
            "a CSV file that is not vllm bench sweep's summary.csv; jauge import reads the tools' JSON results",
        ));
    }
    match field::parse_json(&text) {
        Ok((value, replaced)) => {
            let tool = match hint {
                Some(tool) => tool,
                None => detect(&value, &name)?,
            };
            Ok((tool, Doc::Json(value), replaced))
        }
        Err(not_json) => {
            // vLLM's --append-result: one JSON object a line.
            let Some((lines, replaced)) = json_lines(&text) else {
                return Err(not_json);
            };
            if hint.is_some_and(|t| t != Tool::Vllm) || !vllm::looks_like(&lines[0].1) {
                return Err(not_json);
            }
            Ok((Tool::Vllm, Doc::Lines(lines), replaced))
        }
    }
}

/// Every non-empty line as a JSON object, or `None` when one is not.
fn json_lines(text: &str) -> Option<(Vec<(usize, Value)>, usize)> {
    let mut lines = Vec::new();
    let mut replaced = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (value, r) = field::parse_json(line).ok()?;
        if !value.is_object() {
            return None;
        }
        replaced += r;
        lines.push((i + 1, value));
    }
    (!lines.is_empty()).then_some((lines, replaced))
}

/// Which tool wrote a JSON document, by the fields only it writes.
fn detect(value: &Value, name: &str) -> anyhow::Result<Tool> {
    let vllm_list = value
        .as_array()
        .and_then(|items| items.first())
        .is_some_and(vllm::looks_like);
    if guidellm::looks_like(value) {
        Ok(Tool::Guidellm)
    } else if aiperf::looks_like(value) {
        Ok(aiperf::tool_of(value, name))
    } else if inference_perf::looks_like(value) {
        Ok(Tool::InferencePerf)
    } else if llmperf::looks_like(value) {
        Ok(Tool::Llmperf)
    } else if vllm::looks_like(value) || vllm_list {
        Ok(Tool::Vllm)
    } else {
        Err(bad_input(
            "not a result file jauge import knows (vLLM bench serve or sweep, GuideLLM, AIPerf, GenAI-Perf, inference-perf, llmperf); with --tool it is read as that tool's and the first missing field is named",
        ))
    }
}

/// A folder's result files, merged: a vLLM sweep (its `summary.json`, else `summary.csv`, else
/// every `run=N.json`), an inference-perf report (every stage), AIPerf's per-point exports (else
/// its sweep aggregate), GenAI-Perf's exports, GuideLLM reports or llmperf summaries. A folder
/// must hold one tool's results.
fn read_folder(dir: &Path, hint: Option<Tool>) -> anyhow::Result<Parsed> {
    let shown = dir.display().to_string();
    let files = walk(dir).with_context(|| shown.clone())?;
    let named = |pred: &dyn Fn(&str) -> bool| -> Vec<PathBuf> {
        files
            .iter()
            .filter(|p| pred(&file_name(p)))
            .cloned()
            .collect()
    };
    let first_of = |lists: Vec<Vec<PathBuf>>| {
        lists
            .into_iter()
            .find(|l| !l.is_empty())
            .unwrap_or_default()
    };
    let candidates = [
        (
            Tool::InferencePerf,
            named(&|n| inference_perf::is_stage_file(n)),
        ),
        (
            Tool::Vllm,
            first_of(vec![
                named(&|n| n == "summary.json"),
                named(&|n| n == "summary.csv"),
                named(&|n| {
                    n.starts_with("run=") && n.ends_with(".json") && !n.ends_with(".failure.json")
                }),
            ]),
        ),
        (
            Tool::Aiperf,
            first_of(vec![
                named(&|n| n == "profile_export_aiperf.json"),
                named(&|n| n.starts_with("profile_export_aiperf_sweep") && n.ends_with(".json")),
            ]),
        ),
        (
            Tool::GenaiPerf,
            named(&|n| n == "profile_export_genai_perf.json"),
        ),
        (Tool::Guidellm, named(&|n| n == "benchmarks.json")),
        (Tool::Llmperf, named(&|n| n.ends_with("_summary.json"))),
    ];
    let found: Vec<(Tool, Vec<PathBuf>)> = candidates
        .into_iter()
        .filter(|(tool, list)| !list.is_empty() && hint.is_none_or(|h| h == *tool))
        .collect();
    let (tool, list) = match found.as_slice() {
        [] => {
            return Err(bad_input(format!(
                "{shown}: no result file jauge import knows in this folder (summary.json, summary.csv or run=N.json of a vLLM sweep, stage_N_lifecycle_metrics.json, profile_export_aiperf.json, profile_export_genai_perf.json, benchmarks.json, *_summary.json); name the files instead"
            )))
        }
        [(tool, list)] => (*tool, list.clone()),
        several => {
            let tools: Vec<&str> = several.iter().map(|(t, _)| t.name()).collect();
            return Err(bad_input(format!(
                "{shown}: holds results of several tools ({}); import each tool's files separately, or pass --tool",
                tools.join(", ")
            )));
        }
    };
    let mut parts = Vec::new();
    for path in &list {
        parts.push((path.display().to_string(), read_file(path, Some(tool))?));
    }
    let mut parsed = merge(parts)?;
    parsed
        .header
        .notes
        .retain(|n| !n.starts_with("Imported from "));
    let read: Vec<String> = list
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string())
        .collect();
    parsed.header.notes.insert(
        0,
        format!(
            "Imported from the folder {shown}: {} {} result file{} ({}).",
            read.len(),
            tool.name(),
            if read.len() == 1 { "" } else { "s" },
            read.join(", ")
        ),
    );
    Ok(parsed)
}

/// Every file below `dir` (links not followed), sorted, at most [`MAX_FOLDER_DEPTH`] deep.
fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 0)];
    let mut seen = 0usize;
    while let Some((folder, depth)) = pending.pop() {
        let entries = std::fs::read_dir(&folder)
            .map_err(|e| bad_input(format!("{}: cannot read it: {e}", folder.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| bad_input(format!("{}: {e}", folder.display())))?;
            seen += 1;
            if seen > MAX_FOLDER_ENTRIES {
                return Err(bad_input(format!(
                    "more than {MAX_FOLDER_ENTRIES} entries: name the result files or a smaller folder"
                )));
            }
            let kind = entry.file_type().map_err(|e| bad_input(e.to_string()))?;
            if kind.is_dir() && depth < MAX_FOLDER_DEPTH {
                pending.push((entry.path(), depth + 1));
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Several inputs' runs as one: the same tool and model, and one endpoint.
fn merge(parts: Vec<(String, Parsed)>) -> anyhow::Result<Parsed> {
    let several = parts.len() > 1;
    let mut parts = parts.into_iter();
    let Some((first_shown, mut merged)) = parts.next() else {
        return Err(bad_input("nothing to import"));
    };
    let mut sources = vec![first_shown.clone()];
    for (shown, part) in parts {
        if part.tool != merged.tool {
            return Err(bad_input(format!(
                "{shown} holds {} results, {first_shown} {}: one dataset holds one tool's results; import them separately",
                part.tool.name(),
                merged.tool.name()
            )));
        }
        let (h, p) = (&mut merged.header, part.header);
        if let (Some(a), Some(b)) = (&h.served_model, &p.served_model) {
            if a != b {
                return Err(bad_input(format!(
                    "{shown} benchmarks `{b}`, {first_shown} `{a}`: one dataset is one deployment; import them separately"
                )));
            }
        }
        if let (Some(a), Some(b)) = (h.endpoint, p.endpoint) {
            if a != b {
                return Err(bad_input(format!(
                    "{shown} called another endpoint than {first_shown}: one dataset calls one; import them separately"
                )));
            }
        }
        if let (Some(a), Some(b)) = (&h.tool_version, &p.tool_version) {
            if a != b {
                h.note(format!("The files were written by different versions of the tool ({a}, {b}); provenance records the first."));
            }
        }
        if h.arrival.is_some() && p.arrival.is_some() && h.arrival != p.arrival {
            h.note("The files space open-loop arrivals differently; workload.arrival is left out.");
            h.arrival = None;
        }
        h.served_model = h.served_model.take().or(p.served_model);
        h.endpoint = h.endpoint.or(p.endpoint);
        h.arrival = h.arrival.or(p.arrival);
        h.tool_version = h.tool_version.take().or(p.tool_version);
        h.engine = h.engine.take().or(p.engine);
        h.lengths_from = h.lengths_from.take().or(p.lengths_from);
        h.created_at = match (h.created_at.take(), p.created_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for note in p.notes {
            h.note(note);
        }
        merged.runs.extend(part.runs);
        sources.push(shown);
    }
    if several {
        merged
            .header
            .notes
            .retain(|n| !n.starts_with("Imported from "));
        merged.header.notes.insert(
            0,
            format!(
                "Imported from {} {} result files: {}.",
                sources.len(),
                merged.tool.name(),
                sources.join(", ")
            ),
        );
    }
    Ok(merged)
}

/// Where a dataset goes: `--out` (a file for one dataset, a folder for several), else
/// `NAME.jauge.json` in the current folder; `-runN` added for each run of a repeated sweep.
fn output_path(
    args: &ImportArgs,
    input: &Path,
    repeat: Option<u32>,
    several_inputs: bool,
) -> anyhow::Result<PathBuf> {
    let suffix = repeat.map(|r| format!("-run{r}")).unwrap_or_default();
    let generated = format!("{}{suffix}.jauge.json", base_name(input));
    let Some(out) = &args.out else {
        return Ok(PathBuf::from(generated));
    };
    let is_file_name = out.extension().is_some_and(|e| e == "json") && !out.is_dir();
    if !is_file_name {
        return Ok(out.join(generated));
    }
    if several_inputs {
        return Err(bad_input(format!(
            "--out {}: several inputs make several datasets; give a folder, or pass --merge for one dataset",
            out.display()
        )));
    }
    Ok(match repeat {
        None => out.clone(),
        Some(r) => {
            let stem = out
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.with_file_name(format!("{stem}-run{r}.json"))
        }
    })
}

/// A name for what an input holds: its file name without the extension, or the folder's name.
fn base_name(input: &Path) -> String {
    let name = match input.file_name() {
        Some(n) => n.to_string_lossy().into_owned(),
        None => std::fs::canonicalize(input)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "imported".to_string()),
    };
    let stem = [".jsonl", ".json", ".csv"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name);
    stem.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._=-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Before anything is written: no two datasets to one file, none over an input, none over an
/// existing file unless `--force`.
fn check_outputs(args: &ImportArgs, outputs: &[(PathBuf, String, Dataset)]) -> anyhow::Result<()> {
    let inputs: Vec<PathBuf> = args
        .inputs
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    for (i, (path, shown, _)) in outputs.iter().enumerate() {
        if let Some((_, other, _)) = outputs[..i].iter().find(|(p, _, _)| p == path) {
            return Err(bad_input(format!(
                "{other} and {shown} would both be written to {}; give --out a folder, or pass --merge",
                path.display()
            )));
        }
        let canonical = std::fs::canonicalize(path).ok();
        if canonical.as_ref().is_some_and(|c| inputs.contains(c)) {
            return Err(bad_input(format!(
                "{}: that is an input; choose another --out",
                path.display()
            )));
        }
        if path.exists() && !args.force {
            return Err(bad_input(format!(
                "{} exists: pass --force to replace it, or choose another --out",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Writes every dataset (atomically, each); when one cannot be written, removes the ones this
/// run created, so that an import is written whole or not at all.
fn write_all(outputs: &[(PathBuf, String, Dataset)]) -> anyhow::Result<()> {
    let mut created: Vec<&Path> = Vec::new();
    for (path, _, dataset) in outputs {
        let existed = path.exists();
        let result = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or(Ok(()), |dir| {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
            })
            .and_then(|()| crate::files::write_atomic(path, &dataset.to_json()));
        if let Err(e) = result {
            for done in &created {
                let _ = std::fs::remove_file(done);
            }
            return Err(e.context(if created.is_empty() {
                "nothing was written".to_string()
            } else {
                format!(
                    "the {} dataset(s) written before it were removed",
                    created.len()
                )
            }));
        }
        if !existed {
            created.push(path);
        }
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every leaf of `value` replaced, one at a time, by each of `odd`.
    fn each_damaged(value: &Value, odd: &[Value], f: &mut dyn FnMut(Value)) {
        fn leaves(v: &Value, at: &mut Vec<String>, out: &mut Vec<String>) {
            match v {
                Value::Object(o) => o.iter().for_each(|(k, v)| {
                    at.push(k.replace('~', "~0").replace('/', "~1"));
                    leaves(v, at, out);
                    at.pop();
                }),
                Value::Array(a) => a.iter().enumerate().take(3).for_each(|(i, v)| {
                    at.push(i.to_string());
                    leaves(v, at, out);
                    at.pop();
                }),
                _ => out.push(format!("/{}", at.join("/"))),
            }
        }
        let mut paths = Vec::new();
        leaves(value, &mut Vec::new(), &mut paths);
        // About 100 leaves of a file at most, spread over it: the test stays fast.
        let stride = paths.len().div_ceil(100);
        for path in paths.into_iter().step_by(stride) {
            for bad in odd {
                let mut damaged = value.clone();
                if let Some(leaf) = damaged.pointer_mut(&path) {
                    *leaf = bad.clone();
                }
                f(damaged);
            }
        }
    }

    #[test]
    fn no_damaged_field_of_a_real_file_makes_the_importer_panic() {
        let fixtures = [
            (Tool::Vllm, include_str!("../../tests/fixtures/import/vllm/bench_serve_c4_detailed.json")),
            (Tool::Guidellm, include_str!("../../tests/fixtures/import/guidellm/guidellm_report_0.8.1.trimmed.json")),
            (Tool::Aiperf, include_str!("../../tests/fixtures/import/aiperf/profile_export_aiperf.json")),
            (Tool::Aiperf, include_str!("../../tests/fixtures/import/aiperf/sweep_aggregate/profile_export_aiperf_sweep.trimmed.json")),
            (Tool::InferencePerf, include_str!("../../tests/fixtures/import/inference_perf/stage_1_lifecycle_metrics.json")),
            (Tool::Llmperf, include_str!("../../tests/fixtures/import/llmperf/faulty-llama_64_32_summary.json")),
        ];
        let odd = [
            Value::Null,
            Value::from("x"),
            Value::from(0),
            Value::from(1e300),
        ];
        let stage = Path::new("stage_1_lifecycle_metrics.json");
        for (tool, text) in fixtures {
            let value: Value = serde_json::from_str(text).unwrap();
            let mut runs = 0;
            each_damaged(&value, &odd, &mut |damaged| {
                runs += 1;
                let parsed = match tool {
                    Tool::Vllm => vllm::parse("x", &Doc::Json(damaged)),
                    Tool::Guidellm => guidellm::parse("x", &damaged),
                    Tool::InferencePerf => inference_perf::parse("x", stage, &damaged),
                    Tool::Llmperf => llmperf::parse("x", &damaged),
                    Tool::Aiperf | Tool::GenaiPerf => aiperf::parse("x", &damaged, tool),
                };
                // Read or refused, and when read, a valid dataset or refused: never a panic.
                if let Ok(parsed) = parsed {
                    let _ = build::datasets(parsed, &Given::default());
                }
            });
            assert!(runs > 50, "{tool:?}: {runs}");
        }
    }

    #[test]
    fn base_names_drop_the_extension_and_odd_characters() {
        assert_eq!(base_name(Path::new("res/openai-4qps.json")), "openai-4qps");
        assert_eq!(base_name(Path::new("a b/x y.jsonl")), "x-y");
        assert_eq!(base_name(Path::new("sweep/run=0.json")), "run=0");
    }

    #[test]
    fn each_tool_is_told_by_its_own_fields() {
        let cases = [
            (
                serde_json::json!({"benchmarks": [], "metadata": {"version": 2}}),
                Tool::Guidellm,
            ),
            (
                serde_json::json!({"aiperf_version": "0.13.0", "time_to_first_token": {}}),
                Tool::Aiperf,
            ),
            (
                serde_json::json!({"load_summary": {}, "successes": {}}),
                Tool::InferencePerf,
            ),
            (
                serde_json::json!({"results_ttft_s_mean": 0.1}),
                Tool::Llmperf,
            ),
            (
                serde_json::json!({"completed": 1, "request_throughput": 1.0}),
                Tool::Vllm,
            ),
            (
                serde_json::json!([{"completed": 1, "total_output_tokens": 3}]),
                Tool::Vllm,
            ),
        ];
        for (value, tool) in cases {
            assert_eq!(detect(&value, "x.json").unwrap(), tool, "{value}");
        }
        assert!(detect(&serde_json::json!({"hello": 1}), "x.json").is_err());
        let genai =
            serde_json::json!({"time_to_first_token": {}, "input_config": {"perf_analyzer": {}}});
        assert_eq!(
            detect(&genai, "profile_export_genai_perf.json").unwrap(),
            Tool::GenaiPerf
        );
    }
}
