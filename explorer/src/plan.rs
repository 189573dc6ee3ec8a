//! The planner's view-model: the selection (what the URL holds), its sizing, the memory bar
//! and the ranking of GPU configurations. Pure functions, tested natively; components only
//! format what these return.

use jauge::catalogue::{Catalogue, ModelSpec};
use jauge::deployment::DeploymentSpec;
use jauge::people::{Edits, Span, Workload};
use jauge::sim::{MaxPeople, PeopleLoad};
use jauge::sizing::engines::{self, Engine, EngineSizing};
use jauge::sizing::llamacpp::{self, LlamaCppSettings};
use jauge::sizing::{size, Sizing, SizingRequest};

use crate::url::{decode, encode};

/// The context the planner starts with (or the model's maximum when shorter).
pub const DEFAULT_CONTEXT: u32 = 8192;

/// GPU counts the planner and the ranking consider.
pub const GPU_COUNTS: [u32; 4] = [1, 2, 4, 8];

/// What the reader chose. The planner sizes it as
/// `jauge size --catalog-model M --gpu G --gpus N [--quant Q] --kv-cache-dtype K
/// --max-model-len C --context C --gpu-memory-utilization U`: the server is configured for
/// the context the reader wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Catalogue model id, or `custom` for a pasted `config.json`.
    pub model: String,
    /// Catalogue GPU id.
    pub gpu: String,
    /// GPUs (tensor parallelism).
    pub gpus: u32,
    /// Quantisation id; `None` for the checkpoint's dtype.
    pub quant: Option<String>,
    /// KV-cache dtype (`auto`, `fp16`, `bf16`, `fp8`).
    pub kv_cache_dtype: String,
    /// Tokens per request (and the server's `--max-model-len`); `None` for the default.
    pub context: Option<u32>,
    /// `gpu_memory_utilization`.
    pub gpu_memory_utilization: f64,
    /// Prompt tokens of the predicted chat request.
    pub prompt_tokens: u32,
    /// Output tokens of the predicted chat request.
    pub output_tokens: u32,
    /// Objective on TTFT p95, ms.
    pub slo_ttft_ms: f64,
    /// Objective on TPOT p95, ms.
    pub slo_tpot_ms: f64,
    /// The vLLM release whose memory rules size it.
    pub vllm_version: String,
    /// The serving engine (an id of [`ENGINES`]).
    pub engine: String,
    /// The people's workload (a name of [`jauge::people::Workload::NAMES`]).
    pub workload: String,
    /// Mean seconds between an answer and the next request; `None` for the workload's.
    pub think_s: Option<f64>,
    /// Turns of a conversation; `None` for the workload's.
    pub turns: Option<Span>,
    /// Answer lengths; `None` for the workload's.
    pub answer_tokens: Option<Span>,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            model: "mistral-7b-v0.3".to_string(),
            gpu: "a100-40gb".to_string(),
            gpus: 1,
            quant: None,
            kv_cache_dtype: "auto".to_string(),
            context: None,
            gpu_memory_utilization: 0.9,
            prompt_tokens: DEFAULT_PROMPT,
            output_tokens: DEFAULT_OUTPUT,
            slo_ttft_ms: DEFAULT_SLO_TTFT_MS,
            slo_tpot_ms: DEFAULT_SLO_TPOT_MS,
            vllm_version: jauge::sizing::VllmVersion::DEFAULT.to_string(),
            engine: "vllm".to_string(),
            workload: "chat".to_string(),
            think_s: None,
            turns: None,
            answer_tokens: None,
        }
    }
}

/// A chat request the prediction assumes unless told otherwise: a page of context, a few
/// paragraphs of answer.
pub const DEFAULT_PROMPT: u32 = 1024;
/// See [`DEFAULT_PROMPT`].
pub const DEFAULT_OUTPUT: u32 = 256;
/// What a chat user accepts before the answer starts: 2 s.
pub const DEFAULT_SLO_TTFT_MS: f64 = 2000.0;
/// What a chat user accepts between tokens: 100 ms (10 tokens/s, faster than reading).
pub const DEFAULT_SLO_TPOT_MS: f64 = 100.0;
/// The most users a prediction searches up to.
pub const PREDICTION_CEILING: u32 = 256;
/// Fewest simulated requests per probe, as `jauge limit --min-requests`'s default.
pub const PREDICTION_MIN_REQUESTS: u32 = 40;

