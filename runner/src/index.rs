//! `jauge index` and `jauge schema`: the published datasets' manifest and the format's JSON
//! Schema.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use jauge::dataset::{json_schema, Dataset, Index, IndexEntry};

use crate::cli::{IndexArgs, SchemaArgs};
use crate::exit::bad_input;
use crate::files::write_atomic;

/// Runs `jauge schema`.
pub fn schema(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    match &args.out {
        Some(path) => write_atomic(path, &json_schema())?,
        None => crate::output::print(&json_schema())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `jauge index`.
pub fn run(args: &IndexArgs) -> anyhow::Result<ExitCode> {
    if !args.dir.is_dir() {
        return Err(bad_input(format!("{}: not a folder", args.dir.display())));
    }
    let (index, problems) = build(&args.dir)?;
    for problem in &problems {
        println!("{problem}");
    }
    if !problems.is_empty() {
        eprintln!(
            "{} dataset file(s) invalid; index.json left unchanged",
            problems.len()
        );
        return Ok(ExitCode::from(1));
    }
    let path = args.dir.join("index.json");
    let text = index.to_json();
    if args.check {
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != text {
            println!(
                "{} is out of date: run `jauge index {}`",
                path.display(),
                args.dir.display()
            );
            return Ok(ExitCode::from(1));
        }
        println!(
            "{}: up to date ({} datasets)",
            path.display(),
            index.datasets.len()
        );
    } else {
        write_atomic(&path, &text)?;
        println!("{}: {} datasets", path.display(), index.datasets.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// Rebuilds `dir/index.json`; an error names every invalid dataset.
pub fn rebuild(dir: &Path) -> anyhow::Result<()> {
    let (index, problems) = build(dir)?;
    if !problems.is_empty() {
        return Err(bad_input(format!(
            "{}: not indexed, invalid datasets:\n{}",
            dir.display(),
            problems.join("\n")
        )));
    }
    write_atomic(&dir.join("index.json"), &index.to_json())
}

/// The index of every dataset under `dir`, and a line for each file that is not valid.
pub fn build(dir: &Path) -> anyhow::Result<(Index, Vec<String>)> {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for path in dataset_files(dir)? {
        let relative = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        match Dataset::from_json(&text) {
            Ok(d) => entries.push(IndexEntry::describe(&relative, &d)),
            Err(e) => problems.extend(
                e.violations()
                    .iter()
                    .map(|v| format!("{}: {v}", path.display())),
            ),
        }
    }
    Ok((Index::new(entries), problems))
}

/// Every `*.json` under `dir` except `index.json` and the `schema/` folder, sorted.
pub fn dataset_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in
            std::fs::read_dir(&folder).with_context(|| format!("listing {}", folder.display()))?
        {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                if !(folder == dir && name == "schema") {
                    pending.push(path);
                }
            } else if name.ends_with(".json") && !(folder == dir && name == "index.json") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
