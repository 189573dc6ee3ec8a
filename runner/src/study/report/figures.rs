//! The figures of one deployment, read from its datasets, as the report's four sections:
//! memory, speed and users, maximum context, what limited it.

use jauge::catalogue::Catalogue;
use jauge::dataset::{ContextLimit, Dataset, LimitReason, Source, Step};
use jauge::metric::{gpu_memory_peaks, Metric};
use jauge::sizing::Sizing;
use jauge_chart::Line;

use super::page::{Block, Plot, Section};
use super::{Entry, Outcome};
use crate::table::{any_rate, step_cells, step_columns, Align, Cell, Table};

/// The figures of one deployment.
pub(super) struct Figures<'a> {
    /// The deployment as its first dataset records it.
    pub label: String,
    /// Simulated when any of its datasets is.
    pub source: Source,
    /// Steps of the sweep and the users search (not the context probes), by prompt then users.
    pub steps: Vec<&'a Step>,
    /// The sweep's dataset ([`jauge::study::sweep_of`]).
    pub sweep: Option<&'a Dataset>,
    /// The context search's answers, from every dataset.
    pub context: Vec<&'a ContextLimit>,
    /// The sweep's prompt sizes.
    pub prompts: Vec<u32>,
}

impl<'a> Figures<'a> {
    pub fn of(datasets: &'a [Dataset]) -> Figures<'a> {
        let sweep = jauge::study::sweep_of(datasets);
        let mut steps: Vec<&Step> = sweep.map(|d| d.steps.iter().collect()).unwrap_or_default();
        steps.sort_by_key(|s| (s.prompt_tokens, s.concurrency));
        let context = datasets.iter().flat_map(|d| &d.context_limits).collect();
        let source = if datasets.iter().any(|d| d.source == Source::Simulated) {
            Source::Simulated
        } else {
            datasets
                .first()
                .map_or(Source::Simulated, |d| d.source.clone())
        };
        Figures {
            label: datasets.first().map_or_else(String::new, describe),
            source,
            prompts: sweep
                .map(|d| d.workload.prompt_tokens.clone())
                .unwrap_or_default(),
            steps,
            sweep,
            context,
        }
    }

    /// Whether these figures are predictions, to be labelled so wherever they are shown.
    pub fn simulated(&self) -> bool {
        self.source == Source::Simulated
    }

    /// `metric` against users at one prompt size, labelled `label`.
    pub fn line(&self, metric: Metric, prompt: u32, label: String) -> Line {
        Line::of_steps(
            metric,
            self.steps.iter().copied(),
            prompt,
            label,
            self.simulated(),
        )
    }

    /// `metric` against users, a line per prompt size.
    fn plot(&self, metric: Metric) -> Plot {
        let lines = self
            .prompts
            .iter()
            .map(|&p| self.line(metric, p, format!("prompt {p}")))
            .collect();
        Plot::new(metric, lines, "One line per prompt size", self.simulated())
    }

    /// The four sections, `sizing` being the deployment as `jauge size` computes it.
    pub fn sections(&self, sizing: Option<&Sizing>) -> Vec<Section> {
        vec![
            Section::new("1. Memory", self.memory(sizing)),
            Section::new("2. Speed and users", self.speed()),
            Section::new("3. Maximum context", self.max_context()),
            Section::new(
                "4. What limited it",
                vec![Block::List(self.limits_in_words())],
            ),
        ]
    }

    /// Where the GPU's total came from: NVML on the GPU node, else the catalogue.
    fn memory_origin(&self) -> &'static str {
        match self.sweep {
            Some(d) if d.deployment.gpus.cuda_memory_mib.is_some() => {
                if d.source == jauge::dataset::Source::Measured {
                    " (as CUDA saw it: NVML's reading on the GPU node)"
                } else {
                    " (as the dataset states it)"
                }
            }
            _ => " (the catalogue's)",
        }
    }

    fn memory(&self, sizing: Option<&Sizing>) -> Vec<Block> {
        let mut blocks = Vec::new();
        if let Some(s) = sizing {
            let m = &s.memory_gib_per_gpu;
            blocks.push(Block::Paragraph(format!(
                "Computed (jauge size, vLLM {}'s accounting), per GPU of {:.2} GiB{}: weights {:.2} GiB, activation peak {:.2} GiB, outside PyTorch {:.2} GiB, KV cache {:.2} GiB — {} KV-cache tokens over {} GPU(s) at max_model_len {}.",
                s.vllm_version, m.total, self.memory_origin(), m.weights, m.activation_peak, m.non_torch, m.kv_cache, s.kv_cache_tokens, s.gpus, s.max_model_len
            )));
        }
        let charted = [Metric::GpuMemoryPeak, Metric::KvCachePeak];
        blocks.push(Block::charts(charted.map(|m| self.plot(m))));
        let metrics = [
            Metric::GpuMemoryPeak,
            Metric::GpuMemoryMean,
            Metric::KvCachePeak,
        ];
        let open = any_rate(self.steps.iter().copied());
        let mut columns = step_columns(open);
        columns.extend(metrics.iter().map(|m| (m.heading(), Align::Right)));
        columns.push(("peak per GPU, GiB", Align::Right));
        let mut table = Table::new(&columns);
        for s in &self.steps {
            let mut row = step_cells(open, s);
            row.extend(metrics.iter().map(|m| Cell::metric(*m, s)));
            let peaks = gpu_memory_peaks(s);
            row.push(Cell::text(if peaks.is_empty() {
                "—".to_string()
            } else {
                peaks
                    .iter()
                    .map(|p| Metric::GpuMemoryPeak.format(*p))
                    .collect::<Vec<_>>()
                    .join(" / ")
            }));
            table.push(row);
        }
        blocks.push(Block::table("Memory at each step", self.simulated(), table));
        if self.steps.iter().all(|s| s.gpu.is_none()) {
            let why = self
                .sweep
                .and_then(|d| d.gpu_telemetry.as_ref())
                .and_then(|t| t.reason.clone())
                .unwrap_or_else(|| "not measured".into());
            blocks.push(Block::Paragraph(format!("No GPU readings: {why}.")));
        }
        blocks
    }

