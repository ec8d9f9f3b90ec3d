//! One chart as an inline `<svg>`, drawn by plotters' SVG backend.
//!
//! plotters writes a flat list of shapes, with no way to say which shapes
//! are one series. So the chart is drawn in passes over the same frame (the
//! same size, margins and axis ranges, hence the same coordinates): the
//! axes and grid once, then each outage window, then each series on its
//! own. Each pass's shapes are wrapped in a `<g>` with an id and a class,
//! so a test (or a reader's stylesheet) can find every series; the shapes
//! themselves are all plotters'.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::HtmlError;
use super::series::{Rgb, Series, Shade};

/// Pixel size of one chart.
pub(crate) const SIZE: (u32, u32) = (570, 250);

/// The shade of an outage window: a light red, see-through so the grid and
/// the lines stay visible.
const OUTAGE: RGBAColor = RGBAColor(214, 39, 40, 0.12);

/// What to draw.
#[derive(Debug)]
pub(crate) struct Chart<'a> {
    /// The `<svg>` element's id.
    pub(crate) id: String,
    /// What the chart shows, for screen readers.
    pub(crate) title: String,
    /// The vertical axis' description.
    pub(crate) unit: &'a str,
    /// Minutes on the horizontal axis.
    pub(crate) x_max: f64,
    /// Top of the vertical axis (shared by the charts compared side by side).
    pub(crate) y_max: f64,
    pub(crate) series: &'a [Series],
    pub(crate) outages: &'a [Shade],
}

type Coords = Cartesian2d<RangedCoordf64, RangedCoordf64>;
type DrawError = DrawingAreaErrorKind<std::io::Error>;

impl Chart<'_> {
    /// The chart as one `<svg>` element.
    pub(crate) fn to_svg(&self) -> Result<String, HtmlError> {
        let fail = |part: &str, e: DrawError| HtmlError {
            chart: self.id.clone(),
            message: format!("{part}: {e}"),
        };
        let frame = self.pass(true, |_| Ok(())).map_err(|e| fail("axes", e))?;
        let mut svg = open_tag(&frame, &self.id, &self.title);
        svg.push_str(body(&frame));
        for (n, shade) in self.outages.iter().enumerate() {
            let shapes = self
                .pass(false, |chart| {
                    let top = self.y_range().end;
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(shade.from_min, 0.0), (shade.to_min, top)],
                        OUTAGE.filled(),
                    )))?;
                    Ok(())
                })
                .map_err(|e| fail("outage", e))?;
            group(
                &mut svg,
                &format!("{}-outage-{n}", self.id),
                "outage",
                &shapes,
            );
        }
        for series in self.series {
            let shapes = self
                .pass(false, |chart| {
                    chart.draw_series(LineSeries::new(
                        series.points.iter().copied(),
                        ShapeStyle {
                            color: rgb(series.colour).to_rgba(),
                            filled: false,
                            stroke_width: 2,
                        },
                    ))?;
                    Ok(())
                })
                .map_err(|e| fail(&series.label, e))?;
            group(
                &mut svg,
                &format!("{}-{}", self.id, series.key),
                "series",
                &shapes,
            );
        }
        svg.push_str("</svg>\n");
        Ok(svg)
    }

    fn y_range(&self) -> Range<f64> {
        // Headroom above the highest point, and a visible axis when every
        // value is zero.
        let top = if self.y_max > 0.0 {
            self.y_max * 1.05
        } else {
            1.0
        };
        0.0..top
    }

    /// One pass: a whole SVG document holding what `draw` drew on the
    /// frame, and the axes and grid when `axes` is set.
    fn pass(
        &self,
        axes: bool,
        draw: impl FnOnce(&mut ChartContext<'_, SVGBackend<'_>, Coords>) -> Result<(), DrawError>,
    ) -> Result<String, DrawError> {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
            let mut chart = self.frame(&root)?;
            if axes {
                root.fill(&WHITE)?;
                let y_label = |v: &f64| short_number(*v);
                chart
                    .configure_mesh()
                    .x_desc("minutes since the start")
                    .y_desc(self.unit)
                    .x_labels(8)
                    .y_labels(6)
                    .max_light_lines(2)
                    .y_label_formatter(&y_label)
                    .x_label_formatter(&|v| format!("{v:.0}"))
                    .light_line_style(RGBColor(235, 235, 235))
                    .bold_line_style(RGBColor(210, 210, 210))
                    .label_style(("sans-serif", 12))
                    .axis_desc_style(("sans-serif", 12))
                    .draw()?;
            }
            draw(&mut chart)?;
            root.present()?;
        }
        Ok(out)
    }

    fn frame<'a, 'b>(
        &self,
        root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    ) -> Result<ChartContext<'a, SVGBackend<'b>, Coords>, DrawError> {
        ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..self.x_max.max(1.0), self.y_range())
    }
}