/// vLLM releases the planner offers, newest first: one per memory rule of
/// [`jauge::sizing::RULES`] and the study's 2024 releases.
pub const VLLM_RELEASES: [&str; 10] = [
    "0.19.0", "0.9.1", "0.8.5", "0.6.5", "0.6.4", "0.6.3", "0.5.4", "0.4.2", "0.3.1", "0.2.7",
];

/// Engines the planner sizes, as `jauge size --engine` names them: vLLM at the release chosen,
/// SGLang and TensorRT-LLM at the newest releases jauge read, llama.cpp for GGUF formats.
pub const ENGINES: [(&str, &str); 4] = [
    ("vllm", "vLLM"),
    ("sglang", "SGLang"),
    ("trtllm", "TensorRT-LLM"),
    ("llama.cpp", "llama.cpp (GGUF formats)"),
];

/// A field of the selection, as the URL's query and the page's inputs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `model`
    Model,
    /// `gpu`
    Gpu,
    /// `gpus`
    Gpus,
    /// `quant` (`auto` is the checkpoint's dtype)
    Quant,
    /// `context` (empty is the default)
    Context,
    /// `kv`
    Kv,
    /// `util`
    Util,
    /// `prompt`
    Prompt,
    /// `output`
    Output,
    /// `ttft`
    Ttft,
    /// `tpot`
    Tpot,
    /// `vllm` (the release whose memory rules apply)
    Vllm,
    /// `engine`
    Engine,
    /// `workload`
    Workload,
    /// `think` (seconds; empty is the workload's)
    Think,
    /// `turns` (`3-8`; empty is the workload's)
    Turns,
    /// `answer` (tokens, `100-500`; empty is the workload's)
    Answer,
}

impl Field {
    /// Every field, in the order the query writes them.
    pub const ALL: [Field; 17] = [
        Field::Model,
        Field::Gpu,
        Field::Gpus,
        Field::Quant,
        Field::Context,
        Field::Kv,
        Field::Util,
        Field::Prompt,
        Field::Output,
        Field::Ttft,
        Field::Tpot,
        Field::Vllm,
        Field::Engine,
        Field::Workload,
        Field::Think,
        Field::Turns,
        Field::Answer,
    ];

    /// Its query key, also the id of its input on the page.
    pub fn key(self) -> &'static str {
        match self {
            Field::Model => "model",
            Field::Gpu => "gpu",
            Field::Gpus => "gpus",
            Field::Quant => "quant",
            Field::Context => "context",
            Field::Kv => "kv",
            Field::Util => "util",
            Field::Prompt => "prompt",
            Field::Output => "output",
            Field::Ttft => "ttft",
            Field::Tpot => "tpot",
            Field::Vllm => "vllm",
            Field::Engine => "engine",
            Field::Workload => "workload",
            Field::Think => "think",
            Field::Turns => "turns",
            Field::Answer => "answer",
        }
    }

    /// Written in every link, default or not, so that a link says what it shows.
    fn always_written(self) -> bool {
        matches!(self, Field::Model | Field::Gpu | Field::Gpus)
    }
}

impl Selection {
    /// One field as the query and the inputs write it.
    pub fn get(&self, field: Field) -> String {
        match field {
            Field::Model => self.model.clone(),
            Field::Gpu => self.gpu.clone(),
            Field::Gpus => self.gpus.to_string(),
            Field::Quant => self.quant.clone().unwrap_or_else(|| "auto".to_string()),
            Field::Context => self.context.map(|c| c.to_string()).unwrap_or_default(),
            Field::Kv => self.kv_cache_dtype.clone(),
            Field::Util => self.gpu_memory_utilization.to_string(),
            Field::Prompt => self.prompt_tokens.to_string(),
            Field::Output => self.output_tokens.to_string(),
            Field::Ttft => self.slo_ttft_ms.to_string(),
            Field::Tpot => self.slo_tpot_ms.to_string(),
            Field::Vllm => self.vllm_version.clone(),
            Field::Engine => self.engine.clone(),
            Field::Workload => self.workload.clone(),
            Field::Think => self.think_s.map(|t| t.to_string()).unwrap_or_default(),
            Field::Turns => self.turns.map(span_text).unwrap_or_default(),
            Field::Answer => self.answer_tokens.map(span_text).unwrap_or_default(),
        }
    }