    fn speed(&self) -> Vec<Block> {
        let charted = [
            Metric::OutputTokS,
            Metric::PerUserTokS,
            Metric::TtftP95,
            Metric::ItlP95,
        ];
        let mut blocks = vec![Block::charts(charted.map(|m| self.plot(m)))];
        if let Some(sweep) = self.sweep {
            blocks.push(Block::table(
                "Every step, every figure, as jauge show prints them",
                self.simulated(),
                crate::show::steps(sweep),
            ));
        }
        let table = limits_table(
            ["prompt tokens", "max users", "breaks at", "how"],
            self.sweep.iter().flat_map(|d| &d.limits).map(|l| {
                (
                    l.prompt_tokens,
                    l.max_concurrency_ok,
                    l.stopped_at_concurrency,
                    l.reason,
                    l.detail.as_deref(),
                )
            }),
        );
        blocks.push(Block::table(
            "Most simultaneous users under the objectives",
            self.simulated(),
            table,
        ));
        blocks
    }

    fn max_context(&self) -> Vec<Block> {
        let table = limits_table(
            [
                "users",
                "max prompt tokens",
                "refused at",
                "the server's answer",
            ],
            self.context.iter().map(|c| {
                (
                    c.concurrency,
                    c.max_context_tokens,
                    c.refused_at_tokens,
                    c.reason,
                    c.detail.as_deref(),
                )
            }),
        );
        vec![Block::table(
            "The largest prompt accepted and served",
            self.simulated(),
            table,
        )]
    }

    fn limits_in_words(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for l in self.sweep.iter().flat_map(|d| &d.limits) {
            lines.push(format!(
                "Users at {} prompt tokens: {} — limited by {}.",
                l.prompt_tokens,
                l.max_concurrency_ok
                    .map_or("none".into(), |c| c.to_string()),
                l.reason.describe()
            ));
        }
        for c in &self.context {
            lines.push(format!(
                "Context at {} user(s): {} tokens — limited by {}.",
                c.concurrency,
                c.max_context_tokens
                    .map_or("none".into(), |t| t.to_string()),
                c.reason.describe()
            ));
        }
        let preempted: u32 = self
            .steps
            .iter()
            .filter_map(|s| s.server.as_ref().and_then(|v| v.preemptions))
            .sum();
        if preempted > 0 {
            lines.push(format!(
                "Memory: the server preempted {preempted} requests over the sweep (its KV cache was full)."
            ));
        }
        lines
    }
}

/// Limits found by a search, a row each: what was searched at, the most that held, where it
/// broke, what limited it and how (`headings` name the first three columns and the last).
fn limits_table<'a>(
    headings: [&str; 4],
    limits: impl Iterator<Item = (u32, Option<u32>, Option<u32>, LimitReason, Option<&'a str>)>,
) -> Table {
    let [at, held, broke, how] = headings;
    let mut table = Table::new(&[
        (at, Align::Right),
        (held, Align::Right),
        (broke, Align::Right),
        ("limited by", Align::Left),
        (how, Align::Left),
    ]);
    for (at, held, broke, reason, how) in limits {
        table.push(vec![
            Cell::text(at.to_string()),
            Cell::text(count(held)),
            Cell::text(count(broke)),
            Cell::text(reason.describe()),
            Cell::text(how.unwrap_or_default()),
        ]);
    }
    table
}

/// A count, or `—` when there is none.
fn count(n: Option<u32>) -> String {
    n.map_or("—".into(), |n| n.to_string())
}

/// The deployment as `jauge size` computes it: with the settings its datasets record, else
/// as the study would deploy it, else with vLLM's defaults (to say how far it is from fitting).
pub(super) fn sizing_of(entry: &Entry) -> Option<Sizing> {
    let cat = Catalogue::builtin();
    let recorded = match &entry.outcome {
        Outcome::Datasets(d) => d.first().and_then(jauge::deployment::request_of),
        Outcome::CannotRun(_) => None,
    };
    let request = recorded.or_else(|| {
        let d = entry.deployment.as_ref()?;
        d.deployable(cat).ok().or_else(|| d.request(cat).ok())
    })?;
    jauge::sizing::size(&request).ok()
}

/// The deployment a dataset records, for a heading: `mistral-7b-v0.1 on 1 × a100-40gb, bf16,
/// vllm 0.19.0 (measured)`.
pub(super) fn describe(d: &Dataset) -> String {
    format!("{} ({})", crate::summary::deployment(d), d.source)
}
