//! The jauge explorer: a client-side (WASM) site where readers pick a model, GPU and
//! quantisation and see what it can serve, next to the measured curves.
//!
//! The view-models are pure and tested natively: `plan` (the planner's selection ⇄ URL,
//! sizing, prediction, ranking), `measure` (the datasets' series and numbers) and `study` (the
//! Study's rows); `url` is the one percent-encoder. The Leptos side: `app` (the page and the
//! state it owns), `pages` (one module per section), `components` (the choice and number
//! inputs, the chart on a canvas) and `fetch` (the published files).

mod app;
mod components;
mod fetch;
pub mod measure;
mod pages;
pub mod plan;
pub mod study;
pub mod url;

use wasm_bindgen::prelude::*;

/// Entry point: runs when the WASM module loads and mounts the page on `<main id="app">`.
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    let root = leptos::prelude::document()
        .get_element_by_id("app")
        .ok_or_else(|| JsValue::from_str("jauge explorer: the page has no element with id=app"))?;
    root.set_inner_html("");
    let root: web_sys::HtmlElement = root.unchecked_into();
    leptos::mount::mount_to(root, app::App).forget();
    Ok(())
}

/// Benchmark hook (for `scripts/bench`, not the page): milliseconds the simulator takes in
/// this browser for 10,000 requests at concurrency 256 (Llama-3-8B on an H100).
#[wasm_bindgen]
pub fn bench_simulate_ms() -> f64 {
    let Some((engine, load)) = jauge::sim::benchmark_workload() else {
        return f64::NAN;
    };
    let Some(performance) = web_sys::window().and_then(|w| w.performance()) else {
        return f64::NAN;
    };
    let start = performance.now();
    let (records, _) = jauge::sim::simulate(&engine, &load);
    let elapsed = performance.now() - start;
    if records.len() == 10_000 {
        elapsed
    } else {
        f64::NAN
    }
}
