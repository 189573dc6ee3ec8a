//! The capacity planner: the selection's inputs, its sizing (headline numbers, memory bar,
//! advice), the prediction under load and the ranking of GPU configurations.

use jauge::catalogue::{Catalogue, ModelSpec};
use jauge::dataset::Index;
use jauge::sizing::engines::EngineSizing;
use jauge::sizing::Sizing;
use jauge::units::thousands;
use leptos::prelude::*;

use crate::app::after_paint;
use crate::components::choice::{plain, Choice};
use crate::components::number::NumberInput;
use crate::fetch;
use crate::pages::people::PeopleServed;
use crate::pages::prediction::Predicted;
use crate::pages::published::PublishedCheck;
use crate::plan::{self, raw, Field, People, Prediction, RankRow, Selection};

/// The planner section.
#[component]
pub fn Planner(
    selection: RwSignal<Selection>,
    custom_model: RwSignal<Option<ModelSpec>>,
    index: LocalResource<Result<Index, String>>,
) -> impl IntoView {
    let cat = Catalogue::builtin();
    let config_error = RwSignal::new(None::<String>);
    // The model the selection names, or the pasted one.
    let model = Memo::new(move |_| {
        let id = selection.with(|s| s.model.clone());
        if id == "custom" {
            custom_model
                .get()
                .ok_or_else(|| "paste or drop a config.json to size a custom model".to_string())
        } else {
            cat.model(&id).cloned().map_err(|e| e.to_string())
        }
    });
    // A Memo: changing only the request or the objectives (the prediction's inputs) leaves
    // the sizing equal, and the outputs are not redrawn.
    let sizing = Memo::new(move |_| {
        let m = model.get()?;
        selection.with(|s| s.size_with(&m))
    });
    // Another engine's sizing, shown in place of vLLM's (read once per draw: a closure).
    let engine_sizing = move || {
        let m = model.get().ok()?;
        selection.with(|s| s.engine_sizing(&m))
    };
    // The simulator's answer under load and the ranking of every GPU configuration take far
    // longer than the sizing: they are computed after the browser has painted the sizing's
    // numbers (see `after_paint`), on every change, and redrawn only when their answer changes.
    let prediction = RwSignal::new(Err::<Prediction, String>("Predicting…".to_string()));
    let ranking = RwSignal::new(None::<(Vec<RankRow>, usize)>);
    Effect::new(move |_| {
        let (model, chosen) = (model.get(), selection.get());
        after_paint(move || {
            let answer = model.clone().and_then(|m| chosen.predict(&m));
            set_if_changed(prediction, answer);
            let rows = model.ok().map(|m| plan::ranking(&chosen, &m));
            set_if_changed(ranking, rows);
        });
    });

    // The people a workload serves: a search of its own (about a second), after the paint
    // too, and again only when what it reads changes — not the request or the objectives of
    // the prediction below.
    let people_input = Memo::new(move |_| {
        selection.with(|s| Selection {
            prompt_tokens: 0,
            output_tokens: 0,
            slo_ttft_ms: 0.0,
            slo_tpot_ms: 0.0,
            ..s.clone()
        })
    });
    let people = RwSignal::new(Err::<People, String>("Counting people…".to_string()));
    Effect::new(move |_| {
        let (model, chosen) = (model.get(), people_input.get());
        after_paint(move || {
            let answer = model.and_then(|m| chosen.people(&m));
            set_if_changed(people, answer);
        });
    });

    let value = move |field: Field| Signal::derive(move || selection.with(|s| s.get(field)));
    let set =
        move |field: Field| Callback::new(move |v: String| selection.update(|s| s.set(field, &v)));
    // The context shown is the one sized, also when the reader has not chosen one.
    let context = Signal::derive(move || {
        let m = model.get().ok();
        selection.with(|s| match (s.context, m) {
            (None, Some(m)) => s.context_for(&m).to_string(),
            _ => s.get(Field::Context),
        })
    });
    let on_config = move |text: String| match ModelSpec::from_hf_config(&text, "custom") {
        Ok(spec) => {
            custom_model.set(Some(spec));
            config_error.set(None);
            selection.update(|s| s.model = "custom".to_string());
        }
        Err(e) => config_error.set(Some(e.to_string())),
    };
    let gpus = cat.gpus.iter().map(|g| (g.id.clone(), g.name.clone()));
    let quants = std::iter::once(("auto".to_string(), "checkpoint dtype".to_string()))
        .chain(cat.quants.iter().map(|q| (q.id.clone(), q.name.clone())));

    view! {
        <section class="planner" aria-labelledby="planner-title">
            <h2 id="planner-title">"Capacity planner"</h2>
            <form class="inputs" on:submit=|ev| ev.prevent_default()>
                <label>
                    "Model"
                    <input
                        id="model"
                        list="models"
                        prop:value=move || selection.with(|s| s.model.clone())
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            // An alias (a Hugging Face repo) is shown as the catalogue's id.
                            let id = cat.model(&v).map(|m| m.id.clone()).unwrap_or(v);
                            selection.update(|s| s.set(Field::Model, &id));
                        }
                    />
                    <datalist id="models">
                        {cat.models.iter().map(|m| view! { <option value=m.id.clone()>{m.name.clone()}</option> }).collect_view()}
                    </datalist>
                </label>
                <Choice label="GPU" id=Field::Gpu.key() options=gpus.collect() value=value(Field::Gpu) on_choose=set(Field::Gpu)/>
                <Choice label="GPUs" id=Field::Gpus.key() options=plain(plan::GPU_COUNTS) value=value(Field::Gpus) on_choose=set(Field::Gpus)/>
                <Choice label="Quantisation" id=Field::Quant.key() options=quants.collect() value=value(Field::Quant) on_choose=set(Field::Quant)/>
                <Choice label="KV cache" id=Field::Kv.key() options=plain(jauge::sizing::KvCacheDtype::NAMES) value=value(Field::Kv) on_choose=set(Field::Kv)/>
                <Choice label="Engine" id=Field::Engine.key() options=plan::ENGINES.iter().map(|(id, name)| (id.to_string(), name.to_string())).collect() value=value(Field::Engine) on_choose=set(Field::Engine)/>
                <Choice label="vLLM release (memory rules)" id=Field::Vllm.key() options=plain(plan::VLLM_RELEASES) value=value(Field::Vllm) on_choose=set(Field::Vllm)/>
                <NumberInput label="Context (tokens)" id=Field::Context.key() min="1" step="1" value=context on_change=set(Field::Context)/>
                <NumberInput label="GPU memory utilisation" id=Field::Util.key() min="0.05" max="1" step="0.01" value=value(Field::Util) on_change=set(Field::Util)/>
                <details class="custom">
                    <summary>"Or paste a Hugging Face config.json"</summary>
                    <textarea
                        id="config"
                        aria-label="config.json"
                        rows="6"
                        placeholder="{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 4096, …}"
                        on:change=move |ev| on_config(event_target_value(&ev))
                    ></textarea>
                    <label>
                        "or choose the file: "
                        <input id="config-file" type="file" accept=".json,application/json" on:change=move |ev| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            let Some(file) = input.files().and_then(|f| f.item(0)) else { return };
                            leptos::task::spawn_local(async move { on_config(fetch::local_file(file).await) });
                        }/>
                    </label>
                    <p class="error" role="alert" id="config-error">{move || config_error.get()}</p>
                </details>
            </form>
            {move || match engine_sizing() {
                None => match sizing.get() {
                    Err(message) => view! { <p class="error" role="alert" data-metric="error">{message}</p> }.into_any(),
                    Ok(s) => view! { <Outputs sizing=s/> }.into_any(),
                },
                Some(Err(message)) => view! { <p class="error" role="alert" data-metric="error">{message}</p> }.into_any(),
                Some(Ok(s)) => view! { <EngineOutputs sizing=s/> }.into_any(),
            }}
            <PeopleServed selection people=people.into()/>
            <Predicted selection prediction=prediction.into()/>
            <PublishedCheck selection sizing index/>
            <h3>"Every GPU configuration, by users served"</h3>
            {move || ranking.get().map(|(rows, left_out)| view! { <Ranking rows left_out/> })}
        </section>
    }
}

