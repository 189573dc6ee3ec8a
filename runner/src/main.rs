//! `jauge`: the study end to end, sizing, load tests of OpenAI-compatible servers, predictions, and the datasets they write.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = jauge_runner::cli::Cli::parse();
    match jauge_runner::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("jauge: error: {}", jauge_runner::exit::describe(&err));
            jauge_runner::exit::code_for(&err)
        }
    }
}
