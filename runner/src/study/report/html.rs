//! The report as one self-contained HTML file (`report.html`): the page's sections, its tables
//! with every step's figure as data, and its charts drawn by [`jauge_chart`] as inline SVG, with
//! the style inline and no script.

use jauge_chart::{draw, Chart};
use plotters::prelude::*;

use super::page::{Block, Page, Plot, Section, SIMULATED_NOTICE};
use crate::table::escape;

/// The size of one chart, pixels (it shrinks with the page).
const CHART_SIZE: (u32, u32) = (480, 300);

/// The page as HTML.
pub(super) fn page(page: &Page) -> String {
    let title = escape(&page.title);
    let mut h = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>{CSS}</style></head><body>\n<h1>{title}</h1>\n"
    );
    if page.simulated {
        h.push_str(&format!(
            "<p class=\"sim\"><strong>SIMULATED</strong>: {}</p>\n",
            escape(SIMULATED_NOTICE)
        ));
    }
    for section in &page.sections {
        write_section(&mut h, section, 2);
    }
    h.push_str(&format!(
        "<footer>{}</footer></body></html>\n",
        escape(page.footer)
    ));
    h
}

/// A section, in `<section>` at the comparisons' level and `<article>` at the deployments'.
fn write_section(h: &mut String, section: &Section, level: usize) {
    let wrapper = match level {
        2 => Some("section"),
        3 => Some("article"),
        _ => None,
    };
    if let Some(tag) = wrapper {
        h.push_str(&format!("<{tag}>"));
    }
    h.push_str(&format!(
        "<h{level}>{}</h{level}>\n",
        escape(&section.heading)
    ));
    for block in &section.blocks {
        match block {
            Block::Paragraph(text) => h.push_str(&format!("<p>{}</p>\n", escape(text))),
            Block::List(items) => {
                h.push_str("<ul>");
                for item in items {
                    h.push_str(&format!("<li>{}</li>", escape(item)));
                }
                h.push_str("</ul>\n");
            }
            Block::Table { caption, table } => h.push_str(&format!(
                "<figure><figcaption>{}</figcaption>{}</figure>\n",
                escape(caption),
                table.html()
            )),
            Block::Charts(plots) if plots.is_empty() => {}
            Block::Charts(plots) => {
                h.push_str("<div class=\"charts\">");
                for plot in plots {
                    h.push_str(&chart(plot));
                }
                h.push_str("</div>\n");
            }
        }
    }
    for child in &section.sections {
        write_section(h, child, level + 1);
    }
    if let Some(tag) = wrapper {
        h.push_str(&format!("</{tag}>\n"));
    }
}

/// One chart as inline SVG with its caption; the caption alone, and why, when there is
/// nothing to draw.
fn chart(plot: &Plot) -> String {
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, CHART_SIZE).into_drawing_area();
        draw(
            &root,
            &Chart {
                metric: plot.metric,
                lines: &plot.lines,
                caption: true,
                legend: true,
            },
        )
    };
    let caption = escape(&plot.caption);
    match drawn {
        Ok(_) => {
            format!("<figure class=\"chart\">{svg}<figcaption>{caption}</figcaption></figure>")
        }
        Err(why) => format!(
            "<figure class=\"chart empty\"><figcaption>{}; {caption}</figcaption></figure>",
            escape(&why)
        ),
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}\
th{background:#f3f3f3}.num{text-align:right}.table{overflow-x:auto}\
.sim{background:#fff4d6;border:1px solid #e0b040;padding:.5em 1em}.charts{display:flex;flex-wrap:wrap;gap:.5em}\
figure{margin:0 0 1em}figcaption{color:#555;font-size:.85em}.chart figcaption{text-align:center}\
.empty{border:1px dashed #ccc;padding:1em;width:440px}svg{max-width:100%;height:auto}\
footer{margin-top:3em;color:#666;font-size:.85em}";