/// Sets `signal` only when `value` differs from what it holds: what reads it is redrawn only
/// when the answer changed.
fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.with_untracked(|shown| *shown != value) {
        signal.set(value);
    }
}

/// The headline numbers, the memory bar and the advice for one sizing.
#[component]
fn Outputs(sizing: Sizing) -> impl IntoView {
    let s = sizing;
    let bar = plan::memory_bar(&s);
    let metric = |name: &'static str, value: String, shown: String| {
        view! { <span class="value" data-metric=name data-value=value>{shown}</span> }
    };
    // `elementtiming`: the browser reports when the first number is painted (scripts/bench
    // reads it).
    let first = view! {
        <dd>{metric("max_concurrency", raw(s.max_concurrency), format!("{:.1}", s.max_concurrency))}" at "{thousands(u64::from(s.context_tokens))}" tokens"</dd>
    }
    .attr("elementtiming", "first-numbers");
    view! {
        <div class="outputs" aria-live="polite">
            <p class=if s.fits { "verdict fits" } else { "verdict no-fit" }>
                <span data-metric="fits" data-value=s.fits.to_string()>{if s.fits { "Fits" } else { "Does not fit" }}</span>
                {(!s.fits).then(|| format!(": {:.2} GiB per GPU short of one request of {} tokens.", s.shortfall_gib_per_gpu, thousands(u64::from(s.max_model_len))))}
            </p>
            <dl class="headline">
                <div><dt>"Requests at once"</dt>{first}</div>
                <div><dt>"KV-cache capacity"</dt><dd>{metric("kv_cache_tokens", s.kv_cache_tokens.to_string(), thousands(s.kv_cache_tokens))}" tokens ("{metric("kv_cache_blocks", s.kv_cache_blocks.to_string(), thousands(s.kv_cache_blocks))}" blocks)"</dd></div>
                <div><dt>"Weights per GPU"</dt><dd>{metric("weights_gib_per_gpu", raw(s.weights_gib_per_gpu), format!("{:.2}", s.weights_gib_per_gpu))}" GiB"</dd></div>
                <div><dt>"KV bytes per token"</dt><dd>{metric("kv_bytes_per_token", s.kv_bytes_per_token.to_string(), thousands(s.kv_bytes_per_token))}</dd></div>
            </dl>
            <figure class="bar" aria-label="memory per GPU">
                <div class="track">
                    {bar.iter().map(|b| view! {
                        <div class=format!("segment {}", b.class) style=format!("width: {:.2}%", b.percent) title=format!("{}: {:.2} GiB", b.label, b.gib)></div>
                    }).collect_view()}
                </div>
                <figcaption>
                    {bar.iter().map(|b| view! {
                        <span class=format!("key {}", b.class)>{format!("{} {:.2} GiB", b.label, b.gib)}</span>
                    }).collect_view()}
                    <span data-metric="memory_gib_per_gpu.total" data-value=raw(s.memory_gib_per_gpu.total)>{format!("of {:.2} GiB per GPU", s.memory_gib_per_gpu.total)}</span>
                </figcaption>
            </figure>
            {(!s.advice.is_empty()).then(|| view! {
                <h3>"Would fit with"</h3>
                <ul class="advice">
                    {s.advice.iter().map(|a| view! { <li><code>{a.flag.clone()}</code>": "{a.effect.clone()}</li> }).collect_view()}
                </ul>
            })}
            <ul class="notes">{s.notes.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view()}</ul>
        </div>
    }
}

