//! The `jauge` command-line tool, as a library so that tests can drive it.
//!
//! One module per command (`size`, `validate`, `index`, `run`, `limit`, `study`, …), plus the
//! pieces they share: `cli` (the arguments), `exit` (exit codes), `files` (atomic writes),
//! `limits`, `fetch`, `capacity` and `secrets` (what a hostile server cannot make jauge do).

/// Request records and their summaries live in the shared library (the simulator makes them too).
pub use jauge::{aggregate, record};
pub mod calibrate;
pub mod capacity;
pub mod cli;
pub mod client;
pub mod compare;
pub mod dataset_file;
pub mod exit;
pub mod fetch;
pub mod files;
pub mod gpu;
pub mod h1;
pub mod import;
pub mod index;
pub mod limit;
pub mod limits;
pub mod load;
pub mod merge;
pub mod metrics;
pub mod openai;
pub mod output;
pub mod people;
pub mod plan;
pub mod population;
pub mod probe;
pub mod progress;
pub mod prompts;
pub mod replay;
pub mod run;
pub mod secrets;
pub mod serve_sim;
pub mod server;
pub mod session;
pub mod show;
pub mod simulate;
pub mod size;
pub mod sse;
pub mod study;
pub mod summary;
pub mod table;
pub mod telemetry;
pub mod tick_server;
pub mod validate;

use std::process::ExitCode;

use cli::{Cli, Command};

/// Runs one command; the error's kind picks the exit code (see [`exit`]).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Size(args) => size::run(&args),
        Command::People(args) => people::run(&args),
        Command::Show(args) => show::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Schema(args) => index::schema(&args),
        Command::Index(args) => index::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Run(args) => runtime()?.block_on(run::run(&args)),
        Command::Calibrate(args) => calibrate::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Merge(args) => merge::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Limit(args) => runtime()?.block_on(limit::run(&args)),
        Command::Study(args) => runtime()?.block_on(study::run(&args)),
        Command::ServeSim(args) => runtime()?.block_on(serve_sim::run(&args)),
    }
}

/// The async runtime for the commands that talk over the network.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
