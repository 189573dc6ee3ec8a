//! The planner's prediction under load: the request's shape and the objectives in, the most
//! users under them and the curves out, labelled simulated everywhere.

use jauge::metric::Metric;
use jauge_chart::Line;
use leptos::prelude::*;

use crate::components::chart::Chart;
use crate::components::number::NumberInput;
use crate::measure::Series;
use crate::plan::{raw, Field, Prediction, Selection};

/// The prediction section.
#[component]
pub fn Predicted(
    selection: RwSignal<Selection>,
    prediction: Signal<Result<Prediction, String>>,
) -> impl IntoView {
    let number = move |label: &'static str, field: Field| {
        let value = Signal::derive(move || selection.with(|s| s.get(field)));
        let on_change = move |v: String| selection.update(|s| s.set(field, &v));
        view! { <NumberInput label id=field.key() min="1" value on_change/> }
    };
    // One simulated line per chart.
    let curve = move |points: Vec<(f64, f64)>, what: &str| {
        vec![Series {
            dataset: "prediction".into(),
            prompt_tokens: selection.with(|s| s.prompt_tokens),
            line: Line {
                label: format!("{what} (simulated prediction)"),
                points,
                simulated: true,
            },
            source: "simulated".into(),
        }]
    };
    let shown = |value: Option<f64>, metric: Metric| value.map_or("-".into(), |v| metric.format(v));
    let data = |value: Option<f64>| value.map_or("null".to_string(), raw);
    view! {
        <section class="prediction" aria-labelledby="prediction-title">
            <h3 id="prediction-title">"Under load (simulated prediction)"</h3>
            <form class="inputs" on:submit=|ev| ev.prevent_default()>
                {number("Prompt tokens", Field::Prompt)}
                {number("Output tokens", Field::Output)}
                {number("TTFT p95 objective (ms)", Field::Ttft)}
                {number("TPOT p95 objective (ms)", Field::Tpot)}
            </form>
            {move || match prediction.get() {
                Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                Ok(p) => view! {
                    <dl class="headline">
                        <div><dt>"Users under the objectives (simulated)"</dt><dd>
                            <span class="value" data-metric="predicted_max_users" data-value=p.max_users.map_or("null".to_string(), |u| u.to_string())>
                                {p.max_users.map_or("none".to_string(), |u| u.to_string())}
                            </span>
                            {p.breaks.clone().map(|(at, why)| format!(" · at {at}: {why}"))}
                        </dd></div>
                        <div><dt>"Output at that load (simulated)"</dt><dd>
                            <span class="value" data-metric="predicted_output_tok_s" data-value=data(p.output_tok_s)>{shown(p.output_tok_s, Metric::OutputTokS)}</span>" tok/s in all, "
                            <span data-metric="predicted_per_user_output_tok_s" data-value=data(p.per_user_tok_s)>{shown(p.per_user_tok_s, Metric::PerUserTokS)}</span>" per user"
                        </dd></div>
                    </dl>
                    <div class="charts">
                        <Chart metric=Metric::OutputTokS series=curve(p.throughput_curve.clone(), "output tok/s")/>
                        <Chart metric=Metric::TtftP95 series=curve(p.ttft_curve.clone(), "TTFT p95")/>
                    </div>
                    <p class="note">{format!("A first-order prediction (roofline step times, vLLM-like scheduling) with the factors jauge fitted on {} published datasets from {} sources; how well it did on the nearest ones is below.", jauge::calibrate::Calibration::builtin().corpus.used, jauge::calibrate::Calibration::builtin().corpus.sources)}</p>
                }.into_any(),
            }}
        </section>
    }
}
