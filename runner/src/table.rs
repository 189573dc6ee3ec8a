//! One table printer for every output: the terminal, Markdown and HTML. A cell that shows a
//! step's figure carries it as data (`data-metric`, `data-value`, the step's prompt and users),
//! so a reader — or a test — can check that every surface shows the same number.

use jauge::dataset::Step;
use jauge::metric::Metric;

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A cell: its text, and attributes that name the figure it shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    /// What is printed.
    pub text: String,
    /// `(name, value)` written as `data-name="value"` in HTML.
    pub data: Vec<(&'static str, String)>,
}

impl Cell {
    /// A cell of plain text.
    pub fn text(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            data: Vec::new(),
        }
    }

    /// A step's figure, printed by [`Metric::show`] and tagged with the metric, the value and
    /// the step it comes from.
    pub fn metric(metric: Metric, step: &Step) -> Cell {
        let mut cell = Cell::figure(metric, metric.value(step));
        cell.data
            .push(("prompt-tokens", step.prompt_tokens.to_string()));
        cell.data
            .push(("concurrency", step.concurrency.to_string()));
        if let Some(rate) = step.rate_rps {
            cell.data.push(("rate-rps", format!("{rate}")));
        }
        cell
    }

    /// A figure that is not one step's (a best over steps, an answer), printed as `metric`
    /// prints its values; `—` when absent.
    pub fn figure(metric: Metric, value: Option<f64>) -> Cell {
        match value {
            Some(v) => Cell {
                text: metric.format(v),
                data: vec![
                    ("metric", metric.slug().to_string()),
                    ("value", metric.format(v)),
                ],
            },
            None => Cell {
                text: "—".to_string(),
                data: vec![("metric", metric.slug().to_string())],
            },
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::text(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::text(text)
    }
}

/// Columns and rows, printed three ways.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new(columns: &[(&str, Align)]) -> Table {
        Table {
            columns: columns.iter().map(|(h, a)| (h.to_string(), *a)).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells print empty, extra ones are dropped).
    pub fn push(&mut self, row: Vec<Cell>) {
        let mut row = row;
        row.resize(self.columns.len(), Cell::default());
        self.rows.push(row);
    }

    /// Whether it has no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// For the terminal: columns padded to their widest cell, two spaces apart, numbers
    /// right-aligned. A table whose headings are all blank is a list of label/value pairs and
    /// prints no heading line.
    pub fn text(&self) -> String {
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| r[c].text.chars().count())
                    .chain([self.columns[c].0.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| {
            let mut out = String::new();
            for (c, cell) in cells.iter().enumerate() {
                let pad = widths[c] - cell.chars().count();
                if c > 0 {
                    out.push_str("  ");
                }
                match self.columns[c].1 {
                    Align::Right => {
                        out.push_str(&" ".repeat(pad));
                        out.push_str(cell);
                    }
                    Align::Left => {
                        out.push_str(cell);
                        if c + 1 < cells.len() {
                            out.push_str(&" ".repeat(pad));
                        }
                    }
                }
            }
            out.push('\n');
            out
        };
        let mut out = if self.columns.iter().all(|(h, _)| h.is_empty()) {
            String::new()
        } else {
            line(self.columns.iter().map(|(h, _)| h.as_str()).collect())
        };
        for row in &self.rows {
            out.push_str(&line(row.iter().map(|c| c.text.as_str()).collect()));
        }
        out
    }

    /// As a Markdown table (`|` in cells escaped).
    pub fn markdown(&self) -> String {
        let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
        let mut out = format!(
            "| {} |\n|{}\n",
            self.columns
                .iter()
                .map(|(h, _)| cell(h))
                .collect::<Vec<_>>()
                .join(" | "),
            self.columns
                .iter()
                .map(|(_, a)| match a {
                    Align::Left => "---|",
                    Align::Right => "---:|",
                })
                .collect::<String>()
        );
        for row in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                row.iter()
                    .map(|c| cell(&c.text))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        out
    }

    /// As an HTML table, every cell's data as `data-*` attributes.
    pub fn html(&self) -> String {
        let mut out = String::from("<div class=\"table\"><table>\n<thead><tr>");
        for (heading, align) in &self.columns {
            out.push_str(&format!("<th{}>{}</th>", class_of(*align), escape(heading)));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for (c, cell) in row.iter().enumerate() {
                let data: String = cell
                    .data
                    .iter()
                    .map(|(k, v)| format!(" data-{k}=\"{}\"", escape(v)))
                    .collect();
                out.push_str(&format!(
                    "<td{}{data}>{}</td>",
                    class_of(self.columns[c].1),
                    escape(&cell.text)
                ));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
        out
    }
}

fn class_of(align: Align) -> &'static str {
    match align {
        Align::Left => "",
        Align::Right => " class=\"num\"",
    }
}

/// Text made safe inside HTML elements and attribute values.
///
/// ```
/// assert_eq!(jauge_runner::table::escape("a < b & \"c\""), "a &lt; b &amp; &quot;c&quot;");
/// ```
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The terminal table of `header` (a heading that starts with a space is a number column)
/// and `rows`: [`Table::text`] for callers that build rows of strings.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns: Vec<(&str, Align)> = header
        .iter()
        .map(|h| match h.strip_prefix(' ') {
            Some(trimmed) => (trimmed.trim(), Align::Right),
            None => (h.trim(), Align::Left),
        })
        .collect();
    let mut table = Table::new(&columns);
    for row in rows {
        table.push(row.iter().map(|t| Cell::text(t.as_str())).collect());
    }
    table.text()
}

pub use jauge::units::thousands;

/// Whether the steps are an open loop's (any has a rate): then a row says its rate, since an
/// open loop's steps at one cap differ only by it.
pub fn any_rate<'a>(steps: impl IntoIterator<Item = &'a Step>) -> bool {
    steps.into_iter().any(|s| s.rate_rps.is_some())
}

