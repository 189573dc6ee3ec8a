//! The page's components. State lives at the top (the selection, mirrored in the URL); the
//! sizing is a `Memo` that several parts read; components format what `plan` and `measure`
//! return and draw charts in Effects.

use jauge::catalogue::{Catalogue, ModelSpec};
use jauge::dataset::{Dataset, Index};
use jauge::units::thousands;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::chart;
use crate::measure::{self, Filters, Loaded, Metric};
use crate::plan::{self, raw, Selection};
use crate::study;

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    let selection = RwSignal::new(Selection::from_query(&current_query()));
    // A pasted or dropped config.json, used when the model is `custom`.
    let custom_model: RwSignal<Option<ModelSpec>> = RwSignal::new(None);

    // The URL mirrors the selection (a shareable link); back and forward restore it.
    Effect::new(move |previous: Option<String>| {
        let query = selection.with(Selection::to_query);
        if previous.is_some()
            && previous.as_deref() != Some(query.as_str())
            && current_query() != query
        {
            if let Ok(history) = window().history() {
                let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&query));
            }
        }
        query
    });
    let _ = window_event_listener(leptos::ev::popstate, move |_| {
        selection.set(Selection::from_query(&current_query()))
    });

    view! {
        <header>
            <h1>"jauge"</h1>
            <p class="tagline">
                "With this model, this GPU and this quantisation: how many people at once, how fast, with how much context?"
            </p>
        </header>
        <nav class="pages" aria-label="Sections">
            <a href="#planner-title">"Planner"</a>
            <a href="#measurements-title">"Measurements"</a>
            <a href="#study-title">"Study"</a>
        </nav>
        <Planner selection custom_model/>
        <Measurements/>
        <StudyPage/>
        <footer>
            <p>
                "Predictions come from jauge's sizing model (vLLM's memory accounting), the same code as "
                <code>"jauge size"</code> ". Simulated datasets are drawn dashed and labelled; they are not measurements."
            </p>
        </footer>
    }
}

fn current_query() -> String {
    window().location().search().unwrap_or_default()
}

