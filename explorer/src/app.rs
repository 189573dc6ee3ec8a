//! The page: the three sections and the state they share, owned here. The planner's
//! selection lives in the URL (a link shows what its sender saw; back and forward restore
//! it); the index of published datasets is fetched once, for the Measurements and the Study.

use jauge::catalogue::ModelSpec;
use jauge::dataset::Index;
use leptos::prelude::*;

use crate::fetch;
use crate::pages::measurements::Measurements;
use crate::pages::planner::Planner;
use crate::pages::study::StudyPage;
use crate::plan::Selection;

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    let selection = RwSignal::new(Selection::from_query(&current_query()));
    // A pasted or dropped config.json, used when the model is `custom`.
    let custom_model: RwSignal<Option<ModelSpec>> = RwSignal::new(None);
    let index: LocalResource<Result<Index, String>> = LocalResource::new(fetch::index);

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
    // The sections below the planner wait for its numbers to be painted: a reader sees them
    // sooner, and the index they need is fetched meanwhile.
    let below = RwSignal::new(false);
    after_paint(move || below.set(true));
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
        <Planner selection custom_model index/>
        {move || below.get().then(|| view! {
            <Measurements index/>
            <StudyPage index/>
        })}
        <footer>
            <p>
                "Predictions come from jauge's sizing model (vLLM's memory accounting), the same code as "
                <code>"jauge size"</code> ". Simulated datasets are drawn dashed and labelled; they are not measurements."
            </p>
        </footer>
    }
}

/// Runs `work` once the browser has painted what is on screen now: the next animation frame
/// comes just before a paint, and a zero timeout set from it runs just after. A zero timeout
/// alone can run before the paint, and the reader would wait for the slow work to see
/// anything.
pub(crate) fn after_paint(work: impl FnOnce() + 'static) {
    request_animation_frame(move || set_timeout(work, std::time::Duration::ZERO));
}

fn current_query() -> String {
    window().location().search().unwrap_or_default()
}
