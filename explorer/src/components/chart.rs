//! One metric against simultaneous users on a canvas: `jauge_chart::draw` (the report's chart)
//! on plotters' canvas backend, the exact value of the point under the pointer, and the PNG and
//! CSV exports.

use jauge::metric::Metric;
use jauge_chart::{Drawn, Line};
use leptos::prelude::*;
use plotters::prelude::IntoDrawingArea;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsCast;

use crate::measure::{self, Series};
use crate::url::encode;

/// The chart of `metric` over `series`, or "no data" when there is none.
#[component]
pub fn Chart(metric: Metric, series: Vec<Series>) -> impl IntoView {
    let title = format!("{} ({})", metric.title(), metric.unit());
    if series.is_empty() {
        return view! {
            <figure class="chart" data-chart=metric.slug()>
                <figcaption>{title}</figcaption>
                <p class="empty">"No data for this metric in the chosen datasets."</p>
            </figure>
        }
        .into_any();
    }
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let hover = RwSignal::new(String::new());
    let lines: Vec<Line> = series.iter().map(|s| s.line.clone()).collect();
    let legend: Vec<(String, String)> = series
        .iter()
        .map(|s| (s.line.label.clone(), legend_class(&s.source).to_string()))
        .collect();
    let drawn = StoredValue::new(None::<Drawn>);
    // Drawing on the canvas is what this Effect synchronises with.
    Effect::new(move |_| {
        if let Some(el) = canvas.get() {
            match paint(&el, metric, &lines) {
                Ok(d) => drawn.set_value(Some(d)),
                Err(e) => hover.set(e),
            }
        }
    });
    let on_move = move |ev: web_sys::MouseEvent| {
        let (Some(d), Some(el)) = (drawn.get_value(), canvas.get()) else {
            return;
        };
        // The canvas may be drawn smaller than its pixel size (narrow screens).
        let scale = f64::from(el.width()) / f64::from(el.client_width().max(1));
        let (x, y) = (
            f64::from(ev.offset_x()) * scale,
            f64::from(ev.offset_y()) * scale,
        );
        hover.set(jauge_chart::nearest(&d, x, y).unwrap_or_default());
    };
    let export_png = move |_| {
        if let Some(url) = canvas.get().and_then(|el| el.to_data_url().ok()) {
            download(&url, &format!("{}.png", metric.slug()));
        }
    };
    let csv = measure::csv(&series, metric);
    let export_csv = move |_| {
        download(
            &format!("data:text/csv;charset=utf-8,{}", encode(&csv)),
            &format!("{}.csv", metric.slug()),
        )
    };
    view! {
        <figure class="chart" data-chart=metric.slug()>
            <figcaption>{title}</figcaption>
            <canvas
                node_ref=canvas
                width="560"
                height="320"
                role="img"
                aria-label=format!("{} against simultaneous users", metric.title())
                on:mousemove=on_move
            ></canvas>
            <p class="hover" aria-live="polite">{move || hover.get()}</p>
            <ul class="legend">
                {legend
                    .into_iter()
                    .map(|(label, class)| view! { <li class=class>{label}</li> })
                    .collect_view()}
            </ul>
            <button type="button" on:click=export_png>"PNG"</button>
            <button type="button" on:click=export_csv>"CSV"</button>
        </figure>
    }
    .into_any()
}

/// The legend's class for a series' source: `imported:<tool>` is `imported`.
fn legend_class(source: &str) -> &str {
    source.split(':').next().unwrap_or(source)
}

/// Draws the chart on `canvas` (the site titles it in the page, so no caption).
fn paint(
    canvas: &web_sys::HtmlCanvasElement,
    metric: Metric,
    lines: &[Line],
) -> Result<Drawn, String> {
    let backend = CanvasBackend::with_canvas_object(canvas.clone())
        .ok_or_else(|| format!("{}: the canvas has no 2D context", metric.title()))?;
    let chart = jauge_chart::Chart {
        metric,
        lines,
        caption: false,
        legend: false,
    };
    jauge_chart::draw(&backend.into_drawing_area(), &chart)
}

/// Has the browser save `href` as `name`.
fn download(href: &str, name: &str) {
    let Some(a) = document()
        .create_element("a")
        .ok()
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    else {
        return;
    };
    a.set_href(href);
    a.set_download(name);
    a.click();
}
