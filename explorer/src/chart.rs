//! Drawing a metric against concurrency (log-2 axis) on a canvas with plotters, and finding the
//! point under the pointer.

use plotters::prelude::*;
use plotters_canvas::CanvasBackend;

use crate::measure::{Metric, Series};

/// Where each drawn point landed, in canvas pixels, with its exact value for the hover line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// (x, y, text) per point.
    pub points: Vec<(f64, f64, String)>,
}

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

/// Draws the chart; simulated series dashed.
///
/// # Errors
/// When the canvas has no 2D context or plotters fails.
pub fn draw(
    canvas: &web_sys::HtmlCanvasElement,
    metric: Metric,
    series: &[Series],
) -> Result<Layout, String> {
    let backend =
        CanvasBackend::with_canvas_object(canvas.clone()).ok_or("the canvas has no 2D context")?;
    let root = backend.into_drawing_area();
    let fail = |e: &dyn std::fmt::Debug| format!("drawing {}: {e:?}", metric.title());
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let all = series.iter().flat_map(|s| s.points.iter());
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max).max(2.0);
    let y_max = all.map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d((1.0..x_max * 1.2).log_scale().base(2.0), 0.0..y_max)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("concurrency (users, log scale)")
        .y_desc(metric.unit())
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| fail(&e))?;
    let mut layout = Layout::default();
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let style = colour.stroke_width(2);
        let points = s.points.clone();
        let drawn = if s.simulated {
            chart.draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))
        } else {
            chart.draw_series(LineSeries::new(points.clone(), style))
        }
        .map_err(|e| fail(&e))?;
        drawn.label(s.label.clone()).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
        });
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())))
            .map_err(|e| fail(&e))?;
        for (x, y) in &points {
            let (px, py) = chart.backend_coord(&(*x, *y));
            layout.points.push((
                f64::from(px),
                f64::from(py),
                format!("{}: {x:.0} users → {y:.2} {}", s.label, metric.unit()),
            ));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(layout)
}

/// The text of the drawn point nearest to (x, y) in canvas pixels, within 24 pixels.
pub fn nearest(layout: &Layout, x: f64, y: f64) -> Option<String> {
    layout
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

    #[test]
    fn the_nearest_point_within_reach_is_chosen() {
        let layout = Layout {
            points: vec![(10.0, 10.0, "a".into()), (50.0, 50.0, "b".into())],
        };
        assert_eq!(nearest(&layout, 45.0, 48.0).as_deref(), Some("b"));
        assert_eq!(nearest(&layout, 200.0, 200.0), None);
    }
}
