//! The Measurements section: the published datasets (filtered) and the reader's own, and for
//! those chosen their limits, a chart per metric and the numbers behind the charts.

use jauge::dataset::{Dataset, Index, Source};
use jauge::metric::Metric;
use leptos::prelude::*;

use crate::components::chart::Chart;
use crate::components::choice::Choice;
use crate::fetch;
use crate::measure::{self, Facet, Filters, Loaded, StepRow};

/// The Measurements section.
#[component]
pub fn Measurements(index: LocalResource<Result<Index, String>>) -> impl IntoView {
    let loaded: RwSignal<Vec<Loaded>> = RwSignal::new(Vec::new());
    let load_error = RwSignal::new(None::<String>);
    let on_file = move |name: String, text: String| match Dataset::from_json(&text) {
        Ok(dataset) => {
            load_error.set(None);
            loaded.update(|l| {
                measure::choose(
                    l,
                    Loaded {
                        name,
                        dataset,
                        own: true,
                    },
                )
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
        for file in (0..files.length()).filter_map(|i| files.item(i)) {
            leptos::task::spawn_local(async move {
                let name = file.name();
                on_file(name, fetch::local_file(file).await);
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
                Some(Ok(ix)) => view! { <Published index=ix loaded load_error/> }.into_any(),
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
                    <NumbersTable rows=measure::step_rows(&chosen)/>
                }.into_any()
            }}
        </section>
    }
}

/// The published datasets, filtered, each with a box that adds it to the charts.
#[component]
fn Published(
    index: Index,
    loaded: RwSignal<Vec<Loaded>>,
    load_error: RwSignal<Option<String>>,
) -> impl IntoView {
    let filters = RwSignal::new(Filters::default());
    let toggle = move |file: String, on: bool| {
        if !on {
            loaded.update(|l| l.retain(|d| d.own || d.name != file));
            return;
        }
        leptos::task::spawn_local(async move {
            match fetch::dataset(&file).await {
                Ok(dataset) => loaded.update(|l| {
                    measure::choose(
                        l,
                        Loaded {
                            name: file,
                            dataset,
                            own: false,
                        },
                    )
                }),
                Err(e) => load_error.set(Some(e)),
            }
        });
    };
    let filter = |facet: Facet| {
        let options = std::iter::once((String::new(), "all".to_string()))
            .chain(facet.choices(&index).into_iter().map(|v| (v.clone(), v)))
            .collect();
        view! {
            <Choice
                label=facet.label()
                id=facet.id()
                options
                value=Signal::derive(move || filters.with(|f| f.get(facet)))
                on_choose=move |v: String| filters.update(|f| f.set(facet, v))
            />
        }
    };
    let filter_views = Facet::ALL.into_iter().map(filter).collect_view();
    let entries =
        move || filters.with(|f| f.apply(&index).into_iter().cloned().collect::<Vec<_>>());
    view! {
        <div class="filters">{filter_views}</div>
        <ul class="datasets">
            {move || entries().into_iter().map(|e| {
                let file = e.file.clone();
                // A filter redraws the list: each box starts as whether its dataset is on the
                // charts, then the reader owns it (a box ticked stays ticked while its file
                // is on its way).
                let checked = loaded.with_untracked(|l| l.iter().any(|d| !d.own && d.name == e.file));
                let source = if e.source == Source::Measured { "measured" } else { "simulated" };
                view! {
                    <li>
                        <label>
                            <input type="checkbox" data-file=e.file.clone() prop:checked=checked on:change=move |ev| toggle(file.clone(), event_target_checked(&ev))/>
                            {format!("{} · {} · {}", measure::deployment_label(&e), e.engine, e.created_at)}
                            <span class=format!("source {source}")>{e.source.to_string()}</span>
                        </label>
                    </li>
                }
            }).collect_view()}
        </ul>
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
                        let name = l.name;
                        l.dataset.limits.into_iter().map(move |limit| view! {
                            <tr>
                                <td>{name.clone()}</td>
                                <td>{limit.prompt_tokens}</td>
                                <td>{limit.max_concurrency_ok.map_or("—".to_string(), |c| c.to_string())}</td>
                                <td title=limit.detail.clone().unwrap_or_default()>{limit.reason.describe()}</td>
                            </tr>
                        })
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Every step's figures, as the charts draw them: a reader can read exact values, and each
/// cell carries them as the runner's HTML tables do (`data-metric`, `data-value`, the step).
#[component]
fn NumbersTable(rows: Vec<StepRow>) -> impl IntoView {
    let steps = rows.len();
    view! {
        <details class="numbers">
            <summary>{format!("The numbers behind the charts ({steps} steps)")}</summary>
            <div class="scroll">
                <table class="numbers">
                    <thead><tr>
                        <th>"dataset"</th><th>"prompt tokens"</th><th>"rate req/s"</th><th>"users"</th>
                        {Metric::ALL.into_iter().map(|m| view! { <th class="num" title=m.title()>{m.heading()}</th> }).collect_view()}
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|row| {
                            let (dataset, prompt, users) = (row.dataset, row.prompt_tokens, row.concurrency);
                            let rate = row.rate_rps;
                            view! {
                                <tr>
                                    <td>{dataset.clone()}</td>
                                    <td>{prompt}</td>
                                    <td title="an open loop's request rate; — for a closed loop">{rate.clone().unwrap_or_else(|| "—".into())}</td>
                                    <td>{users}</td>
                                    {row.figures.into_iter().map(|f| view! {
                                        <td
                                            class="num"
                                            data-metric=f.metric.slug()
                                            data-value=f.value
                                            data-prompt-tokens=prompt
                                            data-concurrency=users
                                            data-rate-rps=rate.clone()
                                            data-dataset=dataset.clone()
                                        >{f.shown}</td>
                                    }).collect_view()}
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </details>
    }
}
