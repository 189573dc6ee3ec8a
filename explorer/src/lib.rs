//! The jauge explorer: a client-side (WASM) site where readers pick a model, GPU and
//! quantisation and see what it can serve, next to the measured curves.
//!
//! `plan` (the planner's view-model) and `measure` (the datasets' series) are pure and tested
//! natively; `app` holds the Leptos components and `chart` draws on canvases.

mod app;
mod chart;
pub mod measure;
pub mod plan;

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
