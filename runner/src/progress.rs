//! Progress on the terminal: one bar for the sweep, one for the step. Without a terminal (or
//! with --quiet) the bars stay hidden; step lines still go to stderr unless --quiet.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::record::RequestRecord;

/// The run's progress display.
pub struct Progress {
    multi: MultiProgress,
    sweep: ProgressBar,
    step: ProgressBar,
    quiet: bool,
    step_started: Instant,
    step_tokens: u64,
    step_errors: u64,
}

impl Progress {
    /// Bars for a sweep of `total_steps` steps.
    pub fn new(total_steps: u64, quiet: bool) -> Progress {
        let draw = !quiet && std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if draw {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let sweep = multi.add(ProgressBar::new(total_steps));
        sweep.set_style(
            ProgressStyle::with_template(
                "sweep {bar:30.cyan/blue} {pos}/{len} steps  {elapsed_precise}  {msg}",
            )
            .expect("a valid template"),
        );
        let step = multi.add(ProgressBar::new(0));
        step.set_style(
            ProgressStyle::with_template("step  {bar:30.green/white} {pos}/{len} requests  {msg}")
                .expect("a valid template"),
        );
        Progress {
            multi,
            sweep,
            step,
            quiet,
            step_started: Instant::now(),
            step_tokens: 0,
            step_errors: 0,
        }
    }

    /// A step begins.
    pub fn start_step(&mut self, label: &str, requests: Option<u32>) {
        self.step.reset();
        self.step.set_length(requests.map_or(0, u64::from));
        self.sweep.set_message(label.to_string());
        self.step_started = Instant::now();
        self.step_tokens = 0;
        self.step_errors = 0;
    }

    /// A request finished.
    pub fn record(&mut self, r: &RequestRecord) {
        if r.warmup {
            return;
        }
        self.step_tokens += u64::from(r.output_tokens());
        self.step_errors += u64::from(r.error.is_some());
        let seconds = self.step_started.elapsed().as_secs_f64().max(1e-3);
        self.step.inc(1);
        self.step.set_message(format!(
            "{:.0} tok/s  {} error(s)",
            self.step_tokens as f64 / seconds,
            self.step_errors
        ));
    }

    /// A step is written: one line above the bars (or on stderr without a terminal).
    pub fn finish_step(&self, line: &str) {
        self.sweep.inc(1);
        self.say(line);
    }

    /// Steps that will not run (a row stopped early).
    pub fn skip(&self, steps: u64) {
        self.sweep.inc(steps);
    }

    /// A line for the user, unless quiet.
    pub fn say(&self, line: &str) {
        if self.quiet {
            return;
        }
        let line = crate::secrets::mask_known(line);
        let line = line.as_str();
        if self.multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        self.step.finish_and_clear();
        self.sweep.finish_and_clear();
    }
}