    /// Sets one field from what the query or an input holds; a value that cannot be read
    /// (empty, not a number, not above zero) leaves the field as it was, except that an empty
    /// or `auto` format and an empty context mean the defaults.
    pub fn set(&mut self, field: Field, value: &str) {
        let value = value.trim();
        match field {
            Field::Model if !value.is_empty() => self.model = value.to_string(),
            Field::Gpu if !value.is_empty() => self.gpu = value.to_string(),
            Field::Kv if !value.is_empty() => self.kv_cache_dtype = value.to_string(),
            Field::Vllm if value.parse::<jauge::sizing::VllmVersion>().is_ok() => {
                self.vllm_version = value.to_string()
            }
            Field::Engine if ENGINES.iter().any(|(id, _)| *id == value) => {
                self.engine = value.to_string()
            }
            Field::Workload if Workload::NAMES.contains(&value) => {
                self.workload = value.to_string()
            }
            // Zero is a workload without pauses; empty is the workload's own.
            Field::Think => {
                self.think_s = match value.parse::<f64>() {
                    Ok(t) if t >= 0.0 && t.is_finite() => Some(t),
                    _ if value.is_empty() => None,
                    _ => self.think_s,
                }
            }
            Field::Turns => self.turns = span_or(value, self.turns),
            Field::Answer => self.answer_tokens = span_or(value, self.answer_tokens),
            Field::Gpus => self.gpus = positive(value).unwrap_or(self.gpus),
            Field::Quant => {
                self.quant = (!value.is_empty() && value != "auto").then(|| value.to_string())
            }
            Field::Context => self.context = positive(value),
            Field::Util => {
                self.gpu_memory_utilization = positive(value).unwrap_or(self.gpu_memory_utilization)
            }
            Field::Prompt => self.prompt_tokens = positive(value).unwrap_or(self.prompt_tokens),
            Field::Output => self.output_tokens = positive(value).unwrap_or(self.output_tokens),
            Field::Ttft => self.slo_ttft_ms = positive(value).unwrap_or(self.slo_ttft_ms),
            Field::Tpot => self.slo_tpot_ms = positive(value).unwrap_or(self.slo_tpot_ms),
            Field::Model
            | Field::Gpu
            | Field::Kv
            | Field::Vllm
            | Field::Engine
            | Field::Workload => {}
        }
    }

