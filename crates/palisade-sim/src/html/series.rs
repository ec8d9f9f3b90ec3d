//! What each chart of the HTML report shows: the series a system's
//! [`Timeline`] yields for it, as points in minutes since the start of the
//! run, and the outage windows to shade.
//!
//! Counts are turned into rates per minute, so a chart reads the same
//! whatever the width of the timeline's intervals.

use crate::percentiles::LatencySummary;
use crate::report::ModelSummary;
use crate::timeline::{Interval, Timeline};

/// A colour, as red, green, blue.
pub(crate) type Rgb = (u8, u8, u8);

/// The colours of successive series (Tableau 10: distinct, and readable by
/// most colour-blind readers).
const PALETTE: [Rgb; 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The colour of series number `index` of a chart.
pub(crate) fn colour(index: usize) -> Rgb {
    PALETTE[index % PALETTE.len()]
}

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// Unique within its chart; part of the element id (`served-naive-0`).
    pub(crate) key: String,
    /// What the legend calls it.
    pub(crate) label: String,
    pub(crate) colour: Rgb,
    /// (minutes since the start, value).
    pub(crate) points: Vec<(f64, f64)>,
}

/// The four charts of a system, in the page's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChartKind {
    /// Requests answered per minute, one series per model.
    Served,
    /// The deepest queue outside the models, per interval.
    QueueDepth,
    /// Calls the models refused for quota, per minute.
    Throttles,
    /// Latency p50 and p99 of the requests answered in each interval.
    Latency,
}

impl ChartKind {
    /// Every chart, in the page's order.
    pub(crate) const ALL: [ChartKind; 4] = [
        ChartKind::Served,
        ChartKind::QueueDepth,
        ChartKind::Throttles,
        ChartKind::Latency,
    ];

    /// Part of the chart's element id (`chart-served-naive`).
    pub(crate) fn key(self) -> &'static str {
        match self {
            ChartKind::Served => "served",
            ChartKind::QueueDepth => "queue",
            ChartKind::Throttles => "throttles",
            ChartKind::Latency => "latency",
        }
    }

    /// The chart's heading.
    pub(crate) fn title(self) -> &'static str {
        match self {
            ChartKind::Served => "Requests served per model",
            ChartKind::QueueDepth => "Queue depth",
            ChartKind::Throttles => "Throttles seen by the models",
            ChartKind::Latency => "Latency percentiles",
        }
    }

    /// The vertical axis' description.
    pub(crate) fn unit(self) -> &'static str {
        match self {
            ChartKind::Served => "requests / min",
            ChartKind::QueueDepth => "requests waiting (max)",
            ChartKind::Throttles => "refused calls / min",
            ChartKind::Latency => "seconds",
        }
    }

    /// What the chart says, in a sentence under its heading.
    pub(crate) fn caption(self) -> &'static str {
        match self {
            ChartKind::Served => "Requests answered by each model, per minute.",
            ChartKind::QueueDepth => {
                "The most requests waiting outside every model at once \
                 (limiter queues, retry backoff, breaker waits) in each interval."
            }
            ChartKind::Throttles => {
                "Calls the models refused for quota (RPM or TPM), per minute, \
                 whether or not the caller saw the error."
            }
            ChartKind::Latency => {
                "End-to-end latency (arrival to answer) of the requests answered \
                 in each interval."
            }
        }
    }

    /// The chart's series for one system's `timeline`.
    pub(crate) fn series(self, timeline: &Timeline, models: &[ModelSummary]) -> Vec<Series> {
        let per_min = per_minute(timeline);
        match self {
            ChartKind::Served => models
                .iter()
                .enumerate()
                .map(|(m, model)| Series {
                    key: m.to_string(),
                    label: model.id.clone(),
                    colour: colour(m),
                    points: points(timeline, |i| {
                        Some(i.served.get(m).copied().unwrap_or(0) as f64 * per_min)
                    }),
                })
                .collect(),
            ChartKind::QueueDepth => vec![Series {
                key: "depth".into(),
                label: "requests waiting".into(),
                colour: colour(4),
                points: points(timeline, |i| Some(i.max_queue_depth as f64)),
            }],
            ChartKind::Throttles => vec![Series {
                key: "throttles".into(),
                label: "calls refused for quota".into(),
                colour: colour(3),
                points: points(timeline, |i| Some(i.throttles as f64 * per_min)),
            }],
            ChartKind::Latency => {
                let quantiles: [(&str, usize, Quantile); 2] =
                    [("p50", 0, |l| l.p50), ("p99", 1, |l| l.p99)];
                quantiles
                    .into_iter()
                    .map(|(name, c, quantile)| Series {
                        key: name.into(),
                        label: format!("latency {name}"),
                        colour: colour(c),
                        // An interval that answered nothing has no latency:
                        // no point, rather than a false zero.
                        points: points(timeline, |i| {
                            answered(i).then(|| quantile(&i.latency_ms) / 1e3)
                        }),
                    })
                    .collect()
            }
        }
    }
}