fn rgb((r, g, b): Rgb) -> RGBColor {
    RGBColor(r, g, b)
}

/// `1234.5` as `1.2k`, `12` as `12`, `0.25` as `0.25`: axis labels stay
/// short.
fn short_number(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 1_000.0 {
        format!("{:.1}k", v / 1e3)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The `<svg ...>` start tag plotters wrote, with the chart's id, a class,
/// an accessible name, and without the `xmlns` (inline SVG in HTML needs
/// none, and the page then names no URL at all).
fn open_tag(document: &str, id: &str, title: &str) -> String {
    let start = document.find('<').unwrap_or(0);
    let end = document[start..]
        .find('>')
        .map_or(document.len(), |i| start + i);
    let attributes = document[start..end]
        .trim_start_matches("<svg")
        .replace(" xmlns=\"http://www.w3.org/2000/svg\"", "");
    format!(
        "<svg id=\"{}\" class=\"chart\" role=\"img\" aria-label=\"{}\"{attributes}>\n",
        super::escape(id),
        super::escape(title)
    )
}

/// The shapes of a plotters document, without its `<svg>` start and end
/// tags.
fn body(document: &str) -> &str {
    let start = document.find(">\n").map_or(0, |i| i + 2);
    let end = document.rfind("</svg>").unwrap_or(document.len());
    document.get(start..end.max(start)).unwrap_or("")
}

fn group(svg: &mut String, id: &str, class: &str, document: &str) {
    svg.push_str(&format!(
        "<g id=\"{}\" class=\"{class}\">\n",
        super::escape(id)
    ));
    svg.push_str(body(document));
    svg.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart<'a>(series: &'a [Series], outages: &'a [Shade]) -> Chart<'a> {
        Chart {
            id: "chart-t".into(),
            title: "t".into(),
            unit: "u",
            x_max: 10.0,
            y_max: 5.0,
            series,
            outages,
        }
    }

    #[test]
    fn each_series_and_outage_is_a_group_of_plotters_shapes() {
        let series = [Series {
            key: "a".into(),
            label: "a".into(),
            colour: (1, 2, 3),
            points: vec![(0.0, 1.0), (5.0, 4.0), (10.0, 2.0)],
        }];
        let outages = [Shade {
            model: 0,
            from_min: 2.0,
            to_min: 4.0,
        }];
        let svg = chart(&series, &outages).to_svg().unwrap();
        assert!(
            svg.starts_with("<svg id=\"chart-t\" class=\"chart\""),
            "{svg}"
        );
        assert!(!svg.contains("xmlns"));
        let line = svg
            .split("<g id=\"chart-t-a\" class=\"series\">\n")
            .nth(1)
            .unwrap();
        assert!(line.starts_with("<polyline"), "{line}");
        assert!(line.contains("stroke=\"#010203\""), "{line}");
        let shade = svg
            .split("<g id=\"chart-t-outage-0\" class=\"outage\">\n")
            .nth(1)
            .unwrap();
        assert!(shade.starts_with("<rect"), "{shade}");
        // One document: one start tag, one end tag.
        assert_eq!(svg.matches("<svg").count(), 1);
        assert_eq!(svg.matches("</svg>").count(), 1);
    }

    #[test]
    fn an_empty_chart_still_has_axes() {
        let svg = chart(&[], &[]).to_svg().unwrap();
        assert!(svg.contains("minutes since the start"));
    }

    #[test]
    fn axis_labels_are_short() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(42.4), "42");
        assert_eq!(short_number(1_234.0), "1.2k");
        assert_eq!(short_number(144_959.0), "145k");
    }
}
