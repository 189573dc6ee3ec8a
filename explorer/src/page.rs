//! The capacity table of the study's deployments, as HTML.

use jauge::catalogue::Catalogue;
use jauge::sizing::{size, Sizing, SizingRequest};
use jauge::units::thousands;

/// One deployment the study compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StudyDeployment {
    /// Catalogue model id.
    pub model: &'static str,
    /// Catalogue GPU id.
    pub gpu: &'static str,
    /// GPUs.
    pub gpus: u32,
    /// Catalogue quantisation id; `None` for the checkpoint's dtype.
    pub quant: Option<&'static str>,
}

/// The deployments the study's discussion compares (Mistral-7B on a V100 and an A100,
/// Mixtral-8x7B on two A100s, Mixtral-8x22B on four A100s at 8 and 4 bits, Codestral-22B on
/// two V100s, one A100 and 4-bit on one V100, Llama-3-70B on A100s).
pub fn study_deployments() -> Vec<StudyDeployment> {
    let d = |model, gpu, gpus, quant| StudyDeployment {
        model,
        gpu,
        gpus,
        quant,
    };
    vec![
        d("mistral-7b-v0.1", "v100-16gb", 1, None),
        d("mistral-7b-v0.1", "a100-40gb", 1, None),
        d("mixtral-8x7b-v0.1", "a100-40gb", 2, None),
        d("mixtral-8x7b-v0.1", "a100-40gb", 2, Some("awq")),
        d("mixtral-8x22b-v0.1", "a100-40gb", 4, Some("gptq-8bit")),
        d("mixtral-8x22b-v0.1", "a100-40gb", 4, Some("awq")),
        d("codestral-22b-v0.1", "v100-16gb", 2, None),
        d("codestral-22b-v0.1", "a100-40gb", 1, None),
        d("codestral-22b-v0.1", "v100-16gb", 1, Some("gptq-4bit")),
        d("llama-3-70b", "a100-40gb", 2, Some("awq")),
        d("llama-3-70b", "a100-40gb", 4, None),
    ]
}

/// The context the page sizes for: a long chat or a code file, and Llama 3's maximum.
pub const STUDY_CONTEXT: u32 = 8192;

/// Sizes one deployment with vLLM's defaults, served with `--max-model-len` 8,192 (or the
/// model's maximum when shorter).
fn size_one(d: &StudyDeployment) -> Result<Sizing, String> {
    let cat = Catalogue::builtin();
    let model = cat.model(d.model).map_err(|e| e.to_string())?;
    let gpu = cat.gpu(d.gpu).map_err(|e| e.to_string())?;
    let quant = d
        .quant
        .map(|q| cat.quant(q))
        .transpose()
        .map_err(|e| e.to_string())?;
    let context = model.max_position_embeddings.min(STUDY_CONTEXT);
    let request = SizingRequest {
        gpu_count: d.gpus,
        quant,
        max_model_len: Some(context),
        context_tokens: Some(context),
        ..SizingRequest::new(model, gpu)
    };
    size(&request).map_err(|e| e.to_string())
}

/// The whole page body: an introduction and one table row per study deployment.
pub fn render_page() -> String {
    let mut rows = String::new();
    for d in study_deployments() {
        rows.push_str(&match size_one(&d) {
            Ok(s) => row(&s),
            Err(e) => format!(
                "<tr><td>{}</td><td colspan=\"6\" class=\"error\">{}</td></tr>",
                escape(d.model),
                escape(&e)
            ),
        });
    }
    format!(
        r#"<header>
  <h1>jauge</h1>
  <p class="tagline">With this model, this GPU and this quantisation: how many people at once, how fast, with how much context?</p>
</header>
<section>
  <h2>The study's deployments, sized</h2>
  <p>Computed in your browser by the same code as <code>jauge size</code> (vLLM {version} memory rules,
  <code>gpu_memory_utilization</code> 0.9, <code>--max-model-len</code> 8,192). These are
  <strong>predictions</strong>, not measurements.</p>
  <table>
    <thead><tr><th>model</th><th>GPUs</th><th>weights</th><th>fits</th><th>weights / GPU (GiB)</th><th>KV-cache tokens</th><th>requests at once</th></tr></thead>
    <tbody>
{rows}    </tbody>
  </table>
</section>
<footer><p>Measured curves and the interactive planner come next. Datasets: <a href="datasets/index.json">datasets/index.json</a>.</p></footer>
"#,
        version = jauge::sizing::VllmVersion::DEFAULT,
    )
}

fn row(s: &Sizing) -> String {
    format!(
        "      <tr data-model=\"{model}\" data-gpu=\"{gpu}\" data-gpus=\"{gpus}\" data-quant=\"{quant}\">\
<td>{model}</td><td>{gpus} × {gpu}</td><td>{quant}</td>\
<td data-metric=\"fits\" data-value=\"{fits}\">{fits_text}</td>\
<td data-metric=\"weights_gib_per_gpu\" data-value=\"{weights_raw}\">{weights:.2}</td>\
<td data-metric=\"kv_cache_tokens\" data-value=\"{tokens}\">{tokens_text}</td>\
<td data-metric=\"max_concurrency\" data-value=\"{concurrency_raw}\">{concurrency:.1}</td></tr>\n",
        model = escape(&s.model),
        gpu = escape(&s.gpu),
        gpus = s.gpus,
        quant = escape(&s.quant),
        fits = s.fits,
        fits_text = if s.fits { "yes" } else { "no" },
        weights = s.weights_gib_per_gpu,
        weights_raw = raw(s.weights_gib_per_gpu),
        tokens = s.kv_cache_tokens,
        tokens_text = thousands(s.kv_cache_tokens),
        concurrency = s.max_concurrency,
        concurrency_raw = raw(s.max_concurrency),
    )
}

/// A number exactly as `jauge size --json` writes it, so scripts read the same value.
fn raw(value: f64) -> String {
    serde_json::Value::from(value).to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_study_deployment_is_sized_without_error() {
        for d in study_deployments() {
            size_one(&d).unwrap_or_else(|e| panic!("{d:?}: {e}"));
        }
    }

    #[test]
    fn page_numbers_are_the_sizing_models() {
        let page = render_page();
        let s = size_one(&study_deployments()[1]).unwrap();
        let cell = format!(
            "data-metric=\"max_concurrency\" data-value=\"{}\"",
            raw(s.max_concurrency)
        );
        assert!(page.contains(&cell), "{cell} not in page");
        assert_eq!(
            page.matches("<tr data-model=").count(),
            study_deployments().len()
        );
        assert!(!page.contains("class=\"error\""));
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
