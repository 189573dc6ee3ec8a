//! The planner's check against reality: how well the model predicted the published
//! measurements nearest the selection (held out: each source predicted by a fit made without
//! it), and the published measurements of this very deployment drawn beside the model's
//! prediction of each, linked to their sources.

use jauge::calibrate::Calibration;
use jauge::dataset::{Dataset, Index, Source};
use jauge::metric::Metric;
use jauge::sizing::Sizing;
use leptos::prelude::*;

use crate::components::chart::Chart;
use crate::fetch;
use crate::measure::{self, Loaded};
use crate::plan::Selection;

/// The published datasets of the selected deployment: same catalogue model, GPU kind and
/// count, and weight format (the one sizing resolved, so "checkpoint dtype" finds bf16).
pub fn published_files(index: &Index, selection: &Selection, sizing: &Sizing) -> Vec<String> {
    index
        .datasets
        .iter()
        .filter(|e| {
            e.source == Source::Published
                && e.model == selection.model
                && e.gpu == selection.gpu
                && e.gpu_count == selection.gpus
                && e.quantization.eq_ignore_ascii_case(&sizing.quant)
        })
        .map(|e| e.file.clone())
        .collect()
}

/// The section.
#[component]
pub fn PublishedCheck(
    selection: RwSignal<Selection>,
    sizing: Memo<Result<Sizing, String>>,
    index: LocalResource<Result<Index, String>>,
) -> impl IntoView {
    let checked = Memo::new(move |_| {
        let s = sizing.get().ok()?;
        Calibration::builtin().checked_for(&selection.with(|sel| sel.gpu.clone()), &s.quant)
    });
    let files = Memo::new(move |_| {
        let Some(Ok(index)) = index.get() else {
            return Vec::new();
        };
        let Ok(s) = sizing.get() else {
            return Vec::new();
        };
        selection.with(|sel| published_files(&index, sel, &s))
    });
    let published: LocalResource<Result<Vec<(String, Dataset)>, String>> =
        LocalResource::new(move || fetch::datasets(files.get()));
    view! {
        <section class="published" aria-labelledby="published-title">
            <h3 id="published-title">"Checked against published measurements"</h3>
            {move || match checked.get() {
                Some(c) => view! {
                    <p class="checked" data-metric="checked_points" data-value=c.points.to_string() data-median=format!("{:.1}", c.median_pct)>
                        {format!("The prediction was {c}.")}
                    </p>
                }.into_any(),
                None => view! {
                    <p class="checked">"No published measurement has checked the prediction for this GPU and format yet."</p>
                }.into_any(),
            }}
            {move || match published.get() {
                None => view! { <p>"Loading the published measurements…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! {
                    <p class="empty">"No published dataset of this exact deployment (model, GPU kind and count, format); the line above counts the nearest ones."</p>
                }.into_any(),
                Some(Ok(list)) => view! { <PublishedCharts list/> }.into_any(),
            }}
        </section>
    }
}

/// The published points of each dataset beside the model's prediction of the same steps, and
/// the list of sources.
#[component]
fn PublishedCharts(list: Vec<(String, Dataset)>) -> impl IntoView {
    let loaded: Vec<Loaded> = list
        .iter()
        .map(|(name, dataset)| Loaded {
            name: name.clone(),
            dataset: dataset.clone(),
            own: false,
        })
        .collect();
    let mut drawn = loaded.clone();
    drawn.extend(loaded.iter().filter_map(measure::prediction_of));
    let charts = [Metric::OutputTokS, Metric::TtftP50, Metric::ItlP50]
        .into_iter()
        .map(|metric| {
            let series = measure::series(&drawn, metric);
            view! { <Chart metric series/> }
        })
        .collect_view();
    let sources = list
        .into_iter()
        .map(|(file, d)| {
            let p = d.provenance.publication.clone();
            let engine = format!(
                "{}{}",
                d.deployment.engine.name,
                d.deployment
                    .engine
                    .version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default()
            );
            let steps = d.steps.len();
            view! {
                <li data-file=file.clone()>
                    {match p {
                        Some(p) => view! {
                            <a href=p.url.clone() rel="noopener" data-source=p.url.clone()>{p.title.clone()}</a>
                            {p.author.map(|a| format!(", {a}"))}
                            {p.published_on.map(|d| format!(" ({d})"))}
                        }.into_any(),
                        None => view! { <span>{file.clone()}</span> }.into_any(),
                    }}
                    {format!(": {steps} published step{} on {engine}", if steps == 1 { "" } else { "s" })}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="charts">{charts}</div>
        <p class="note">"Solid: published figures, transcribed exactly from their source. Dashed: jauge's prediction of the same steps (simulated)."</p>
        <ul class="sources">{sources}</ul>
    }
}
