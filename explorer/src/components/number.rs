//! A labelled number input: the value shown now, and what to do with a new one.

use leptos::prelude::*;

/// An `<input type="number">` showing `value`; a change calls `on_change` with the text typed
/// (the caller reads it, and keeps what it had when it cannot).
#[component]
pub fn NumberInput(
    /// What the number is, shown above the input.
    label: &'static str,
    /// The input's id.
    id: &'static str,
    /// The value shown now.
    value: Signal<String>,
    /// Called with the text of a change.
    #[prop(into)]
    on_change: Callback<String>,
    /// The smallest value offered.
    min: &'static str,
    /// The largest value offered, when there is one.
    #[prop(optional)]
    max: Option<&'static str>,
    /// The arrows' step, when not 1.
    #[prop(optional)]
    step: Option<&'static str>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input
                id=id
                type="number"
                min=min
                max=max
                step=step
                prop:value=move || value.get()
                on:change=move |ev| on_change.run(event_target_value(&ev))
            />
        </label>
    }
}
