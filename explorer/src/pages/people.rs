//! The planner's answer in people: a workload (chat, RAG, code, fixed requests) with its
//! assumptions editable, and the most people it serves beside the requests in flight they
//! keep — `jauge people`'s answer, labelled simulated.

use leptos::prelude::*;

use crate::components::choice::Choice;
use crate::components::number::NumberInput;
use crate::plan::{raw, Field, People, Selection};

/// The people section.
#[component]
pub fn PeopleServed(
    selection: RwSignal<Selection>,
    people: Signal<Result<People, String>>,
) -> impl IntoView {
    let value = move |field: Field| Signal::derive(move || selection.with(|s| s.get(field)));
    let set =
        move |field: Field| Callback::new(move |v: String| selection.update(|s| s.set(field, &v)));
    let workloads = jauge::people::Workload::NAMES
        .iter()
        .map(|n| (n.to_string(), n.to_string()))
        .collect();
    // A range typed as text (`3-8`): the number input cannot hold one.
    let span = move |label: &'static str, field: Field, hint: &'static str| {
        view! {
            <label>
                {label}
                <input
                    id=field.key()
                    type="text"
                    inputmode="numeric"
                    placeholder=hint
                    prop:value=move || selection.with(|s| s.get(field))
                    on:change=move |ev| selection.update(|s| s.set(field, &event_target_value(&ev)))
                />
            </label>
        }
    };
    view! {
        <section class="people" aria-labelledby="people-title">
            <h3 id="people-title">"People served (simulated prediction)"</h3>
            <form class="inputs" on:submit=|ev| ev.prevent_default()>
                <Choice label="Workload" id=Field::Workload.key() options=workloads value=value(Field::Workload) on_choose=set(Field::Workload)/>
                <NumberInput label="Seconds between answer and next request" id=Field::Think.key() min="0" step="any" value=value(Field::Think) on_change=set(Field::Think)/>
                {span("Turns a conversation", Field::Turns, "workload's")}
                {span("Answer tokens", Field::Answer, "workload's")}
            </form>
            {move || match people.get() {
                Err(message) => view! { <p class="error" role="alert" data-metric="people-error">{message}</p> }.into_any(),
                Ok(p) => {
                    let w = p.workload.clone();
                    let served = p.answer.served;
                    let in_flight = served.map_or(0.0, |o| o.in_flight_mean);
                    view! {
                        <p class="verdict">
                            "About "
                            <span class="value" data-metric="people" data-value=p.answer.people.to_string()>{p.answer.people.to_string()}</span>
                            {format!(" people in a {} workload, ", w.name)}
                            <span class="value" data-metric="people_in_flight" data-value=raw(in_flight)>{format!("{in_flight:.1}")}</span>
                            " requests in flight on average"
                            {served.map(|o| format!(" ({:.1} by Little's law)", o.in_flight_littles_law))}
                        </p>
                        <dl class="headline">
                            <div><dt>"TTFT p95 of each turn"</dt><dd>{served.and_then(|o| o.ttft_p95_s).map_or("—".into(), |v| format!("{v:.2} s"))}{format!(" (objective ≤ {} s)", w.ttft_p95_s)}</dd></div>
                            <div><dt>"Answer speed, 95 % of answers"</dt><dd>{served.and_then(|o| o.output_tok_s_p5).map_or("—".into(), |v| format!("{v:.1} tok/s"))}{format!(" (objective ≥ {} tok/s)", w.min_output_tok_s)}</dd></div>
                            <div><dt>"Prompt tokens from the prefix cache"</dt><dd>{served.and_then(|o| o.prefix_hit_rate).map_or("—".into(), |v| format!("{:.0} %", v * 100.0))}</dd></div>
                        </dl>
                        <p class="note">{format!("Assumed: {}.", w.describe())}</p>
                        {p.answer.broken.map(|b| view! {
                            <p class="note">{format!(
                                "At {} people: TTFT p95 {}, answers at {} for 95 % of them.",
                                b.people,
                                b.ttft_p95_s.map_or("—".into(), |v| format!("{v:.2} s")),
                                b.output_tok_s_p5.map_or("—".into(), |v| format!("{v:.1} tok/s")),
                            )}</p>
                        })}
                        <p class="note">"People follow the workload in a closed loop with their pauses through jauge's simulator of vLLM (prefix caching on); the same answer as "<code>"jauge people --workload "{w.name}</code>". A prediction, not a measurement."</p>
                    }.into_any()
                }
            }}
        </section>
    }
}
