//! The Study section: the seed preset's comparisons side by side — memory, users under the
//! objectives, tok/s and maximum context — predicted (simulated), and measured beside it when
//! a measured dataset of the same deployment is published.

use jauge::dataset::Index;
use jauge::metric::Metric;
use jauge::study::{Answers, Comparison, Preset};
use leptos::prelude::*;

use crate::fetch;
use crate::plan::raw;
use crate::study::{self, Row};

/// The Study section; its datasets are fetched once the index has arrived.
#[component]
pub fn StudyPage(index: LocalResource<Result<Index, String>>) -> impl IntoView {
    let preset = Preset::builtin("seed").expect("the seed preset is built in");
    let wanted = preset.clone();
    let fetched = LocalResource::new(move || {
        let index = index.get();
        let files = index.map(|ix| ix.map(|ix| study::files_to_fetch(&wanted, &ix)));
        async move {
            match files? {
                Ok(files) => Some(fetch::datasets(files).await),
                Err(e) => Some(Err(e)),
            }
        }
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
            {move || match fetched.get().flatten() {
                None => view! { <p>"Loading the study's datasets…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                Some(Ok(fetched)) => preset.comparisons.iter().map(|c| {
                    let rows = study::rows(c, &fetched);
                    view! { <ComparisonTable comparison=c.clone() rows/> }
                }).collect_view().into_any(),
            }}
        </section>
    }
}

/// One comparison's table.
#[component]
fn ComparisonTable(comparison: Comparison, rows: Vec<Row>) -> impl IntoView {
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
    let tok_s = |v: f64| Metric::OutputTokS.format(v);
    let users = |prompt: u32, a: &Answers| a.users_at(prompt).map(f64::from);
    let context = |many: bool, a: &Answers| {
        a.context
            .iter()
            .find(|(c, _)| (*c > 1) == many)
            .and_then(|(_, t)| t.map(f64::from))
    };
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
                                let at = p.context.iter().find(|(c, _)| *c > 1).map(|(c, _)| format!(" at {c} users")).unwrap_or_default();
                                let share = users(prompts[1], &p).unwrap_or(0.0) / f64::from(most_users) * 100.0;
                                view! {
                                    <tr data-deployment=slug.clone()>
                                        <td>{label}{q.is_some().then(|| view! { <span class="source measured">"measured"</span> })}</td>
                                        <td>
                                            {cell(format!("{slug}:weights_gib"), Some(m.weights_gib), format!("{:.1} GiB weights", m.weights_gib), "predicted")}
                                            <br/>{format!("{:.1} GiB KV cache, {} tokens", m.kv_cache_gib, jauge::units::thousands(m.kv_cache_tokens))}
                                            <br/><span class="note">{format!("max_model_len {}", m.max_model_len)}</span>
                                            {q.as_ref().and_then(|q| q.gpu_memory_peak_gib).map(|g| view! {
                                                <br/>{cell(format!("{slug}:gpu_memory_peak_gib:measured"), Some(g), format!("{} GiB peak measured", Metric::GpuMemoryPeak.format(g)), "measured")}
                                            })}
                                        </td>
                                        <td>{pair(&slug, &format!("users_{}", prompts[0]), users(prompts[0], &p), q.as_ref().and_then(|q| users(prompts[0], q)), whole)}</td>
                                        <td>
                                            {pair(&slug, &format!("users_{}", prompts[1]), users(prompts[1], &p), q.as_ref().and_then(|q| users(prompts[1], q)), whole)}
                                            <div class="minibar" aria-hidden="true"><div style=format!("width:{share:.0}%")></div></div>
                                        </td>
                                        <td>{pair(&slug, "output_tok_s", p.best_output_tok_s, q.as_ref().and_then(|q| q.best_output_tok_s), tok_s)}</td>
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