/// The columns that say which step a row is: its prompt size, its rate when `open`
/// ([`any_rate`]), and its users — for an open loop, the cap on requests in flight.
pub fn step_columns(open: bool) -> Vec<(&'static str, Align)> {
    let mut columns = vec![("prompt tokens", Align::Right)];
    if open {
        columns.push(("rate req/s", Align::Right));
    }
    columns.push((if open { "in flight cap" } else { "users" }, Align::Right));
    columns
}

/// The cells of [`step_columns`] for one step.
pub fn step_cells(open: bool, step: &Step) -> Vec<Cell> {
    let mut cells = vec![Cell::text(step.prompt_tokens.to_string())];
    if open {
        let all_at_once = step.requests.is_some_and(|r| r.sent == step.concurrency);
        cells.push(Cell::text(match step.rate_rps {
            Some(rate) => format!("{rate}"),
            None if all_at_once => "all at once".into(),
            None => "closed loop".into(),
        }));
    }
    cells.push(Cell::text(step.concurrency.to_string()));
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_headers_print_no_header_line() {
        assert_eq!(render(&["", ""], &[vec!["a".into(), "1".into()]]), "a  1\n");
    }

    #[test]
    fn right_aligned_columns_pad_on_the_left() {
        let out = render(
            &["id", " n"],
            &[vec!["a".into(), "5".into()], vec!["bb".into(), "10".into()]],
        );
        assert_eq!(out, "id   n\na    5\nbb  10\n");
    }

    #[test]
    fn one_table_prints_the_same_cells_three_ways() {
        let step = &jauge::dataset::example().steps[0];
        let mut t = Table::new(&[("users", Align::Right), ("TTFT p95 ms", Align::Right)]);
        t.push(vec![
            Cell::text(step.concurrency.to_string()),
            Cell::metric(Metric::TtftP95, step),
        ]);
        assert_eq!(t.text(), "users  TTFT p95 ms\n    1          204\n");
        assert_eq!(
            t.markdown(),
            "| users | TTFT p95 ms |\n|---:|---:|\n| 1 | 204 |\n"
        );
        let html = t.html();
        assert!(html.contains(
            "<td class=\"num\" data-metric=\"ttft_p95_ms\" data-value=\"204\" data-prompt-tokens=\"1024\" data-concurrency=\"1\">204</td>"
        ), "{html}");
    }

    #[test]
    fn an_absent_figure_prints_a_dash_and_has_no_value() {
        let mut step = jauge::dataset::example().steps[0].clone();
        step.latency.itl_ms = None;
        let cell = Cell::metric(Metric::ItlP95, &step);
        assert_eq!(cell.text, "—");
        assert!(!cell.data.iter().any(|(k, _)| *k == "value"));
    }
}
