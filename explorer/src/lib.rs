//! The jauge explorer, client-side in the browser (WASM).
//!
//! This first page answers the study's capacity question for its five deployments with the
//! same sizing code as `jauge size`; the full planner (inputs, charts, measured curves) is the
//! explorer issue's work. The page is rendered by [`render_page`], a pure function, so that
//! native tests check it; [`start`] only puts it in the document.

mod page;

pub use page::{render_page, study_deployments, StudyDeployment, STUDY_CONTEXT};

use wasm_bindgen::prelude::*;

/// Entry point: runs when the WASM module loads and fills `<main id="app">`.
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("jauge explorer: no document to render into"))?;
    let root = document
        .get_element_by_id("app")
        .ok_or_else(|| JsValue::from_str("jauge explorer: the page has no element with id=app"))?;
    root.set_inner_html(&render_page());
    Ok(())
}
