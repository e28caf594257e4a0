//! Charts for the dashboard, drawn as inline SVG on the server (the dashboard runs no script):
//! stacked bars and lines over a series of time buckets, a hover title per bucket, an accessible
//! name that says what the chart shows, and a legend. Colours come from style.css classes
//! (`chart-ok`, `chart-bad`, …), which the portal's charts (assets/portal/activity.js) share.

use hookwire_core::activity::Resolution;
use hookwire_core::time_fmt::{Millis, from_millis};

use super::html::esc;
use crate::activity::Series;

const WIDTH: f64 = 380.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 22.0;

/// One stacked bar layer or line: its style class, its legend label, a value per bucket.
pub struct Layer {
    pub class: &'static str,
    pub label: &'static str,
    pub values: Vec<Option<f64>>,
}

/// What a chart draws.
pub struct Chart<'a> {
    pub title: &'a str,
    /// Appended to every value shown (`" ms"`, `"%"`).
    pub unit: &'a str,
    pub resolution: Resolution,
    pub starts: Vec<Millis>,
    pub bars: Vec<Layer>,
    pub lines: Vec<Layer>,
    /// The top of the scale at least (100 for a percentage).
    pub floor_max: f64,
}

/// A bucket's start as an axis label: `14:05` by the minute, `11-23 14h` by the hour (UTC).
fn label(resolution: Resolution, at: Millis) -> String {
    let t = from_millis(at);
    match resolution {
        Resolution::Minute => format!("{:02}:{:02}", t.hour(), t.minute()),
        Resolution::Hour => format!("{:02}-{:02} {:02}h", t.month() as u8, t.day(), t.hour()),
    }
}

/// The smallest 1, 2 or 5 times a power of ten at or above `value`.
fn nice(value: f64) -> f64 {
    if value <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|v| *v >= value).unwrap_or(10.0 * power)
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 || value.abs() >= 100.0 { format!("{value:.0}") } else { format!("{value:.1}") }
}

impl Chart<'_> {
    /// The chart as a `<figure>`: the SVG and its legend.
    pub fn render(&self) -> String {
        let n = self.starts.len().max(1);
        let stacked = |i: usize| self.bars.iter().map(|b| b.values[i].unwrap_or(0.0)).sum::<f64>();
        let line_max = self.lines.iter().flat_map(|l| l.values.iter().flatten().copied()).fold(0.0, f64::max);
        let data_max = (0..self.starts.len()).map(stacked).fold(line_max, f64::max);
        let max = nice(data_max.max(self.floor_max));
        let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        let step = plot_w / n as f64;
        let y = |v: f64| TOP + plot_h - (v / max) * plot_h;
        let mut svg = String::new();
        for fraction in [0.0, 0.5, 1.0] {
            let value = max * fraction;
            svg.push_str(&format!(
                "<line class=\"chart-grid\" x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
                 <text class=\"chart-axis\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{v}{unit}</text>",
                x2 = WIDTH - RIGHT,
                y = y(value),
                tx = LEFT - 6.0,
                ty = y(value) + 4.0,
                v = number(value),
                unit = esc(self.unit),
            ));
        }
        for (i, at) in [0, n / 2, n.saturating_sub(1)].into_iter().filter_map(|i| self.starts.get(i).map(|s| (i, *s))) {
            let anchor = if i == 0 {
                "start"
            } else if i + 1 == n {
                "end"
            } else {
                "middle"
            };
            let x = if i == 0 {
                LEFT
            } else if i + 1 == n {
                WIDTH - RIGHT
            } else {
                LEFT + step * (i as f64 + 0.5)
            };
            svg.push_str(&format!(
                "<text class=\"chart-axis\" x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"{anchor}\">{}</text>",
                label(self.resolution, at),
                ty = HEIGHT - 6.0,
            ));
        }
        for (i, _) in self.starts.iter().enumerate() {
            let mut base = 0.0;
            for layer in &self.bars {
                let value = layer.values[i].unwrap_or(0.0);
                if value > 0.0 {
                    svg.push_str(&format!(
                        "<rect class=\"{class}\" x=\"{x:.2}\" y=\"{top:.2}\" width=\"{w:.2}\" height=\"{h:.2}\"/>",
                        class = layer.class,
                        x = LEFT + step * i as f64 + step * 0.1,
                        top = y(base + value),
                        w = (step * 0.8).max(0.5),
                        h = y(base) - y(base + value),
                    ));
                }
                base += value;
            }
        }
        for layer in &self.lines {
            // Runs of buckets with a value, each one polyline (a lone point: a dot).
            let mut run: Vec<(f64, f64)> = Vec::new();
            let flush = |run: &mut Vec<(f64, f64)>, svg: &mut String| {
                match run.as_slice() {
                    [] => {}
                    [(x, y)] => svg
                        .push_str(&format!("<circle class=\"{}\" r=\"2\" cx=\"{x:.2}\" cy=\"{y:.2}\"/>", layer.class)),
                    points => {
                        let points: Vec<String> = points.iter().map(|(x, y)| format!("{x:.2},{y:.2}")).collect();
                        svg.push_str(&format!("<polyline class=\"{}\" points=\"{}\"/>", layer.class, points.join(" ")));
                    }
                }
                run.clear();
            };
            for (i, value) in layer.values.iter().enumerate() {
                match value {
                    Some(v) => run.push((LEFT + step * (i as f64 + 0.5), y(*v))),
                    None => flush(&mut run, &mut svg),
                }
            }
            flush(&mut run, &mut svg);
        }
        // A hover title per bucket, over the whole height.
        for (i, at) in self.starts.iter().enumerate() {
            let mut parts = vec![label(self.resolution, *at)];
            for layer in self.bars.iter().chain(&self.lines) {
                let shown = layer.values[i].map_or("—".to_owned(), |v| format!("{}{}", number(v), self.unit));
                parts.push(format!("{}: {shown}", layer.label));
            }
            svg.push_str(&format!(
                "<rect class=\"chart-hover\" x=\"{x:.2}\" y=\"{TOP}\" width=\"{step:.2}\" height=\"{plot_h}\"><title>{}</title></rect>",
                esc(&parts.join(" · ")),
                x = LEFT + step * i as f64,
            ));
        }
        let legend: String = self
            .bars
            .iter()
            .chain(&self.lines)
            .map(|l| {
                format!("<span class=\"legend\"><span class=\"swatch {}\"></span>{}</span>", l.class, esc(l.label))
            })
            .collect();
        format!(
            "<figure class=\"chart\"><figcaption>{title}</figcaption>\
             <svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{summary}\">{svg}</svg>\
             <div class=\"chart-legend\">{legend}</div></figure>",
            title = esc(self.title),
            summary = esc(&self.summary()),
        )
    }

    /// What the chart shows, in words (its accessible name).
    fn summary(&self) -> String {
        let mut parts =
            vec![format!("{}, {} buckets, by the {}", self.title, self.starts.len(), self.resolution.name())];
        for layer in &self.bars {
            let total: f64 = layer.values.iter().flatten().sum();
            parts.push(format!("{} {} in all", layer.label, number(total)));
        }
        for layer in &self.lines {
            let max =
                layer.values.iter().flatten().copied().fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
            parts.push(match max {
                Some(max) => format!("{} at most {}{}", layer.label, number(max), self.unit),
                None => format!("{} none", layer.label),
            });
        }
        parts.join("; ")
    }
}