    /// Reads a URL query (`?model=…&gpu=…&gpus=…&quant=…&context=…&kv=…&util=…`); missing or
    /// unreadable values keep their defaults.
    pub fn from_query(query: &str) -> Selection {
        let mut s = Selection::default();
        for pair in query.trim_start_matches('?').split('&') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            if let Some(field) = Field::ALL.into_iter().find(|f| f.key() == key) {
                s.set(field, &decode(value));
            }
        }
        s
    }

    /// The URL query for this selection: the model, the GPU and their count, then every field
    /// that is not its default.
    pub fn to_query(&self) -> String {
        let default = Selection::default();
        let pairs: Vec<String> = Field::ALL
            .into_iter()
            .map(|f| (f, self.get(f)))
            .filter(|(f, value)| f.always_written() || *value != default.get(*f))
            .map(|(f, value)| format!("{}={}", f.key(), encode(&value)))
            .collect();
        format!("?{}", pairs.join("&"))
    }

    /// The context sized: the chosen one, else 8,192 or the model's maximum when shorter.
    pub fn context_for(&self, model: &ModelSpec) -> u32 {
        self.context
            .unwrap_or(DEFAULT_CONTEXT.min(model.max_position_embeddings))
    }

    /// Sizes the selection for `model` (the catalogue's, or a pasted one).
    ///
    /// # Errors
    /// The message `jauge size` would print (unknown GPU, unsupported format, bad settings).
    pub fn size_with(&self, model: &ModelSpec) -> Result<Sizing, String> {
        self.size_on(model, &self.gpu, self.gpus)
    }

    /// Sizes the selection under an engine other than vLLM, as `jauge size --engine ENGINE`
    /// does; `None` for vLLM, whose own sizing the planner shows in full.
    pub fn engine_sizing(&self, model: &ModelSpec) -> Option<Result<EngineSizing, String>> {
        let sized = match self.engine.as_str() {
            "vllm" => return None,
            "llama.cpp" => self.size_llamacpp(model),
            other => other
                .parse::<Engine>()
                .map_err(|e| e.to_string())
                .and_then(|engine| {
                    let request = self.request(model, &self.gpu, self.gpus)?;
                    engines::size_with(&request, &engine).map_err(|e| e.to_string())
                }),
        };
        Some(sized)
    }

    /// llama.cpp's buffers for a catalogue model in a GGUF format, every layer on one GPU.
    fn size_llamacpp(&self, model: &ModelSpec) -> Result<EngineSizing, String> {
        let cat = Catalogue::builtin();
        let quant = match &self.quant {
            Some(q) if q.starts_with("gguf-") => cat.quant(q).map_err(|e| e.to_string())?,
            _ => return Err("llama.cpp serves GGUF formats: choose a gguf-… quantisation".into()),
        };
        if self.gpus > 1 {
            return Err("jauge sizes llama.cpp on one GPU: choose 1 GPU".into());
        }
        let gpu = cat.gpu(&self.gpu).map_err(|e| e.to_string())?;
        let mut settings = LlamaCppSettings::new(self.context_for(model));
        settings.gpu_device = Some("CUDA0".into());
        let sized = llamacpp::size_catalogue(model, quant, &settings).map_err(|e| e.to_string())?;
        Ok(engines::from_llamacpp(
            &sized,
            &model.id,
            &quant.id,
            Some((&gpu.id, gpu.memory_gib)),
        ))
    }

    /// Sizes the selection with another GPU kind and count (for the ranking).
    fn size_on(&self, model: &ModelSpec, gpu: &str, gpus: u32) -> Result<Sizing, String> {
        size(&self.request(model, gpu, gpus)?).map_err(|e| e.to_string())
    }

    /// The deployment the selection describes on `gpus` GPUs of kind `gpu`, served with
    /// `--max-model-len` set to the context (so that each request's context, which defaults
    /// to `max_model_len`, is the context chosen).
    fn deployment(&self, model: &ModelSpec, gpu: &str, gpus: u32) -> DeploymentSpec {
        DeploymentSpec {
            gpus,
            quant: self.quant.clone(),
            kv_cache_dtype: Some(self.kv_cache_dtype.clone()),
            max_model_len: Some(self.context_for(model)),
            gpu_memory_utilization: Some(self.gpu_memory_utilization),
            vllm_version: Some(self.vllm_version.clone()),
            ..DeploymentSpec::new(&self.model, gpu)
        }
    }

    /// The sizing request of [`Selection::deployment`] for `model`, which may be a pasted one.
    fn request<'a>(
        &self,
        model: &'a ModelSpec,
        gpu: &str,
        gpus: u32,
    ) -> Result<SizingRequest<'a>, String> {
        self.deployment(model, gpu, gpus)
            .request_for(model, Catalogue::builtin())
            .map_err(|e| e.to_string())
    }
}

/// What the simulator predicts for the selection under load.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The most users whose TTFT and TPOT p95 meet the objectives.
    pub max_users: Option<u32>,
    /// The fewest that do not, and why.
    pub breaks: Option<(u32, String)>,
    /// Output tok/s, all users, at `max_users`.
    pub output_tok_s: Option<f64>,
    /// Output tok/s one user sees at `max_users`.
    pub per_user_tok_s: Option<f64>,
    /// (users, output tok/s) over 1, 2, 4, … 256 users.
    pub throughput_curve: Vec<(f64, f64)>,
    /// (users, TTFT p95 ms) over the same.
    pub ttft_curve: Vec<(f64, f64)>,
}

