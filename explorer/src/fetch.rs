//! Reading the published files: `datasets/index.json` and the datasets it lists, each checked
//! as `jauge validate` checks it.

use jauge::dataset::{Dataset, Index};

/// The index of the published datasets.
pub async fn index() -> Result<Index, String> {
    let text = text("datasets/index.json").await?;
    Index::from_json(&text).map_err(|e| format!("datasets/index.json: {e}"))
}

/// One published dataset, by its file name in the index.
pub async fn dataset(file: &str) -> Result<Dataset, String> {
    let text = text(&format!("datasets/{file}")).await?;
    Dataset::from_json(&text).map_err(|e| format!("{file}: {e}"))
}

/// Several, in order: `(file, dataset)`; the first failure stops it.
pub async fn datasets(files: Vec<String>) -> Result<Vec<(String, Dataset)>, String> {
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let data = dataset(&file).await?;
        out.push((file, data));
    }
    Ok(out)
}

async fn text(path: &str) -> Result<String, String> {
    let response = gloo_net::http::Request::get(path)
        .send()
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    if !response.ok() {
        return Err(format!("{path}: HTTP {}", response.status()));
    }
    response.text().await.map_err(|e| format!("{path}: {e}"))
}

/// The text of a file the reader chose or dropped (empty when the browser cannot read it).
pub async fn local_file(file: web_sys::File) -> String {
    wasm_bindgen_futures::JsFuture::from(file.text())
        .await
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}
