//! A labelled `<select>`: the options, the value chosen now, and what to do with a new one.

use leptos::prelude::*;

/// One choice among `options` (`(value, text)` pairs, in order); the option whose value is
/// `value` is selected, and choosing another calls `on_choose` with its value.
#[component]
pub fn Choice(
    /// What is chosen, shown above the list.
    label: &'static str,
    /// The `<select>`'s id.
    id: &'static str,
    /// `(value, text)` per option.
    options: Vec<(String, String)>,
    /// The value chosen now.
    value: Signal<String>,
    /// Called with the value the reader chose.
    #[prop(into)]
    on_choose: Callback<String>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <select id=id on:change=move |ev| on_choose.run(event_target_value(&ev))>
                {options
                    .into_iter()
                    .map(|(option, text)| {
                        let this = option.clone();
                        let selected = move || value.with(|v| *v == this);
                        view! { <option value=option selected=selected>{text}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// Options whose value is also their text.
pub fn plain<T: ToString>(values: impl IntoIterator<Item = T>) -> Vec<(String, String)> {
    values
        .into_iter()
        .map(|v| (v.to_string(), v.to_string()))
        .collect()
}