/// The headline numbers, the engine's memory terms, rules and notes for an engine other than
/// vLLM, as `jauge size --engine ENGINE` prints them.
#[component]
fn EngineOutputs(sizing: EngineSizing) -> impl IntoView {
    let s = sizing;
    let metric = |name: &'static str, value: String, shown: String| {
        view! { <span class="value" data-metric=name data-value=value>{shown}</span> }
    };
    let terms = s.memory_gib_per_gpu.rows();
    view! {
        <div class="outputs" aria-live="polite">
            <p class=if s.fits { "verdict fits" } else { "verdict no-fit" }>
                <span data-metric="fits" data-value=s.fits.to_string()>{if s.fits { "Fits" } else { "Does not fit" }}</span>
                {format!(" under {} {}", s.engine, s.engine_version)}
                {s.estimated.then_some(" (some terms are estimates: see the notes)")}
            </p>
            <dl class="headline">
                <div><dt>"Requests at once"</dt><dd>{metric("max_concurrency", raw(s.max_concurrency), format!("{:.1}", s.max_concurrency))}" at "{thousands(u64::from(s.context_tokens))}" tokens"</dd></div>
                <div><dt>"KV-cache capacity"</dt><dd>{metric("kv_cache_tokens", s.kv_cache_tokens.to_string(), thousands(s.kv_cache_tokens))}" tokens"</dd></div>
                <div><dt>"Weights per GPU"</dt><dd>{metric("weights_gib_per_gpu", raw(s.weights_gib_per_gpu), format!("{:.2}", s.weights_gib_per_gpu))}" GiB"</dd></div>
                <div><dt>"KV bytes per token per GPU"</dt><dd>{metric("kv_bytes_per_token", s.kv_bytes_per_token_per_gpu.to_string(), thousands(s.kv_bytes_per_token_per_gpu))}</dd></div>
            </dl>
            <table class="terms">
                <thead><tr><th>"memory term"</th><th>"per GPU"</th></tr></thead>
                <tbody>{terms.into_iter().map(|(term, value)| view! { <tr><td>{term}</td><td>{value}</td></tr> }).collect_view()}</tbody>
            </table>
            <details class="rules"><summary>"Rules applied"</summary>
                <ul>{s.rules.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}</ul>
            </details>
            <ul class="notes">{s.notes.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view()}</ul>
        </div>
    }
}

/// Every GPU configuration the selection fits on, most requests at once first.
#[component]
fn Ranking(rows: Vec<RankRow>, left_out: usize) -> impl IntoView {
    view! {
        <div class="scroll">
            <table class="ranking">
                <thead><tr><th>"GPU"</th><th>"GPUs"</th><th>"requests at once"</th><th>"KV-cache tokens"</th><th>"weights / GPU (GiB)"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| view! {
                        <tr data-gpu=r.gpu.clone() data-gpus=r.gpus>
                            <td>{r.gpu.clone()}</td>
                            <td>{r.gpus}</td>
                            <td>{format!("{:.1}", r.max_concurrency)}</td>
                            <td>{thousands(r.kv_cache_tokens)}</td>
                            <td>{format!("{:.2}", r.weights_gib_per_gpu)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <p class="note">{format!("{left_out} configurations do not fit or cannot run this format.")}</p>
    }
}