impl Selection {
    /// Predicts the selection under load with the discrete-event simulator: the most users
    /// under the objectives (the search of `jauge limit --simulate`) and the curves.
    ///
    /// # Errors
    /// The sizing's message, or "does not fit".
    pub fn predict(&self, model: &ModelSpec) -> Result<Prediction, String> {
        if self.engine != "vllm" {
            let name = ENGINES
                .iter()
                .find(|(id, _)| *id == self.engine)
                .map_or(self.engine.as_str(), |(_, name)| name);
            return Err(format!(
                "The prediction under load simulates vLLM's scheduler: jauge does not predict users for {name}."
            ));
        }
        let request = self.request(model, &self.gpu, self.gpus)?;
        let context = self.context_for(model);
        if self.prompt_tokens + self.output_tokens > context {
            return Err(format!(
                "a request of {} + {} tokens does not fit the {context}-token context",
                self.prompt_tokens, self.output_tokens
            ));
        }
        let slo = jauge::objectives::Slo {
            ttft_ms: Some(self.slo_ttft_ms),
            tpot_ms: Some(self.slo_tpot_ms),
        };
        let rules = jauge::objectives::Rules::objectives(slo, jauge::objectives::Percentile::P95);
        let found = jauge::sim::max_users(
            &request,
            self.prompt_tokens,
            self.output_tokens,
            &rules,
            PREDICTION_CEILING,
            PREDICTION_MIN_REQUESTS,
        )
        .map_err(|e| e.to_string())?;
        let engine = jauge::sim::engine_for(&request).map_err(|e| e.to_string())?;
        let (mut throughput_curve, mut ttft_curve) = (Vec::new(), Vec::new());
        let mut users = 1;
        while users <= PREDICTION_CEILING {
            let load = jauge::sim::SimLoad {
                concurrency: users,
                prompt_tokens: self.prompt_tokens,
                output_tokens: self.output_tokens,
                requests: (2 * users).max(16),
                pacing: jauge::pacing::Pacing::Closed,
                seed: 0,
            };
            let (records, _) = jauge::sim::simulate(&engine, &load);
            let step = jauge::aggregate::step(
                users,
                self.prompt_tokens,
                self.output_tokens,
                &records,
                slo,
            );
            let x = f64::from(users);
            if let Some(v) = jauge::metric::Metric::OutputTokS.value(&step) {
                throughput_curve.push((x, v));
            }
            if let Some(v) = jauge::metric::Metric::TtftP95.value(&step) {
                ttft_curve.push((x, v));
            }
            users *= 2;
        }
        Ok(Prediction {
            max_users: found.max_users,
            breaks: found.breaks_at.zip(found.breach.map(|b| b.to_string())),
            output_tok_s: found
                .at_max
                .as_ref()
                .and_then(|s| s.throughput.output_tok_s),
            per_user_tok_s: found
                .at_max
                .as_ref()
                .and_then(|s| s.throughput.per_user_output_tok_s),
            throughput_curve,
            ttft_curve,
        })
    }
}

/// One segment of the per-GPU memory bar.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSegment {
    /// What it holds.
    pub label: &'static str,
    /// CSS class.
    pub class: &'static str,
    /// Its size, GiB.
    pub gib: f64,
    /// Its share of the GPU's memory, percent (0–100).
    pub percent: f64,
}

/// The per-GPU memory bar: weights, activations, runtime overhead, KV cache, headroom (where
/// CUDA graphs live before vLLM 0.20); clipped to the GPU's memory when it does not fit.
pub fn memory_bar(s: &Sizing) -> Vec<BarSegment> {
    let m = &s.memory_gib_per_gpu;
    let parts = [
        ("weights", "weights", m.weights),
        ("activations", "activations", m.activation_peak),
        ("runtime overhead", "overhead", m.non_torch),
        ("KV cache", "kv", m.kv_cache.max(0.0)),
        ("headroom", "headroom", m.headroom),
    ];
    let mut left = 100.0;
    parts
        .into_iter()
        .map(|(label, class, gib)| {
            let percent = (gib / m.total * 100.0).clamp(0.0, left);
            left -= percent;
            BarSegment {
                label,
                class,
                gib,
                percent,
            }
        })
        .collect()
}

