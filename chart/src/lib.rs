//! The line chart every surface draws: one [`Metric`] against simultaneous users (log-2 axis),
//! a line per series, simulated series dashed. It is written once over plotters'
//! [`DrawingBackend`], so the site's canvas and the report's SVG draw the same chart.
//!
//! ```
//! use jauge::metric::Metric;
//! use jauge_chart::{draw, Chart, Line};
//! use plotters::prelude::*;
//! let lines = [Line { label: "prompt 512".into(), points: vec![(1.0, 40.0), (4.0, 150.0)], simulated: false }];
//! let mut svg = String::new();
//! {
//!     let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
//!     let drawn = draw(&root, &Chart { metric: Metric::OutputTokS, lines: &lines, caption: true, legend: true })?;
//!     assert_eq!(drawn.points.len(), 2);
//! }
//! assert!(svg.contains("Output tokens per second, all users"));
//! # Ok::<(), String>(())
//! ```

use jauge::metric::Metric;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One series: a label and its (users, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// (simultaneous users, value), by users.
    pub points: Vec<(f64, f64)>,
    /// Not a measurement: drawn dashed.
    pub simulated: bool,
}

impl Line {
    /// The line of `metric` for the steps of one prompt size: (users, value) for each step
    /// that holds the figure, by users.
    ///
    /// ```
    /// use jauge::metric::Metric;
    /// let d = jauge::dataset::example();
    /// let line = jauge_chart::Line::of_steps(Metric::OutputTokS, &d.steps, 1024, "prompt 1024".into(), false);
    /// assert_eq!(line.points, [(1.0, 80.0), (8.0, 520.0)]);
    /// ```
    pub fn of_steps<'s>(
        metric: Metric,
        steps: impl IntoIterator<Item = &'s jauge::dataset::Step>,
        prompt_tokens: u32,
        label: String,
        simulated: bool,
    ) -> Line {
        let mut points: Vec<(f64, f64)> = steps
            .into_iter()
            .filter(|s| s.prompt_tokens == prompt_tokens)
            .filter_map(|s| metric.value(s).map(|v| (f64::from(s.concurrency), v)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Line {
            label,
            points,
            simulated,
        }
    }
}

/// What to draw.
#[derive(Debug, Clone, Copy)]
pub struct Chart<'a> {
    /// The metric on the y axis (its unit, and how hover values are printed).
    pub metric: Metric,
    /// The series.
    pub lines: &'a [Line],
    /// Whether the metric's title is drawn above the chart (the report's stand-alone SVGs);
    /// the site titles its charts in the page.
    pub caption: bool,
    /// Whether the lines' labels are drawn in a legend on the chart (the site lists them as
    /// text beside it instead, for screen readers and tests).
    pub legend: bool,
}

/// Where each point landed on the backend, for the hover text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Drawn {
    /// (x, y, text) per point, in backend pixels.
    pub points: Vec<(f64, f64, String)>,
}

/// Tableau's ten, the first eight: distinct on screen and in print.
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Draws `chart` on `root`.
///
/// # Errors
/// When there is nothing to draw (no point, or no finite value), or the backend fails; the
/// text says which.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart<'_>,
) -> Result<Drawn, String> {
    let metric = chart.metric;
    let fail = |e: &dyn std::fmt::Debug| format!("drawing {}: {e:?}", metric.title());
    let all = chart.lines.iter().flat_map(|l| l.points.iter());
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max).max(2.0);
    let y_max = all.map(|p| p.1).fold(f64::NAN, f64::max);
    if !y_max.is_finite() {
        return Err(format!("{}: no data", metric.title()));
    }
    let y_max = if y_max <= 0.0 { 1.0 } else { y_max * 1.1 };
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut builder = ChartBuilder::on(root);
    builder
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60);
    if chart.caption {
        let simulated = chart.lines.iter().all(|l| l.simulated);
        let title = if simulated {
            format!("{} (simulated)", metric.title())
        } else {
            metric.title().to_string()
        };
        builder.caption(title, ("sans-serif", 15));
    }
    let mut plot = builder
        .build_cartesian_2d((1.0..x_max * 1.2).log_scale().base(2.0), 0.0..y_max)
        .map_err(|e| fail(&e))?;
    plot.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 228, 235))
        .x_desc("simultaneous users (log scale)")
        .y_desc(metric.unit())
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| fail(&e))?;
    let mut drawn = Drawn::default();
    for (i, line) in chart.lines.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let style = colour.stroke_width(2);
        let points = line.points.clone();
        let series = if line.simulated {
            plot.draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))
        } else {
            plot.draw_series(LineSeries::new(points.clone(), style))
        }
        .map_err(|e| fail(&e))?;
        series.label(line.label.clone()).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
        });
        plot.draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())))
            .map_err(|e| fail(&e))?;
        for (x, y) in &points {
            let (px, py) = plot.backend_coord(&(*x, *y));
            drawn.points.push((
                f64::from(px),
                f64::from(py),
                format!(
                    "{}: {x:.0} users → {} {}",
                    line.label,
                    metric.format(*y),
                    metric.unit()
                ),
            ));
        }
    }
    if chart.legend {
        plot.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|e| fail(&e))?;
    }
    root.present().map_err(|e| fail(&e))?;
    Ok(drawn)
}

/// The text of the drawn point nearest to (x, y) in backend pixels, within 24 pixels.
///
/// ```
/// let drawn = jauge_chart::Drawn { points: vec![(10.0, 10.0, "a".into()), (50.0, 50.0, "b".into())] };
/// assert_eq!(jauge_chart::nearest(&drawn, 45.0, 48.0).as_deref(), Some("b"));
/// assert_eq!(jauge_chart::nearest(&drawn, 200.0, 200.0), None);
/// ```
pub fn nearest(drawn: &Drawn, x: f64, y: f64) -> Option<String> {
    drawn
        .points
        .iter()
        .map(|(px, py, text)| ((px - x).powi(2) + (py - y).powi(2), text))
        .filter(|(d, _)| *d <= 24.0 * 24.0)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, text)| text.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg(lines: &[Line]) -> Result<String, String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
            draw(
                &root,
                &Chart {
                    metric: Metric::TtftP95,
                    lines,
                    caption: true,
                    legend: true,
                },
            )?;
        }
        Ok(svg)
    }

    #[test]
    fn a_simulated_chart_says_so_and_dashes_its_lines() {
        let line = |simulated| {
            [Line {
                label: "a".into(),
                points: vec![(1.0, 100.0), (8.0, 900.0)],
                simulated,
            }]
        };
        let (dashed, solid) = (svg(&line(true)).unwrap(), svg(&line(false)).unwrap());
        assert!(dashed.contains("Time to first token, p95 (simulated)"));
        assert!(!solid.contains("(simulated)"));
        // A dash is a segment of its own: the dashed line is drawn in many pieces.
        let pieces = |svg: &str| svg.matches("<polyline").count() + svg.matches("<line").count();
        assert!(
            pieces(&dashed) > pieces(&solid) + 5,
            "{} vs {}",
            pieces(&dashed),
            pieces(&solid)
        );
    }

    #[test]
    fn nothing_to_draw_is_an_error_not_an_empty_picture() {
        assert!(svg(&[]).unwrap_err().ends_with("no data"));
        let nan = [Line {
            label: "a".into(),
            points: vec![(1.0, f64::NAN)],
            simulated: false,
        }];
        assert!(svg(&nan).is_err());
    }
}
