//! The report as one self-contained HTML page (feature `html`): four charts
//! of the run over time — requests served per model, queue depth, throttles
//! seen by the models, latency p50 / p99 — each for the naive client and the
//! palisade stack side by side on the same axes, with the models' outage
//! windows shaded, then the report's table.
//!
//! The page loads nothing: no script, no stylesheet, no font, no image, no
//! URL at all. The charts are inline SVG drawn by `plotters`.
//!
//! ```
//! use palisade_sim::{NoProgress, Scenario, simulate};
//!
//! let scenario = Scenario::from_toml_str(
//!     r#"
//!     duration = "5m"
//!     clients = 20
//!     [[models]]
//!     id = "sim/primary"
//!     quota = { rpm = 15, tpm = 100000 }
//!     failures = { outages = [{ from = "1m", to = "2m" }] }
//!     "#,
//!     "example",
//! )
//! .unwrap();
//! let report = simulate(&scenario, &NoProgress).unwrap();
//! let page = palisade_sim::html::render(&report).unwrap();
//! assert!(page.contains(r#"<svg id="chart-served-palisade""#));
//! assert!(page.contains(r#"class="outage""#));
//! ```
//!
//! Element ids, for scripts and tests: each chart is
//! `<svg id="chart-{kind}-{system}">` with `kind` one of `served`, `queue`,
//! `throttles`, `latency` and `system` one of `naive`, `palisade`; inside
//! it each series is `<g class="series" id="chart-{kind}-{system}-{key}">`
//! (`key`: the model's index for `served`, `depth`, `throttles`, `p50`,
//! `p99`) and each outage window `<g class="outage">`.

mod chart;
mod series;

use std::fmt::Write as _;

use thiserror::Error;

use crate::report::{SimulationReport, SystemReport};
use crate::simulation::{NAIVE, PALISADE};
use crate::table::{render_table, seconds, thousands};
use chart::Chart;
use series::{ChartKind, Series, Shade, span_min};

/// A chart could not be drawn.
#[derive(Debug, Error)]
#[error("cannot draw the chart `{chart}`: {message}")]
pub struct HtmlError {
    /// The chart's element id (`chart-served-naive`).
    pub chart: String,
    /// What went wrong.
    pub message: String,
}

/// The page's stylesheet, inline.
const STYLE: &str = include_str!("report.css");

/// The whole report as one HTML page.
///
/// The same report gives the same bytes.
pub fn render(report: &SimulationReport) -> Result<String, HtmlError> {
    let scenario = &report.scenario;
    let models = &scenario.models;
    let outages = series::outages(models);
    let systems = [
        (NAIVE, "naive client", &report.naive),
        (PALISADE, "palisade stack", &report.palisade),
    ];
    let x_max = systems
        .iter()
        .map(|(_, _, s)| span_min(&s.timeline))
        .fold(scenario.duration_s / 60.0, f64::max);

    let mut page = String::new();
    let name = escape(&scenario.name);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Palisade simulation: {name}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <header>\n<h1>Palisade simulation report</h1>\n\
         <p>Scenario <strong id=\"scenario-name\">{name}</strong> (seed {seed}): {minutes} min \
         simulated, {clients}{requests} requests offered to both systems.</p>\n",
        seed = scenario.seed,
        minutes = round1(scenario.duration_s / 60.0),
        // A recorded trace has no clients.
        clients = if scenario.clients > 0 {
            format!("{} clients, ", thousands(u64::from(scenario.clients)))
        } else {
            String::new()
        },
        requests = thousands(scenario.requests),
    );
    page.push_str(&summary_table(report));
    page.push_str("</header>\n");

    for kind in ChartKind::ALL {
        let all: Vec<Vec<Series>> = systems
            .iter()
            .map(|(_, _, s)| kind.series(&s.timeline, models))
            .collect();
        let y_max = all
            .iter()
            .flatten()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0, f64::max);
        let _ = write!(
            page,
            "<section class=\"chart-row\" id=\"{key}\">\n<h2>{title}</h2>\n<p class=\"caption\">{caption}</p>\n",
            key = kind.key(),
            title = kind.title(),
            caption = kind.caption(),
        );
        page.push_str(&legend(
            all.first().map_or(&[][..], Vec::as_slice),
            &outages,
            report,
        ));
        page.push_str("<div class=\"columns\">\n");
        for ((system, label, _), series) in systems.iter().zip(&all) {
            let chart = Chart {
                id: format!("chart-{}-{system}", kind.key()),
                title: format!("{}: {label}", kind.title()),
                unit: kind.unit(),
                x_max,
                y_max,
                series,
                outages: &outages,
            };
            let _ = write!(
                page,
                "<figure>\n<figcaption>{label}</figcaption>\n{}</figure>\n",
                chart.to_svg()?
            );
        }
        page.push_str("</div>\n</section>\n");
    }

    let _ = write!(
        page,
        "<section id=\"table\">\n<h2>The report</h2>\n<pre>{}</pre>\n</section>\n\
         <footer>Made by <code>palisade simulate --html</code>. Every figure is simulated \
         (virtual time); the same scenario and seed give the same page.</footer>\n\
         </body>\n</html>\n",
        escape(&render_table(report))
    );
    Ok(page)
}