/// One GPU configuration in the ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct RankRow {
    /// GPU id.
    pub gpu: String,
    /// GPU count.
    pub gpus: u32,
    /// Requests of the chosen context served at once.
    pub max_concurrency: f64,
    /// KV-cache tokens.
    pub kv_cache_tokens: u64,
    /// Weights per GPU, GiB.
    pub weights_gib_per_gpu: f64,
}

/// Every catalogue GPU × {1, 2, 4, 8} on which the selection fits, most users first; and how
/// many configurations were left out (not fitting, or the format does not run there).
pub fn ranking(selection: &Selection, model: &ModelSpec) -> (Vec<RankRow>, usize) {
    let mut rows = Vec::new();
    let mut left_out = 0;
    for gpu in &Catalogue::builtin().gpus {
        for gpus in GPU_COUNTS {
            match selection.size_on(model, &gpu.id, gpus) {
                Ok(s) if s.fits => rows.push(RankRow {
                    gpu: gpu.id.clone(),
                    gpus,
                    max_concurrency: s.max_concurrency,
                    kv_cache_tokens: s.kv_cache_tokens,
                    weights_gib_per_gpu: s.weights_gib_per_gpu,
                }),
                _ => left_out += 1,
            }
        }
    }
    rows.sort_by(|a, b| {
        b.max_concurrency
            .total_cmp(&a.max_concurrency)
            .then(a.gpus.cmp(&b.gpus))
    });
    (rows, left_out)
}

/// A number exactly as `jauge size --json` writes it, for `data-value`.
pub fn raw(value: f64) -> String {
    serde_json::Value::from(value).to_string()
}

/// A number above zero, or `None`.
/// The most people of the selection's workload, as `jauge people` computes them.
#[derive(Debug, Clone, PartialEq)]
pub struct People {
    /// The workload with the reader's edits.
    pub workload: Workload,
    /// The search's answer.
    pub answer: MaxPeople,
}

/// Most people the site's search tries, as `jauge people --ceiling`'s default.
pub const PEOPLE_CEILING: u32 = 100_000;

impl Selection {
    /// The workload chosen, with the reader's edits.
    ///
    /// ```
    /// let s = jauge_explorer::plan::Selection::from_query("?workload=rag&think=5");
    /// let w = s.workload();
    /// assert_eq!((w.name, w.think_s), ("rag", 5.0));
    /// ```
    pub fn workload(&self) -> Workload {
        Workload::preset(&self.workload)
            .or_else(|_| Workload::preset("chat"))
            .expect("chat is a preset")
            .edited(&Edits {
                think_s: self.think_s,
                turns: self.turns,
                answer_tokens: self.answer_tokens,
                ..Edits::default()
            })
    }

    /// The most people of [`Selection::workload`] on the selection's deployment (vLLM), from
    /// the simulator with prefix caching: `jauge people --workload W` with the same settings.
    ///
    /// # Errors
    /// Another engine than vLLM, or a deployment that does not fit.
    pub fn people(&self, model: &ModelSpec) -> Result<People, String> {
        if self.engine != "vllm" {
            return Err("People are predicted by simulating vLLM's scheduler: choose vLLM.".into());
        }
        let request = self.request(model, &self.gpu, self.gpus)?;
        let engine = jauge::sim::engine_for(&request).map_err(|e| e.to_string())?;
        let workload = self.workload();
        let load = PeopleLoad::new(1, &workload);
        Ok(People {
            answer: jauge::sim::max_people(&engine, &load, PEOPLE_CEILING),
            workload,
        })
    }
}

/// A span as the query writes it (`3-8`, `5`).
fn span_text(span: Span) -> String {
    if span.min == span.max {
        span.min.to_string()
    } else {
        format!("{}-{}", span.min, span.max)
    }
}