/// The capacity planner: inputs, headline numbers, memory bar, advice, ranking.
#[component]
fn Planner(
    selection: RwSignal<Selection>,
    custom_model: RwSignal<Option<ModelSpec>>,
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
    // Read by the headline, the bar, the advice and the ranking: worth memoising.
    let sizing = Memo::new(move |_| {
        let m = model.get()?;
        selection.with(|s| s.size_with(&m))
    });
    // The simulator's answer under load; several parts read it.
    let prediction = Memo::new(move |_| {
        let m = model.get()?;
        selection.with(|s| s.predict(&m))
    });
    let ranking = Memo::new(move |_| {
        let m = model.get().ok()?;
        Some(selection.with(|s| plan::ranking(s, &m)))
    });

    let set = move |f: &dyn Fn(&mut Selection)| selection.update(|s| f(s));
    let on_config = move |text: String| match ModelSpec::from_hf_config(&text, "custom") {
        Ok(spec) => {
            custom_model.set(Some(spec));
            config_error.set(None);
            selection.update(|s| s.model = "custom".to_string());
        }
        Err(e) => config_error.set(Some(e.to_string())),
    };

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
                            let id = cat.model(&v).map(|m| m.id.clone()).unwrap_or(v);
                            set(&|s| s.model = id.clone());
                        }
                    />
                    <datalist id="models">
                        {cat.models.iter().map(|m| view! { <option value=m.id.clone()>{m.name.clone()}</option> }).collect_view()}
                    </datalist>
                </label>
                <label>
                    "GPU"
                    <select id="gpu" on:change=move |ev| { let v = event_target_value(&ev); set(&|s| s.gpu = v.clone()) }>
                        {cat.gpus.iter().map(|g| {
                            let id = g.id.clone();
                            let selected = move || selection.with(|s| s.gpu == id);
                            view! { <option value=g.id.clone() selected=selected>{g.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "GPUs"
                    <select id="gpus" on:change=move |ev| { let v = event_target_value(&ev); set(&|s| s.gpus = v.parse().unwrap_or(1)) }>
                        {plan::GPU_COUNTS.iter().map(|&n| {
                            let selected = move || selection.with(|s| s.gpus == n);
                            view! { <option value=n.to_string() selected=selected>{n}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Quantisation"
                    <select id="quant" on:change=move |ev| {
                        let v = event_target_value(&ev);
                        set(&|s| s.quant = (v != "auto").then(|| v.clone()))
                    }>
                        <option value="auto" selected=move || selection.with(|s| s.quant.is_none())>"checkpoint dtype"</option>
                        {cat.quants.iter().map(|q| {
                            let id = q.id.clone();
                            let selected = move || selection.with(|s| s.quant.as_deref() == Some(id.as_str()));
                            view! { <option value=q.id.clone() selected=selected>{q.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "KV cache"
                    <select id="kv" on:change=move |ev| { let v = event_target_value(&ev); set(&|s| s.kv_cache_dtype = v.clone()) }>
                        {["auto", "fp16", "bf16", "fp8"].into_iter().map(|k| {
                            let selected = move || selection.with(|s| s.kv_cache_dtype == k);
                            view! { <option value=k selected=selected>{k}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Context (tokens)"
                    <input
                        id="context"
                        type="number"
                        min="1"
                        step="1"
                        prop:value=move || {
                            let context = selection.with(|s| s.context);
                            context.or_else(|| model.get().ok().map(|m| m.max_position_embeddings.min(plan::DEFAULT_CONTEXT))).map(|c| c.to_string()).unwrap_or_default()
                        }
                        on:change=move |ev| { let v = event_target_value(&ev); set(&|s| s.context = v.parse().ok().filter(|c| *c > 0)) }
                    />
                </label>
                <label>
                    "GPU memory utilisation"
                    <input
                        id="util"
                        type="number"
                        min="0.05"
                        max="1"
                        step="0.01"
                        prop:value=move || selection.with(|s| s.gpu_memory_utilization.to_string())
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            set(&|s| s.gpu_memory_utilization = v.parse().unwrap_or(0.9))
                        }
                    />
                </label>
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
                            leptos::task::spawn_local(async move {
                                let text = wasm_bindgen_futures::JsFuture::from(file.text()).await.ok().and_then(|v| v.as_string()).unwrap_or_default();
                                on_config(text);
                            });
                        }/>
                    </label>
                    <p class="error" role="alert" id="config-error">{move || config_error.get()}</p>
                </details>
            </form>
            {move || match sizing.get() {
                Err(message) => view! { <p class="error" role="alert" data-metric="error">{message}</p> }.into_any(),
                Ok(s) => view! { <Outputs sizing=s/> }.into_any(),
            }}
            <Predicted selection prediction/>
            <h3>"Every GPU configuration, by users served"</h3>
            {move || ranking.get().map(|(rows, left_out)| view! {
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
            })}
        </section>
    }
}

/// The headline numbers, the memory bar and the advice for one sizing.
#[component]
fn Outputs(sizing: jauge::sizing::Sizing) -> impl IntoView {
    let s = sizing;
    let bar = plan::memory_bar(&s);
    let metric = |name: &'static str, value: String, shown: String| {
        view! { <span class="value" data-metric=name data-value=value>{shown}</span> }
    };
    view! {
        <div class="outputs" aria-live="polite">
            <p class=if s.fits { "verdict fits" } else { "verdict no-fit" }>
                <span data-metric="fits" data-value=s.fits.to_string()>{if s.fits { "Fits" } else { "Does not fit" }}</span>
                {(!s.fits).then(|| format!(": {:.2} GiB per GPU short of one request of {} tokens.", s.shortfall_gib_per_gpu, thousands(u64::from(s.max_model_len))))}
            </p>
            <dl class="headline">
                <div><dt>"Requests at once"</dt><dd>{metric("max_concurrency", raw(s.max_concurrency), format!("{:.1}", s.max_concurrency))}" at "{thousands(u64::from(s.context_tokens))}" tokens"</dd></div>
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

/// The published datasets, the reader's own, and the charts.
#[component]
fn Measurements() -> impl IntoView {
    let index: RwSignal<Option<Result<Index, String>>> = RwSignal::new(None);
    let filters = RwSignal::new(Filters::default());
    let loaded: RwSignal<Vec<Loaded>> = RwSignal::new(Vec::new());
    let load_error = RwSignal::new(None::<String>);

    leptos::task::spawn_local(async move {
        index.set(Some(fetch_index().await));
    });

    let toggle = move |file: String, on: bool| {
        if !on {
            loaded.update(|l| l.retain(|d| d.own || d.name != file));
            return;
        }
        leptos::task::spawn_local(async move {
            match fetch_dataset(&file).await {
                Ok(dataset) => loaded.update(|l| {
                    l.push(Loaded {
                        name: file,
                        dataset,
                        own: false,
                    })
                }),
                Err(e) => load_error.set(Some(e)),
            }
        });
    };
    let on_file = move |name: String, text: String| match Dataset::from_json(&text) {
        Ok(dataset) => {
            load_error.set(None);
            loaded.update(|l| {
                l.push(Loaded {
                    name,
                    dataset,
                    own: true,
                })
            });
        }
        Err(e) => load_error.set(Some(format!(
            "{name}: {}",
            e.violations()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    };
    let read_files = move |files: Option<web_sys::FileList>| {
        let Some(files) = files else { return };
        for i in 0..files.length() {
            let Some(file) = files.item(i) else { continue };
            leptos::task::spawn_local(async move {
                let text = wasm_bindgen_futures::JsFuture::from(file.text())
                    .await
                    .ok()
                    .and_then(|v| v.as_string())
                    .unwrap_or_default();
                on_file(file.name(), text);
            });
        }
    };

    view! {
        <section class="measurements" aria-labelledby="measurements-title">
            <h2 id="measurements-title">"Measurements"</h2>
            {move || match index.get() {
                None => view! { <p>"Loading datasets/index.json…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                Some(Ok(ix)) if ix.datasets.is_empty() => view! { <p class="empty">"No published datasets yet. Drop your own below."</p> }.into_any(),
                Some(Ok(ix)) => {
                    let field = |f: fn(&jauge::dataset::IndexEntry) -> String| measure::choices(&ix, f);
                    let filter_select = move |label: &'static str, id: &'static str, values: Vec<String>, apply: fn(&mut Filters, String)| view! {
                        <label>{label}
                            <select id=id on:change=move |ev| { let v = event_target_value(&ev); filters.update(|f| apply(f, v.clone())) }>
                                <option value="">"all"</option>
                                {values.into_iter().map(|v| view! { <option value=v.clone()>{v.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                    };
                    let ix2 = ix.clone();
                    view! {
                        <div class="filters">
                            {filter_select("Model", "f-model", field(|e| e.model.clone()), |f, v| f.model = v)}
                            {filter_select("GPU", "f-gpu", field(|e| e.gpu.clone()), |f, v| f.gpu = v)}
                            {filter_select("Quantisation", "f-quant", field(|e| e.quantization.clone()), |f, v| f.quant = v)}
                            {filter_select("Engine", "f-engine", field(|e| e.engine.clone()), |f, v| f.engine = v)}
                            {filter_select("Source", "f-source", field(|e| e.source.to_string()), |f, v| f.source = v)}
                        </div>
                        <ul class="datasets">
                            {move || filters.with(|f| f.apply(&ix2).into_iter().cloned().collect::<Vec<_>>()).into_iter().map(|e| {
                                let file = e.file.clone();
                                view! {
                                    <li>
                                        <label>
                                            <input type="checkbox" on:change=move |ev| toggle(file.clone(), event_target_checked(&ev))/>
                                            {format!("{} · {}×{} · {} · {} · {}", e.model, e.gpu_count, e.gpu, e.quantization, e.engine, e.created_at)}
                                            <span class=format!("source {}", if e.source.to_string() == "measured" { "measured" } else { "simulated" })>{e.source.to_string()}</span>
                                        </label>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
            <div
                class="drop"
                on:dragover=|ev: web_sys::DragEvent| ev.prevent_default()
                on:drop=move |ev: web_sys::DragEvent| {
                    ev.prevent_default();
                    read_files(ev.data_transfer().and_then(|d| d.files()));
                }
            >
                <label>
                    "Your own dataset (it never leaves this page): "
                    <input id="own-dataset" type="file" accept=".json,application/json" on:change=move |ev| {
                        let input: web_sys::HtmlInputElement = event_target(&ev);
                        read_files(input.files());
                    }/>
                </label>
                <p class="error" role="alert" id="dataset-error">{move || load_error.get()}</p>
            </div>
            {move || {
                // Each measured dataset is drawn with the simulator's prediction beside it.
                let chosen: Vec<Loaded> = loaded
                    .get()
                    .into_iter()
                    .flat_map(|l| {
                        let predicted = measure::prediction_of(&l);
                        std::iter::once(l).chain(predicted)
                    })
                    .collect();
                if chosen.is_empty() {
                    return view! { <p class="empty">"Choose or drop datasets to see their curves."</p> }.into_any();
                }
                view! {
                    <LimitsTable datasets=chosen.clone()/>
                    <div class="charts">
                        {Metric::ALL.into_iter().map(|m| view! { <Chart metric=m series=measure::series(&chosen, m)/> }).collect_view()}
                    </div>
                }.into_any()
            }}
        </section>
    }
}

/// How many users each row held, and why it stopped.
#[component]
fn LimitsTable(datasets: Vec<Loaded>) -> impl IntoView {
    view! {
        <div class="scroll">
        <table class="limits">
            <thead><tr><th>"dataset"</th><th>"prompt tokens"</th><th>"max users held"</th><th>"stopped by"</th></tr></thead>
            <tbody>
                {datasets.into_iter().flat_map(|l| {
                    let name = l.name.clone();
                    l.dataset.limits.into_iter().map(move |limit| view! {
                        <tr>
                            <td>{name.clone()}</td>
                            <td>{limit.prompt_tokens}</td>
                            <td>{limit.max_concurrency_ok.map_or("-".to_string(), |c| c.to_string())}</td>
                            <td title=limit.detail.clone().unwrap_or_default()>{format!("{:?}", limit.reason)}</td>
                        </tr>
                    })
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

/// One chart on a canvas, with its exports and the exact values on hover.
#[component]
fn Chart(metric: Metric, series: Vec<measure::Series>) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let hover = RwSignal::new(String::new());
    let empty = series.is_empty();
    let drawn = series.clone();
    let layout = StoredValue::new(None::<chart::Layout>);
    Effect::new(move |_| {
        if let Some(el) = canvas.get() {
            let element: web_sys::HtmlCanvasElement = el.unchecked_into();
            layout.set_value(chart::draw(&element, metric, &drawn).ok());
        }
    });
    let csv = measure::csv(&series, metric);
    let on_move = move |ev: web_sys::MouseEvent| {
        let (Some(l), Some(el)) = (layout.get_value(), canvas.get()) else {
            return;
        };
        let element: web_sys::HtmlCanvasElement = el.unchecked_into();
        // The canvas may be drawn smaller than its pixel size (narrow screens).
        let scale = f64::from(element.width()) / f64::from(element.client_width().max(1));
        let (x, y) = (
            f64::from(ev.offset_x()) * scale,
            f64::from(ev.offset_y()) * scale,
        );
        hover.set(chart::nearest(&l, x, y).unwrap_or_default());
    };
    let export_png = move |_| {
        if let Some(el) = canvas.get() {
            let element: web_sys::HtmlCanvasElement = el.unchecked_into();
            if let Ok(url) = element.to_data_url() {
                download(&url, &format!("{}.png", metric.slug()));
            }
        }
    };
    let export_csv = move |_| {
        download(
            &format!("data:text/csv;charset=utf-8,{}", plan_encode(&csv)),
            &format!("{}.csv", metric.slug()),
        )
    };
    view! {
        <figure class="chart" data-chart=metric.slug()>
            <figcaption>{format!("{} ({})", metric.title(), metric.unit())}</figcaption>
            {if empty {
                view! { <p class="empty">"No data for this metric in the chosen datasets."</p> }.into_any()
            } else {
                view! {
                    <canvas node_ref=canvas width="560" height="320" role="img" aria-label=format!("{} against concurrency", metric.title()) on:mousemove=on_move></canvas>
                    <p class="hover" aria-live="polite">{move || hover.get()}</p>
                    <ul class="legend">
                        {series.iter().map(|line| view! {
                            <li class=if line.simulated { "simulated" } else { "measured" }>{line.label.clone()}</li>
                        }).collect_view()}
                    </ul>
                    <button type="button" on:click=export_png>"PNG"</button>
                    <button type="button" on:click=export_csv>"CSV"</button>
                }.into_any()
            }}
        </figure>
    }
}

fn download(href: &str, name: &str) {
    let Some(document) = window().document() else {
        return;
    };
    let Ok(a) = document.create_element("a") else {
        return;
    };
    let a: web_sys::HtmlAnchorElement = a.unchecked_into();
    a.set_href(href);
    a.set_download(name);
    a.click();
}

fn plan_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn fetch_index() -> Result<Index, String> {
    let text = fetch_text("datasets/index.json").await?;
    Index::from_json(&text).map_err(|e| format!("datasets/index.json: {e}"))
}

async fn fetch_dataset(file: &str) -> Result<Dataset, String> {
    let text = fetch_text(&format!("datasets/{file}")).await?;
    Dataset::from_json(&text).map_err(|e| format!("{file}: {e}"))
}

async fn fetch_text(path: &str) -> Result<String, String> {
    let response = gloo_net::http::Request::get(path)
        .send()
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    if !response.ok() {
        return Err(format!("{path}: HTTP {}", response.status()));
    }
    response.text().await.map_err(|e| format!("{path}: {e}"))
}

/// The simulator's prediction: objectives and request shape in, most users under them and
/// curves out. Labelled simulated everywhere.
#[component]
fn Predicted(
    selection: RwSignal<Selection>,
    prediction: Memo<Result<plan::Prediction, String>>,
) -> impl IntoView {
    let number = move |label: &'static str,
                       id: &'static str,
                       get: fn(&Selection) -> f64,
                       put: fn(&mut Selection, f64)| {
        view! {
            <label>
                {label}
                <input
                    id=id
                    type="number"
                    min="1"
                    prop:value=move || selection.with(|s| get(s).to_string())
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                            if v > 0.0 {
                                selection.update(|s| put(s, v));
                            }
                        }
                    }
                />
            </label>
        }
    };
    view! {
        <section class="prediction" aria-labelledby="prediction-title">
            <h3 id="prediction-title">"Under load (simulated prediction)"</h3>
            <form class="inputs" on:submit=|ev| ev.prevent_default()>
                {number("Prompt tokens", "prompt", |s| f64::from(s.prompt_tokens), |s, v| s.prompt_tokens = v as u32)}
                {number("Output tokens", "output", |s| f64::from(s.output_tokens), |s, v| s.output_tokens = v as u32)}
                {number("TTFT p95 objective (ms)", "ttft", |s| s.slo_ttft_ms, |s, v| s.slo_ttft_ms = v)}
                {number("TPOT p95 objective (ms)", "tpot", |s| s.slo_tpot_ms, |s, v| s.slo_tpot_ms = v)}
            </form>
            {move || match prediction.get() {
                Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                Ok(p) => {
                    let users = p.max_users.map_or("none".to_string(), |u| u.to_string());
                    let series = |points: Vec<(f64, f64)>, what: &str| vec![measure::Series {
                        label: format!("{what} (simulated prediction)"),
                        dataset: "prediction".into(),
                        prompt_tokens: selection.with(|s| s.prompt_tokens),
                        points,
                        simulated: true,
                    }];
                    view! {
                        <dl class="headline">
                            <div><dt>"Users under the objectives (simulated)"</dt><dd>
                                <span class="value" data-metric="predicted_max_users" data-value=p.max_users.map_or("null".to_string(), |u| u.to_string())>{users}</span>
                                {p.breaks.clone().map(|(at, why)| format!(" · at {at}: {why}"))}
                            </dd></div>
                            <div><dt>"Output at that load (simulated)"</dt><dd>
                                <span class="value" data-metric="predicted_output_tok_s" data-value=p.output_tok_s.map_or("null".to_string(), raw)>{p.output_tok_s.map_or("-".into(), |v| format!("{v:.0}"))}</span>" tok/s in all, "
                                <span data-metric="predicted_per_user_output_tok_s" data-value=p.per_user_tok_s.map_or("null".to_string(), raw)>{p.per_user_tok_s.map_or("-".into(), |v| format!("{v:.1}"))}</span>" per user"
                            </dd></div>
                        </dl>
                        <div class="charts">
                            <Chart metric=Metric::OutputTokS series=series(p.throughput_curve.clone(), "output tok/s")/>
                            <Chart metric=Metric::TtftP95 series=series(p.ttft_curve.clone(), "TTFT p95")/>
                        </div>
                        <p class="note">"A first-order prediction (roofline step times, vLLM-like scheduling), not yet calibrated on measurements."</p>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// Datasets as fetched: (file in datasets/, its contents).
type Fetched = Vec<(String, Dataset)>;

/// The study's five comparisons side by side: memory, users under the objectives, tok/s and
/// maximum context, predicted (simulated) and measured beside it when published.
#[component]
fn StudyPage() -> impl IntoView {
    let preset = jauge::study::Preset::builtin("seed").expect("the seed preset is built in");
    let fetched: RwSignal<Option<Result<Fetched, String>>> = RwSignal::new(None);
    let wanted = preset.clone();
    leptos::task::spawn_local(async move {
        let result = async {
            let index = fetch_index().await?;
            let mut out = Vec::new();
            for file in study::files_to_fetch(&wanted, &index) {
                let dataset = fetch_dataset(&file).await?;
                out.push((file, dataset));
            }
            Ok::<_, String>(out)
        }
        .await;
        fetched.set(Some(result));
    });
    let slo = jauge::study::CHAT_SLO;
    let prompts = jauge::study::STUDY_PROMPT_TOKENS;
    view! {
        <section class="study" aria-labelledby="study-title">
            <h2 id="study-title">"Study: the five comparisons"</h2>
            <p>{preset.source.clone()}</p>
            <p class="note">
                {format!(
                    "Users under a chat objective (TTFT p95 ≤ {:.0} ms, TPOT p95 ≤ {:.0} ms) with prompts of {} and {} tokens and {} output tokens. ",
                    slo.ttft_ms.unwrap_or_default(), slo.tpot_ms.unwrap_or_default(), prompts[0], prompts[1], jauge::study::STUDY_OUTPUT_TOKENS
                )}
                "Predicted figures come from "<code>"jauge study --predict --preset seed"</code>" and are "
                <span class="source simulated">"simulated"</span>"; a "<span class="source measured">"measured"</span>
                " figure appears beside one whenever a measured dataset of the same deployment is published. Run "
                <code>"jauge study --url …"</code>" on your own server to add one."
            </p>
            <p>
                <a href="datasets/simulated/seed/report.html">"The predicted study's full report"</a>
                " (charts of every deployment, what limited each) and its "
                <a href="datasets/simulated/seed/report.md">"Markdown summary"</a>"."
            </p>
            {move || match fetched.get() {
                None => view! { <p>"Loading the study's datasets…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                Some(Ok(fetched)) => preset.comparisons.iter().map(|c| {
                    let rows = study::rows(c, &fetched);
                    view! { <Comparison comparison=c.clone() rows/> }
                }).collect_view().into_any(),
            }}
        </section>
    }
}

/// One comparison's table.
#[component]
fn Comparison(comparison: jauge::study::Comparison, rows: Vec<study::Row>) -> impl IntoView {
    let prompts = jauge::study::STUDY_PROMPT_TOKENS;
    let most_users = rows
        .iter()
        .filter_map(|r| r.predicted.as_ref()?.users_at(prompts[1]))
        .max()
        .unwrap_or(1)
        .max(1);
    // A value with its data attributes, for readers and for the browser test.
    let cell = |metric: String, value: Option<f64>, shown: String, class: &'static str| {
        view! {
            <span class=class data-metric=metric data-value=value.map_or("null".to_string(), raw)>{shown}</span>
        }
    };
    let pair = move |slug: &str,
                     what: &str,
                     predicted: Option<f64>,
                     measured: Option<f64>,
                     fmt: fn(f64) -> String| {
        view! {
            {cell(format!("{slug}:{what}:predicted"), predicted, predicted.map_or("—".into(), fmt), "predicted")}
            {measured.map(|m| view! { " · " {cell(format!("{slug}:{what}:measured"), Some(m), fmt(m), "measured")} })}
        }
    };
    let whole = |v: f64| format!("{v:.0}");
    view! {
        <article class="comparison" data-comparison=comparison.id.clone()>
            <h3>{comparison.title.clone()}</h3>
            <p class="question">{comparison.question.clone()}</p>
            <div class="scroll">
            <table>
                <thead><tr>
                    <th>"deployment"</th>
                    <th>"memory per GPU"</th>
                    <th>{format!("users @ {}", prompts[0])}</th>
                    <th>{format!("users @ {}", prompts[1])}</th>
                    <th>"best output tok/s"</th>
                    <th>"max context, 1 user"</th>
                    <th>"max context, most users"</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|row| {
                        let slug = row.deployment.slug();
                        let label = format!("{} × {}, {}", row.deployment.gpus, row.deployment.gpu, row.deployment.quant_or_auto());
                        match &row.memory {
                            Err(why) => view! {
                                <tr data-deployment=slug.clone() class="cannot-run">
                                    <td>{label}</td>
                                    <td colspan="6"><span data-metric=format!("{slug}:cannot-run")>{format!("cannot run: {why}")}</span></td>
                                </tr>
                            }.into_any(),
                            Ok(m) => {
                                let p = row.predicted.clone().unwrap_or_default();
                                let q = row.measured.clone();
                                let users = |prompt: u32, a: &jauge::study::Answers| a.users_at(prompt).map(f64::from);
                                let context = |many: bool, a: &jauge::study::Answers| a.context.iter().find(|(c, _)| (*c > 1) == many).and_then(|(_, t)| t.map(f64::from));
                                let at = p.context.iter().find(|(c, _)| *c > 1).map(|(c, _)| format!(" at {c} users")).unwrap_or_default();
                                let share = users(prompts[1], &p).unwrap_or(0.0) / f64::from(most_users) * 100.0;
                                view! {
                                    <tr data-deployment=slug.clone()>
                                        <td>{label}{(row.measured.is_some()).then(|| view! { <span class="source measured">"measured"</span> })}</td>
                                        <td>
                                            {cell(format!("{slug}:weights_gib"), Some(m.weights_gib), format!("{:.1} GiB weights", m.weights_gib), "predicted")}
                                            <br/>{format!("{:.1} GiB KV cache, {} tokens", m.kv_cache_gib, jauge::units::thousands(m.kv_cache_tokens))}
                                            <br/><span class="note">{format!("max_model_len {}", m.max_model_len)}</span>
                                            {q.as_ref().and_then(|q| q.gpu_memory_peak_gib).map(|g| view! {
                                                <br/>{cell(format!("{slug}:gpu_memory_peak_gib:measured"), Some(g), format!("{g:.1} GiB peak measured"), "measured")}
                                            })}
                                        </td>
                                        <td>{pair(&slug, &format!("users_{}", prompts[0]), users(prompts[0], &p), q.as_ref().and_then(|q| users(prompts[0], q)), whole)}</td>
                                        <td>
                                            {pair(&slug, &format!("users_{}", prompts[1]), users(prompts[1], &p), q.as_ref().and_then(|q| users(prompts[1], q)), whole)}
                                            <div class="minibar" aria-hidden="true"><div style=format!("width:{share:.0}%")></div></div>
                                        </td>
                                        <td>{pair(&slug, "output_tok_s", p.best_output_tok_s, q.as_ref().and_then(|q| q.best_output_tok_s), whole)}</td>
                                        <td>{pair(&slug, "context_1", context(false, &p), q.as_ref().and_then(|q| context(false, q)), whole)}</td>
                                        <td>{pair(&slug, "context_n", context(true, &p), q.as_ref().and_then(|q| context(true, q)), whole)}{at}</td>
                                    </tr>
                                }.into_any()
                            }
                        }
                    }).collect_view()}
                </tbody>
            </table>
            </div>
        </article>
    }
}