/// The headline figures of both systems.
fn summary_table(report: &SimulationReport) -> String {
    let row = |name: &str, f: &dyn Fn(&SystemReport) -> String| {
        format!(
            "<tr><th scope=\"row\">{name}</th><td>{}</td><td>{}</td></tr>\n",
            f(&report.naive),
            f(&report.palisade)
        )
    };
    let mut t = String::from(
        "<table class=\"summary\">\n<tr><th></th><th scope=\"col\">naive client</th>\
         <th scope=\"col\">palisade stack</th></tr>\n",
    );
    t.push_str(&row("completed", &|s| {
        format!("{} ({:.2}%)", thousands(s.completed), s.completed_pct)
    }));
    t.push_str(&row("failed", &|s| thousands(s.failed)));
    t.push_str(&row("throttles seen by the models", &|s| {
        thousands(s.throttles_seen_by_provider)
    }));
    t.push_str(&row("throttles surfaced to callers", &|s| {
        thousands(s.throttles_surfaced)
    }));
    t.push_str(&row("latency p50 / p99", &|s| {
        format!(
            "{} / {}",
            seconds(s.latency_ms.p50),
            seconds(s.latency_ms.p99)
        )
    }));
    t.push_str(&row("goodput (tokens/min)", &|s| {
        // Rounded to whole tokens by the report.
        thousands(s.goodput_tokens_per_min as u64)
    }));
    t.push_str("</table>\n");
    t
}

/// The legend of a row of charts: its series, then the outage windows.
fn legend(series: &[Series], outages: &[Shade], report: &SimulationReport) -> String {
    let mut out = String::from("<ul class=\"legend\">\n");
    for s in series {
        let (r, g, b) = s.colour;
        let _ = writeln!(
            out,
            "<li><span class=\"swatch\" style=\"background:#{r:02x}{g:02x}{b:02x}\"></span>{}</li>",
            escape(&s.label)
        );
    }
    for o in outages {
        let model = report
            .scenario
            .models
            .get(o.model)
            .map_or("?", |m| m.id.as_str());
        let _ = writeln!(
            out,
            "<li><span class=\"swatch outage\"></span>outage of {} ({}–{} min)</li>",
            escape(model),
            round1(o.from_min),
            round1(o.to_min)
        );
    }
    out.push_str("</ul>\n");
    out
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `text` safe inside an element or a quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoProgress, Scenario, simulate};

    fn page_of(toml: &str) -> String {
        let scenario = Scenario::from_toml_str(toml, "test").unwrap();
        render(&simulate(&scenario, &NoProgress).unwrap()).unwrap()
    }

    const TWO_MODELS: &str = r#"
        name = "t <&>"
        duration = "6m"
        clients = 40
        [[models]]
        id = "sim/primary"
        quota = { rpm = 10, tpm = 100000 }
        failures = { outages = [{ from = "2m", to = "3m" }] }
        [[models]]
        id = "sim/fallback"
        quota = { rpm = 10, tpm = 100000 }
    "#;

    #[test]
    fn every_chart_is_there_for_both_systems_with_its_series() {
        let page = page_of(TWO_MODELS);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<title>Palisade simulation: t &lt;&amp;&gt;</title>"));
        for system in ["naive", "palisade"] {
            for (kind, keys) in [
                ("served", &["0", "1"][..]),
                ("queue", &["depth"][..]),
                ("throttles", &["throttles"][..]),
                ("latency", &["p50", "p99"][..]),
            ] {
                let id = format!("chart-{kind}-{system}");
                assert!(page.contains(&format!("<svg id=\"{id}\"")), "{id}");
                for key in keys {
                    let group = format!("<g id=\"{id}-{key}\" class=\"series\">\n<polyline");
                    assert!(page.contains(&group), "{group}");
                }
            }
        }
        // The legend names the models.
        assert!(page.contains("</span>sim/fallback</li>"));
        assert_eq!(page.matches("<svg id=").count(), 8);
    }

    #[test]
    fn an_outage_is_shaded_in_every_chart_and_named_in_the_legend() {
        let page = page_of(TWO_MODELS);
        assert_eq!(page.matches("class=\"outage\"").count(), 8);
        assert!(page.contains("outage of sim/primary (2–3 min)"));
        let calm = page_of("duration = \"2m\"\nclients = 5\n[[models]]\nid = \"sim/a\"\n");
        assert!(!calm.contains("class=\"outage\""));
        assert!(!calm.contains("outage of"));
    }

    #[test]
    fn the_page_names_no_url_and_loads_nothing() {
        let page = page_of(TWO_MODELS);
        for needle in [
            "http://", "https://", "<script", "<link", "<img", "@import", "url(",
        ] {
            assert!(!page.contains(needle), "the page holds {needle:?}");
        }
    }

    #[test]
    fn the_same_report_gives_the_same_page() {
        assert_eq!(page_of(TWO_MODELS), page_of(TWO_MODELS));
    }
}