/// A span read from the query; empty means the workload's, unreadable keeps `old`.
fn span_or(value: &str, old: Option<Span>) -> Option<Span> {
    if value.is_empty() {
        None
    } else {
        value.parse().ok().or(old)
    }
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(text: &str) -> Option<T> {
    text.parse().ok().filter(|v| *v > T::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str) -> &'static ModelSpec {
        Catalogue::builtin().model(id).unwrap()
    }

    /// The other engines' numbers are `jauge size --engine ENGINE`'s, and vLLM keeps its own.
    #[test]
    fn each_engine_is_sized_as_jauge_size_sizes_it() {
        let m = model("llama-3-8b");
        let mut s = Selection {
            model: "llama-3-8b".into(),
            gpu: "h100-80gb".into(),
            ..Selection::default()
        };
        assert!(s.engine_sizing(m).is_none());
        s.set(Field::Engine, "sglang");
        let request = s.request(m, "h100-80gb", 1).unwrap();
        let expected = engines::size_with(&request, &"sglang".parse().unwrap()).unwrap();
        let got = s.engine_sizing(m).unwrap().unwrap();
        assert_eq!(
            (got.engine.as_str(), got.kv_cache_tokens),
            ("sglang", expected.kv_cache_tokens)
        );
        assert!(s.predict(m).unwrap_err().contains("SGLang"));

        s.set(Field::Engine, "llama.cpp");
        assert!(s.engine_sizing(m).unwrap().unwrap_err().contains("GGUF"));
        s.set(Field::Quant, "gguf-q4_k_m");
        let settings = {
            let mut l = LlamaCppSettings::new(s.context_for(m));
            l.gpu_device = Some("CUDA0".into());
            l
        };
        let cat = Catalogue::builtin();
        let direct =
            llamacpp::size_catalogue(m, cat.quant("gguf-q4_k_m").unwrap(), &settings).unwrap();
        let got = s.engine_sizing(m).unwrap().unwrap();
        assert_eq!(
            (got.engine.as_str(), got.kv_cache_tokens),
            ("llama.cpp", direct.kv_tokens)
        );
    }

    #[test]
    fn the_query_round_trips() {
        let s = Selection {
            model: "mistralai/Mistral-7B-v0.3".into(),
            gpu: "h100-80gb".into(),
            gpus: 2,
            quant: Some("awq".into()),
            kv_cache_dtype: "fp8".into(),
            context: Some(4096),
            gpu_memory_utilization: 0.85,
            prompt_tokens: 2000,
            output_tokens: 100,
            slo_ttft_ms: 500.0,
            slo_tpot_ms: 50.0,
            vllm_version: "0.4.2".into(),
            engine: "sglang".into(),
            workload: "rag".into(),
            think_s: Some(0.0),
            turns: Some(Span { min: 2, max: 4 }),
            answer_tokens: Some(Span { min: 50, max: 50 }),
        };
        assert_eq!(Selection::from_query(&s.to_query()), s);
        assert!(s
            .to_query()
            .ends_with("&workload=rag&think=0&turns=2-4&answer=50"));
        // Unreadable values keep what was there; empty ones mean the workload's.
        let odd = Selection::from_query("?workload=gossip&think=-1&turns=8-3&answer=");
        assert_eq!(
            (
                odd.workload.as_str(),
                odd.think_s,
                odd.turns,
                odd.answer_tokens
            ),
            ("chat", None, None, None)
        );
        // An engine jauge does not size leaves vLLM.
        assert_eq!(Selection::from_query("?engine=tgi").engine, "vllm");
        // A release jauge does not model leaves the default.
        assert_eq!(Selection::from_query("?vllm=0.1.0").vllm_version, "0.19.0");
        assert_eq!(Selection::from_query(""), Selection::default());
        assert_eq!(Selection::from_query("?gpus=two&context=-3").gpus, 1);
        assert_eq!(
            Selection::default().to_query(),
            "?model=mistral-7b-v0.3&gpu=a100-40gb&gpus=1"
        );
    }

    #[test]
    fn every_field_reads_back_what_it_writes() {
        let s = Selection::from_query(
            "?quant=awq&context=4096&kv=fp8&util=0.8&prompt=10&output=5&ttft=300&tpot=20.5&workload=code&think=2.5&turns=3&answer=10-20",
        );
        for field in Field::ALL {
            let mut other = Selection::default();
            other.set(field, &s.get(field));
            assert_eq!(other.get(field), s.get(field), "{}", field.key());
        }
        let mut auto = s.clone();
        auto.set(Field::Quant, "auto");
        auto.set(Field::Context, "");
        assert_eq!((auto.quant, auto.context), (None, None));
    }

    #[test]
    fn people_are_jauge_peoples_answer_with_the_readers_edits() {
        let s = Selection::from_query("?model=mistral-7b-v0.1&workload=code&think=20&turns=4-6");
        let p = s.people(model("mistral-7b-v0.1")).unwrap();
        assert_eq!(
            (p.workload.think_s, p.workload.turns),
            (20.0, Span { min: 4, max: 6 })
        );
        let engine =
            jauge::sim::engine_for(&s.request(model("mistral-7b-v0.1"), "a100-40gb", 1).unwrap())
                .unwrap();
        let direct =
            jauge::sim::max_people(&engine, &PeopleLoad::new(1, &p.workload), PEOPLE_CEILING);
        assert_eq!(p.answer, direct);
        assert!(p.answer.people > 0);
        let other = Selection::from_query("?engine=sglang");
        assert!(other
            .people(model("mistral-7b-v0.3"))
            .unwrap_err()
            .contains("vLLM"));
    }

    #[test]
    fn mixtral_on_two_a100s_in_awq_fits_and_ranks() {
        let s = Selection::from_query("?model=mixtral-8x7b-v0.1&gpu=a100-40gb&gpus=2&quant=awq");
        let sizing = s.size_with(model("mixtral-8x7b-v0.1")).unwrap();
        assert!(sizing.fits);
        let (rows, left_out) = ranking(&s, model("mixtral-8x7b-v0.1"));
        assert!(rows.iter().any(|r| r.gpu == "a100-40gb" && r.gpus == 2));
        assert!(rows
            .windows(2)
            .all(|w| w[0].max_concurrency >= w[1].max_concurrency));
        assert_eq!(
            rows.len() + left_out,
            Catalogue::builtin().gpus.len() * GPU_COUNTS.len()
        );
    }

    #[test]
    fn the_bar_never_exceeds_the_gpu() {
        let s = Selection::from_query("?model=llama-3-70b&gpu=a100-40gb");
        let sizing = s.size_with(model("llama-3-70b")).unwrap();
        let bar = memory_bar(&sizing);
        let total: f64 = bar.iter().map(|b| b.percent).sum();
        assert!(total <= 100.0 + 1e-9, "{total}");
        assert_eq!(bar[0].percent, 100.0, "weights alone fill the GPU");
    }

    #[test]
    fn the_prediction_matches_the_simulated_limit_search() {
        let s = Selection::from_query("?model=mistral-7b-v0.3&gpu=a100-40gb&prompt=512&output=128");
        let m = model("mistral-7b-v0.3");
        let p = s.predict(m).unwrap();
        let request = DeploymentSpec {
            max_model_len: Some(8192),
            ..DeploymentSpec::new("mistral-7b-v0.3", "a100-40gb")
        }
        .request(Catalogue::builtin())
        .unwrap();
        let slo = jauge::objectives::Slo {
            ttft_ms: Some(2000.0),
            tpot_ms: Some(100.0),
        };
        let found = jauge::sim::max_users(
            &request,
            512,
            128,
            &jauge::objectives::Rules::objectives(slo, jauge::objectives::Percentile::P95),
            256,
            40,
        )
        .unwrap();
        assert_eq!(p.max_users, found.max_users);
        assert_eq!(p.throughput_curve.len(), 9);
        assert!(p
            .throughput_curve
            .windows(2)
            .all(|w| w[1].1 >= w[0].1 * 0.99));
    }
}