/// Picks one percentile of a summary.
type Quantile = fn(&LatencySummary) -> f64;

/// Whether the interval answered any request.
fn answered(interval: &Interval) -> bool {
    interval.served.iter().any(|n| *n > 0)
}

/// The factor from a count per interval to a rate per minute.
fn per_minute(timeline: &Timeline) -> f64 {
    if timeline.interval_s > 0.0 {
        60.0 / timeline.interval_s
    } else {
        0.0
    }
}

/// One point per interval, at its middle, where `value` has one.
fn points(timeline: &Timeline, value: impl Fn(&Interval) -> Option<f64>) -> Vec<(f64, f64)> {
    let half = timeline.interval_s / 2.0;
    timeline
        .intervals
        .iter()
        .filter_map(|i| value(i).map(|v| ((i.start_s + half) / 60.0, v)))
        .collect()
}

/// Minutes the timeline covers.
pub(crate) fn span_min(timeline: &Timeline) -> f64 {
    timeline.intervals.len() as f64 * timeline.interval_s / 60.0
}

/// A shaded span: a model's outage, in minutes since the start.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shade {
    /// Index of the model in the scenario.
    pub(crate) model: usize,
    pub(crate) from_min: f64,
    pub(crate) to_min: f64,
}

/// Every model's outage windows.
pub(crate) fn outages(models: &[ModelSummary]) -> Vec<Shade> {
    models
        .iter()
        .enumerate()
        .flat_map(|(m, model)| {
            model.outages.iter().map(move |w| Shade {
                model: m,
                from_min: w.from.as_secs_f64() / 60.0,
                to_min: w.to.as_secs_f64() / 60.0,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::failure::Window;

    fn interval(start_s: f64, served: Vec<u64>, throttles: u64, p99: f64) -> Interval {
        Interval {
            start_s,
            served,
            failed: 0,
            throttles,
            max_queue_depth: 3,
            latency_ms: LatencySummary {
                p50: p99 / 2.0,
                p99,
                ..LatencySummary::default()
            },
        }
    }

    fn model(id: &str, outages: Vec<Window>) -> ModelSummary {
        ModelSummary {
            id: id.into(),
            rpm: None,
            tpm: None,
            itpm: None,
            otpm: None,
            output_burndown: 1.0,
            max_requests_per_min: None,
            outages,
        }
    }

    #[test]
    fn counts_become_rates_per_minute_at_the_middle_of_each_interval() {
        let timeline = Timeline {
            interval_s: 20.0,
            intervals: vec![
                interval(0.0, vec![2, 1], 4, 3_000.0),
                interval(20.0, vec![0, 0], 0, 0.0),
            ],
        };
        let models = [model("a", vec![]), model("b", vec![])];
        let served = ChartKind::Served.series(&timeline, &models);
        assert_eq!(served.len(), 2);
        assert_eq!(served[0].label, "a");
        // 2 answers in 20 s: 6 a minute, plotted at 10 s = 1/6 min.
        assert_eq!(served[0].points[0], (10.0 / 60.0, 6.0));
        assert_eq!(served[1].points[1], (30.0 / 60.0, 0.0));
        let throttles = ChartKind::Throttles.series(&timeline, &models);
        assert_eq!(throttles[0].points[0].1, 12.0);
        // The quiet interval has no latency point.
        let latency = ChartKind::Latency.series(&timeline, &models);
        assert_eq!(latency[1].points, vec![(10.0 / 60.0, 3.0)]);
        assert_eq!(latency[0].points, vec![(10.0 / 60.0, 1.5)]);
        assert_eq!(span_min(&timeline), 40.0 / 60.0);
    }

    #[test]
    fn outages_are_in_minutes_per_model() {
        let min = |m: u64| Duration::from_secs(60 * m);
        let models = [
            model("a", vec![]),
            model(
                "b",
                vec![Window {
                    from: min(20),
                    to: min(30),
                }],
            ),
        ];
        assert_eq!(
            outages(&models),
            vec![Shade {
                model: 1,
                from_min: 20.0,
                to_min: 30.0
            }]
        );
    }
}