/// The activity charts of a series: attempts (succeeded and failed, stacked), success rate,
/// and latency p50/p99, in one grid with any `more` charts after them.
pub fn activity_charts(series: &Series, more: &str) -> String {
    let starts: Vec<Millis> = series.buckets.iter().map(|b| b.start).collect();
    let each = |f: &dyn Fn(&hookwire_core::activity::Counts) -> Option<f64>| {
        series.buckets.iter().map(|b| f(&b.counts)).collect::<Vec<_>>()
    };
    let attempts = Chart {
        title: "Attempts",
        unit: "",
        resolution: series.resolution,
        starts: starts.clone(),
        bars: vec![
            Layer { class: "chart-ok", label: "Succeeded", values: each(&|c| Some(c.succeeded as f64)) },
            Layer { class: "chart-bad", label: "Failed", values: each(&|c| Some(c.failed as f64)) },
        ],
        lines: vec![],
        floor_max: 1.0,
    };
    let rate = Chart {
        title: "Success rate",
        unit: "%",
        resolution: series.resolution,
        starts: starts.clone(),
        bars: vec![],
        lines: vec![Layer {
            class: "chart-line-ok",
            label: "Success rate",
            values: each(&|c| c.success_rate().map(|r| r * 100.0)),
        }],
        floor_max: 100.0,
    };
    let latency = Chart {
        title: "Latency",
        unit: " ms",
        resolution: series.resolution,
        starts,
        bars: vec![],
        lines: vec![
            Layer { class: "chart-line", label: "p50", values: each(&|c| c.percentile_ms(0.5).map(|v| v as f64)) },
            Layer { class: "chart-line-alt", label: "p99", values: each(&|c| c.percentile_ms(0.99).map(|v| v as f64)) },
        ],
        floor_max: 10.0,
    };
    format!("<div class=\"charts\">{}{}{}{more}</div>", attempts.render(), rate.render(), latency.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_round_numbers() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(3.0), 5.0);
        assert_eq!(nice(100.0), 100.0);
        assert_eq!(nice(101.0), 200.0);
        assert_eq!(nice(0.3), 0.5);
    }

    #[test]
    fn a_chart_names_what_it_shows_and_breaks_lines_at_gaps() {
        let chart = Chart {
            title: "Latency <p50>",
            unit: " ms",
            resolution: Resolution::Minute,
            starts: vec![0, 60_000, 120_000, 180_000],
            bars: vec![Layer {
                class: "chart-ok",
                label: "Succeeded",
                values: vec![Some(1.0), None, Some(3.0), Some(0.0)],
            }],
            lines: vec![Layer {
                class: "chart-line",
                label: "p50",
                values: vec![Some(5.0), Some(7.0), None, Some(9.0)],
            }],
            floor_max: 1.0,
        };
        let svg = chart.render();
        assert!(
            svg.contains("Latency &lt;p50&gt;, 4 buckets, by the minute; Succeeded 4 in all; p50 at most 9 ms"),
            "{svg}"
        );
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
        assert!(svg.contains("<circle class=\"chart-line\" r=\"2\" cx=\""), "{svg}");
        assert_eq!(svg.matches("<title>").count(), 4);
        assert!(svg.contains("<title>00:01 · Succeeded: — · p50: 7 ms</title>"), "{svg}");
        assert_eq!(svg.matches("class=\"chart-ok\"").count(), 2, "two bars: nothing drawn for none or zero");
        assert_eq!(svg.matches("class=\"swatch chart-ok\"").count(), 1, "and the legend");
    }
}
