//! SVG plots of an experiment, written by hand: line charts, stacked areas, fan charts over
//! Monte Carlo runs, a phase plot, a Lorenz curve and sweep heatmaps. Text is SVG `<text>` in
//! the viewer's sans-serif font, so drawing needs no font files and no plotting crate (the
//! console draws its charts the same way).

use crate::metrics::Row;
use crate::scenario::Scenario;
use crate::RunRows;
use std::fmt::Write as _;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 52.0;
const PALETTE: [&str; 12] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22", "#393b79", "#ffbb78",
];

/// A named line.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points, x ascending.
    pub points: Vec<(f64, f64)>,
}

/// A chart's frame: title, axis labels, and the ranges its data span.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// Horizontal reference lines (value, label).
    pub marks: Vec<(f64, String)>,
    /// Force the y range to include 0.
    pub from_zero: bool,
}

impl Frame {
    /// A frame with `title` and axis labels, y from zero.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Frame {
        Frame {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            marks: Vec::new(),
            from_zero: true,
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A number for an axis: 1.2M, 350k, 0.25.
pub fn compact(value: f64) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = if magnitude >= 1e9 {
        (value / 1e9, "B")
    } else if magnitude >= 1e6 {
        (value / 1e6, "M")
    } else if magnitude >= 1e4 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let text = if scaled == scaled.trunc() {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 10.0 {
        format!("{scaled:.1}")
    } else if scaled.abs() >= 0.1 {
        format!("{scaled:.2}")
    } else {
        format!("{scaled:.3}")
    };
    format!("{text}{suffix}")
}

/// About `count` round tick values covering [low, high].
fn ticks(low: f64, high: f64, count: usize) -> Vec<f64> {
    let span = (high - low).max(1e-12);
    let raw = span / count as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power);
    // Multiples of the step counted as integers, so no error accumulates along the axis.
    let first = (low / step).ceil() as i64;
    let last = (high / step + 1e-9).floor() as i64;
    (first..=last).map(|index| index as f64 * step).collect()
}

struct Canvas {
    svg: String,
    x: (f64, f64),
    y: (f64, f64),
}

impl Canvas {
    fn new(frame: &Frame, x: (f64, f64), mut y: (f64, f64)) -> Canvas {
        if frame.from_zero {
            y.0 = y.0.min(0.0);
            y.1 = y.1.max(0.0);
        }
        for (value, _) in &frame.marks {
            y.0 = y.0.min(*value);
            y.1 = y.1.max(*value);
        }
        if y.1 - y.0 < 1e-12 {
            y.1 = y.0 + 1.0;
        }
        let pad = (y.1 - y.0) * 0.05;
        let y = (
            if y.0 < 0.0 || !frame.from_zero {
                y.0 - pad
            } else {
                y.0
            },
            y.1 + pad,
        );
        let x = if x.1 - x.0 < 1e-12 {
            (x.0, x.0 + 1.0)
        } else {
            x
        };
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"##
        );
        let _ = write!(
            svg,
            r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/><text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>"##,
            escape(&frame.title)
        );
        let canvas = Canvas { svg, x, y };
        canvas.axes(frame)
    }

    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (WIDTH - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        HEIGHT - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (HEIGHT - TOP - BOTTOM)
    }

    fn axes(mut self, frame: &Frame) -> Canvas {
        let (x0, x1) = (self.px(self.x.0), self.px(self.x.1));
        let (y0, y1) = (self.py(self.y.0), self.py(self.y.1));
        for tick in ticks(self.y.0, self.y.1, 6) {
            let y = self.py(tick);
            let _ = write!(
                self.svg,
                r##"<line x1="{x0:.1}" x2="{x1:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                x0 - 6.0,
                y + 4.0,
                compact(tick)
            );
        }
        for tick in ticks(self.x.0, self.x.1, 8) {
            let x = self.px(tick);
            let _ = write!(
                self.svg,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{y0:.1}" y2="{:.1}" stroke="#999"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                y0 + 4.0,
                y0 + 18.0,
                compact(tick)
            );
        }
        let _ = write!(
            self.svg,
            r##"<rect x="{x0:.1}" y="{y1:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#999"/>"##,
            x1 - x0,
            y0 - y1
        );
        let _ = write!(
            self.svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
            (x0 + x1) / 2.0,
            HEIGHT - 12.0,
            escape(&frame.x_label),
            (y0 + y1) / 2.0,
            escape(&frame.y_label)
        );
        for (value, label) in &frame.marks {
            let y = self.py(*value);
            let _ = write!(
                self.svg,
                r##"<line x1="{x0:.1}" x2="{x1:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#444" stroke-dasharray="5 4"/><text x="{:.1}" y="{:.1}" fill="#444">{}</text>"##,
                x0 + 4.0,
                y - 4.0,
                escape(label)
            );
        }
        self
    }

    fn polyline(&mut self, points: &[(f64, f64)], color: &str, width: f64) {
        if points.is_empty() {
            return;
        }
        let mut path = String::new();
        for (x, y) in points {
            let _ = write!(path, "{:.1},{:.1} ", self.px(*x), self.py(*y));
        }
        let _ = write!(
            self.svg,
            r##"<polyline points="{}" fill="none" stroke="{color}" stroke-width="{width}"/>"##,
            path.trim_end()
        );
    }

    fn polygon(&mut self, points: &[(f64, f64)], color: &str, opacity: f64) {
        let mut path = String::new();
        for (x, y) in points {
            let _ = write!(path, "{:.1},{:.1} ", self.px(*x), self.py(*y));
        }
        let _ = write!(
            self.svg,
            r##"<polygon points="{}" fill="{color}" fill-opacity="{opacity}" stroke="none"/>"##,
            path.trim_end()
        );
    }

    fn legend(&mut self, entries: &[(String, String)]) {
        let x = WIDTH - RIGHT + 14.0;
        for (index, (name, color)) in entries.iter().enumerate() {
            let y = TOP + 8.0 + index as f64 * 18.0;
            let _ = write!(
                self.svg,
                r##"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{color}"/><text x="{:.1}" y="{:.1}">{}</text>"##,
                y - 10.0,
                x + 18.0,
                y,
                escape(name)
            );
        }
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>\n");
        self.svg
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|value| value.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| {
            (low.min(value), high.max(value))
        })
}

fn safe(range: (f64, f64)) -> (f64, f64) {
    if range.0.is_finite() && range.1.is_finite() {
        range
    } else {
        (0.0, 1.0)
    }
}

/// Lines over a shared x axis.
pub fn lines(frame: &Frame, series: &[Series]) -> String {
    let x = safe(bounds(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.0)),
    ));
    let y = safe(bounds(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
    ));
    let mut canvas = Canvas::new(frame, x, y);
    let mut legend = Vec::new();
    for (index, line) in series.iter().enumerate() {
        let color = PALETTE[index % PALETTE.len()];
        canvas.polyline(&line.points, color, 1.8);
        legend.push((line.name.clone(), color.to_string()));
    }
    canvas.legend(&legend);
    canvas.finish()
}

/// Layers stacked bottom to top over `x`.
pub fn stacked(frame: &Frame, x: &[f64], layers: &[Series]) -> String {
    let mut base = vec![0.0; x.len()];
    let mut bands = Vec::new();
    for layer in layers {
        let top: Vec<f64> = base
            .iter()
            .zip(&layer.points)
            .map(|(below, (_, value))| below + value.max(0.0))
            .collect();
        bands.push((base.clone(), top.clone()));
        base = top;
    }
    let y = safe(bounds(base.iter().copied()));
    let xr = safe(bounds(x.iter().copied()));
    let mut canvas = Canvas::new(frame, xr, y);
    let mut legend = Vec::new();
    for (index, ((below, top), layer)) in bands.iter().zip(layers).enumerate() {
        let color = PALETTE[index % PALETTE.len()];
        let mut outline: Vec<(f64, f64)> = x.iter().copied().zip(top.iter().copied()).collect();
        outline.extend(x.iter().copied().zip(below.iter().copied()).rev());
        canvas.polygon(&outline, color, 0.8);
        legend.push((layer.name.clone(), color.to_string()));
    }
    canvas.legend(&legend);
    canvas.finish()
}

/// Quantile bands (5–95%, 25–75%) and the median of `runs` (each a series over the same x).
pub fn fan(frame: &Frame, runs: &[Vec<(f64, f64)>]) -> String {
    let length = runs.iter().map(Vec::len).min().unwrap_or(0);
    let mut bands: Vec<[f64; 5]> = Vec::new();
    let mut xs = Vec::new();
    for index in 0..length {
        let mut values: Vec<f64> = runs.iter().map(|run| run[index].1).collect();
        values.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            let position = q * (values.len() - 1) as f64;
            let low = position.floor() as usize;
            let high = position.ceil() as usize;
            values[low] + (values[high] - values[low]) * (position - low as f64)
        };
        bands.push([
            quantile(0.05),
            quantile(0.25),
            quantile(0.5),
            quantile(0.75),
            quantile(0.95),
        ]);
        xs.push(runs[0][index].0);
    }
    let x = safe(bounds(xs.iter().copied()));
    let y = safe(bounds(bands.iter().flat_map(|band| [band[0], band[4]])));
    let mut canvas = Canvas::new(frame, x, y);
    for (low, high, opacity) in [(0, 4, 0.2), (1, 3, 0.35)] {
        let mut outline: Vec<(f64, f64)> = xs
            .iter()
            .zip(&bands)
            .map(|(x, band)| (*x, band[high]))
            .collect();
        outline.extend(xs.iter().zip(&bands).map(|(x, band)| (*x, band[low])).rev());
        canvas.polygon(&outline, PALETTE[0], opacity);
    }
    let median: Vec<(f64, f64)> = xs
        .iter()
        .zip(&bands)
        .map(|(x, band)| (*x, band[2]))
        .collect();
    canvas.polyline(&median, PALETTE[0], 2.0);
    canvas.legend(&[
        ("median".into(), PALETTE[0].into()),
        (format!("25–75% ({} runs)", runs.len()), "#9ec3e6".into()),
        ("5–95%".into(), "#d2e3f3".into()),
    ]);
    canvas.finish()
}

/// A path through (x, y) coloured from light (first point) to dark (last).
pub fn phase(
    frame: &Frame,
    points: &[(f64, f64)],
    x_range: (f64, f64),
    y_range: (f64, f64),
) -> String {
    let mut canvas = Canvas::new(frame, x_range, y_range);
    let count = points.len().max(2) as f64;
    for (index, pair) in points.windows(2).enumerate() {
        let shade = 220.0 - 200.0 * index as f64 / (count - 1.0);
        let color = format!("rgb({:.0},{:.0},255)", shade, shade);
        canvas.polyline(pair, &color, 1.6);
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        for (point, label) in [(first, "start"), (last, "end")] {
            let (x, y) = (canvas.px(point.0), canvas.py(point.1));
            let _ = write!(
                canvas.svg,
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="#d62728"/><text x="{:.1}" y="{:.1}">{label}</text>"##,
                x + 6.0,
                y - 6.0
            );
        }
    }
    canvas.finish()
}

/// A grid of `values[y][x]` coloured from low (light) to high (dark), each cell labelled.
pub fn heatmap(frame: &Frame, x_values: &[f64], y_values: &[f64], values: &[Vec<f64>]) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12"><rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/><text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>"##,
        escape(&frame.title)
    );
    let (low, high) = safe(bounds(values.iter().flatten().copied()));
    let columns = x_values.len().max(1) as f64;
    let rows = y_values.len().max(1) as f64;
    let cell_w = (WIDTH - LEFT - RIGHT) / columns;
    let cell_h = (HEIGHT - TOP - BOTTOM) / rows;
    for (row, line) in values.iter().enumerate() {
        for (column, value) in line.iter().enumerate() {
            let t = if high > low {
                (value - low) / (high - low)
            } else {
                0.5
            };
            let shade = 235.0 - 190.0 * t;
            let x = LEFT + column as f64 * cell_w;
            let y = HEIGHT - BOTTOM - (row as f64 + 1.0) * cell_h;
            let text = if t > 0.55 { "#ffffff" } else { "#000000" };
            let _ = write!(
                svg,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{cell_w:.1}" height="{cell_h:.1}" fill="rgb({:.0},{:.0},{:.0})" stroke="#ffffff"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{text}">{}</text>"##,
                shade,
                shade + 10.0_f64.min(255.0 - shade),
                255.0,
                x + cell_w / 2.0,
                y + cell_h / 2.0 + 4.0,
                compact(*value)
            );
        }
    }
    for (column, value) in x_values.iter().enumerate() {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            LEFT + (column as f64 + 0.5) * cell_w,
            HEIGHT - BOTTOM + 18.0,
            compact(*value)
        );
    }
    for (row, value) in y_values.iter().enumerate() {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 6.0,
            HEIGHT - BOTTOM - (row as f64 + 0.5) * cell_h + 4.0,
            compact(*value)
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text></svg>"##,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 12.0,
        escape(&frame.x_label),
        (TOP + HEIGHT - BOTTOM) / 2.0,
        escape(&frame.y_label)
    );
    svg
}

/// The Lorenz curve of `values` (share of the total held by the poorest share of holders).
pub fn lorenz(frame: &Frame, values: &[f64]) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let total: f64 = sorted.iter().sum();
    let n = sorted.len().max(1) as f64;
    let mut points = vec![(0.0, 0.0)];
    let mut running = 0.0;
    for (index, value) in sorted.iter().enumerate() {
        running += value;
        points.push((
            (index as f64 + 1.0) / n,
            if total > 0.0 { running / total } else { 0.0 },
        ));
    }
    lines(
        frame,
        &[
            Series {
                name: "rewards".into(),
                points,
            },
            Series {
                name: "equality".into(),
                points: vec![(0.0, 0.0), (1.0, 1.0)],
            },
        ],
    )
}

fn column(rows: &[Row], name: &str) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|row| Some((row.get("week")? + 1.0, *row.get(name)?)))
        .collect()
}

fn cumulative(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut total = 0.0;
    points
        .iter()
        .map(|(x, y)| {
            total += y;
            (*x, total)
        })
        .collect()
}

/// The plots of an experiment, by name: the first run's time series, fan charts when there are
/// several runs, and sweep comparisons when there are several subsets.
pub fn experiment_plots(scenario: &Scenario, results: &[RunRows]) -> Vec<(String, String)> {
    let mut plots = Vec::new();
    let Some(first) = results.first() else {
        return plots;
    };
    let rows = &first.rows;
    let week = "week";
    let target = scenario.params.target_utilization.unwrap_or(0.8);

    let mut frame = Frame::new(
        "Incentive release against the 2,000,000,000 VCAI pool",
        week,
        "VCAI",
    );
    frame.marks.push((2e9, "pool at genesis".into()));
    plots.push((
        "emission".into(),
        lines(
            &frame,
            &[Series {
                name: "released (cumulative)".into(),
                points: column(rows, "released_cum_vcai"),
            }],
        ),
    ));
    let x: Vec<f64> = rows.iter().map(|row| row["week"] + 1.0).collect();
    let layer = |name: &str, column_name: &str| Series {
        name: name.into(),
        points: column(rows, column_name),
    };
    plots.push((
        "streams".into(),
        stacked(
            &Frame::new("Rewards credited per period, by stream", week, "VCAI"),
            &x,
            &[
                layer("Proof of Capacity", "capacity_vcai"),
                layer("Proof of Delivery", "delivery_vcai"),
                layer("performance bonus", "performance_vcai"),
                layer("rebates", "rebate_vcai"),
                layer("referrals", "referral_vcai"),
            ],
        ),
    ));
    plots.push((
        "supply".into(),
        stacked(
            &Frame::new("Where the 10,000,000,000 VCAI are", week, "VCAI"),
            &x,
            &crate::metrics::SUPPLY_PARTS
                .iter()
                .map(|(column_name, label)| layer(label, column_name))
                .collect::<Vec<_>>(),
        ),
    ));
    let mut frame = Frame::new("Utilization and P_supply", week, "share");
    frame.marks.push((target, format!("U_target {target}")));
    plots.push((
        "utilization".into(),
        lines(
            &frame,
            &[
                Series {
                    name: "utilization U".into(),
                    points: column(rows, "utilization"),
                },
                Series {
                    name: "P_supply".into(),
                    points: column(rows, "p_supply"),
                },
            ],
        ),
    ));
    let path: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|row| Some((*row.get("utilization")?, *row.get("p_supply")?)))
        .collect();
    let mut frame = Frame::new(
        "Phase: utilization against P_supply (light = early)",
        "utilization U",
        "P_supply",
    );
    frame.from_zero = false;
    plots.push(("phase".into(), phase(&frame, &path, (0.0, 1.0), (0.0, 1.0))));
    plots.push((
        "treasury".into(),
        lines(
            &Frame::new("Treasury and buyback", week, "USD"),
            &[
                Series {
                    name: "treasury USD".into(),
                    points: column(rows, "treasury_usd"),
                },
                Series {
                    name: "buyback USD (cumulative)".into(),
                    points: cumulative(&column(rows, "buyback_usd")),
                },
                Series {
                    name: "network fees (cumulative)".into(),
                    points: cumulative(&column(rows, "fees_usd")),
                },
            ],
        ),
    ));
    plots.push((
        "price".into(),
        lines(
            &Frame::new("VCAI price in the pool", week, "USD per VCAI"),
            &[Series {
                name: "spot price".into(),
                points: column(rows, "price_usd"),
            }],
        ),
    ));
    plots.push((
        "ve".into(),
        lines(
            &Frame::new("Vote-escrow weight", week, "veVCAI"),
            &[Series {
                name: "total weight".into(),
                points: column(rows, "ve_weight"),
            }],
        ),
    ));
    let mut providers = Vec::new();
    let mut profits = Vec::new();
    let mut names: Vec<String> = scenario.providers.iter().map(|p| p.name.clone()).collect();
    names.extend(scenario.wash_traders.iter().map(|w| w.name.clone()));
    for name in &names {
        providers.push(Series {
            name: name.clone(),
            points: column(rows, &format!("nodes.{name}")),
        });
        profits.push(Series {
            name: name.clone(),
            points: cumulative(&column(rows, &format!("profit_usd.{name}"))),
        });
    }
    plots.push((
        "providers".into(),
        lines(
            &Frame::new("Active nodes by population", week, "nodes"),
            &providers,
        ),
    ));
    plots.push((
        "profit".into(),
        lines(
            &Frame::new(
                "Cumulative profit by population (income + rewards − cost − slashes)",
                week,
                "USD",
            ),
            &profits,
        ),
    ));
    plots.push((
        "gini".into(),
        lines(
            &Frame::new("Concentration of node rewards per period", week, "share"),
            &[
                Series {
                    name: "Gini".into(),
                    points: column(rows, "reward_gini"),
                },
                Series {
                    name: "top 10% share".into(),
                    points: column(rows, "reward_top10_share"),
                },
            ],
        ),
    ));
    if !first.node_rewards.is_empty() {
        plots.push((
            "lorenz".into(),
            lorenz(
                &Frame::new(
                    "Lorenz curve of each node's rewards over the run",
                    "share of nodes (poorest first)",
                    "share of rewards",
                ),
                &first.node_rewards,
            ),
        ));
    }

    // Monte Carlo fans over the first subset's runs.
    let runs: Vec<&RunRows> = results
        .iter()
        .filter(|r| r.subset == first.subset)
        .collect();
    if runs.len() > 1 {
        for (metric, title, unit) in [
            ("utilization", "Utilization over runs", "share"),
            ("p_supply", "P_supply over runs", "share"),
            ("price_usd", "VCAI price over runs", "USD per VCAI"),
            ("treasury_usd", "Treasury over runs", "USD"),
        ] {
            let series: Vec<Vec<(f64, f64)>> =
                runs.iter().map(|run| column(&run.rows, metric)).collect();
            plots.push((
                format!("fan-{metric}"),
                fan(&Frame::new(title, week, unit), &series),
            ));
        }
    }

    // Sweeps: each subset's median line, and a heatmap over two swept parameters.
    let subsets = scenario.subsets();
    if subsets.len() > 1 {
        for (metric, title) in [
            (
                "utilization",
                "Utilization by sweep point (median over runs)",
            ),
            ("p_supply", "P_supply by sweep point (median over runs)"),
            ("price_usd", "VCAI price by sweep point (median over runs)"),
        ] {
            let series: Vec<Series> = subsets
                .iter()
                .enumerate()
                .map(|(index, point)| Series {
                    name: point
                        .iter()
                        .map(|(name, value)| format!("{name}={value}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    points: median_line(results, index, metric),
                })
                .collect();
            let mut frame = Frame::new(title, week, "");
            if metric == "utilization" {
                frame.marks.push((target, format!("U_target {target}")));
            }
            plots.push((format!("sweep-{metric}"), lines(&frame, &series)));
        }
        let names: Vec<&String> = scenario.sweep.keys().collect();
        if names.len() == 2 {
            let x_values = &scenario.sweep[names[0]];
            let y_values = &scenario.sweep[names[1]];
            let values: Vec<Vec<f64>> = y_values
                .iter()
                .map(|y| {
                    x_values
                        .iter()
                        .map(|x| {
                            let index = subsets
                                .iter()
                                .position(|point| point[names[0]] == *x && point[names[1]] == *y)
                                .unwrap_or(0);
                            match scenario.heatmap.as_deref() {
                                Some(expression) => match expression.split_once(" - ") {
                                    Some((left, right)) => {
                                        run_total(results, index, left.trim())
                                            - run_total(results, index, right.trim())
                                    }
                                    None => run_total(results, index, expression.trim()),
                                },
                                None => {
                                    let target = subsets[index]
                                        .get("target_utilization")
                                        .copied()
                                        .unwrap_or(target);
                                    tracking_error(results, index, target)
                                }
                            }
                        })
                        .collect()
                })
                .collect();
            let title = match scenario.heatmap.as_deref() {
                Some(expression) => format!("{expression}, summed over the run (median of runs)"),
                None => "Mean |U − U_target| over the second half of the run".to_string(),
            };
            plots.push((
                "sweep-heatmap".into(),
                heatmap(
                    &Frame::new(&title, names[0], names[1]),
                    x_values,
                    y_values,
                    &values,
                ),
            ));
        }
    }
    plots
}

/// The median over runs of subset `subset`'s `metric`, week by week.
pub fn median_line(results: &[RunRows], subset: usize, metric: &str) -> Vec<(f64, f64)> {
    let runs: Vec<Vec<(f64, f64)>> = results
        .iter()
        .filter(|r| r.subset == subset)
        .map(|r| column(&r.rows, metric))
        .collect();
    let length = runs.iter().map(Vec::len).min().unwrap_or(0);
    (0..length)
        .map(|index| {
            let mut values: Vec<f64> = runs.iter().map(|run| run[index].1).collect();
            values.sort_by(f64::total_cmp);
            (runs[0][index].0, values[values.len() / 2])
        })
        .collect()
}

/// The median over subset `subset`'s runs of `column` summed over each run (weeks without a
/// value count nothing).
pub fn run_total(results: &[RunRows], subset: usize, column: &str) -> f64 {
    let mut totals: Vec<f64> = results
        .iter()
        .filter(|r| r.subset == subset)
        .map(|run| run.rows.iter().filter_map(|row| row.get(column)).sum())
        .collect();
    totals.sort_by(f64::total_cmp);
    totals.get(totals.len() / 2).copied().unwrap_or(0.0)
}

/// Mean |U − target| over the second half of subset `subset`'s runs.
pub fn tracking_error(results: &[RunRows], subset: usize, target: f64) -> f64 {
    let mut total = 0.0;
    let mut count = 0.0;
    for run in results.iter().filter(|r| r.subset == subset) {
        let half = run.rows.len() / 2;
        for row in &run.rows[half..] {
            if let Some(u) = row.get("utilization") {
                total += (u - target).abs();
                count += 1.0;
            }
        }
    }
    if count > 0.0 {
        total / count
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let close = |got: Vec<f64>, want: &[f64]| {
            assert_eq!(got.len(), want.len(), "{got:?}");
            for (got, want) in got.iter().zip(want) {
                assert!(
                    (got - want).abs() < 1e-9 * want.abs().max(1.0),
                    "{got} vs {want}"
                );
            }
        };
        close(ticks(0.0, 1.0, 5), &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        close(ticks(0.0, 2e9, 4), &[0.0, 5e8, 1e9, 1.5e9, 2e9]);
        assert_eq!(compact(1_500_000.0), "1.50M");
        assert_eq!(compact(250_000.0), "250k");
        assert_eq!(compact(0.25), "0.25");
    }

    #[test]
    fn a_two_parameter_sweep_draws_the_chosen_difference() {
        let mut scenario = crate::scenario::Scenario::from_toml(
            "name = \"h\"\nweeks = 1\n[sweep]\nk = [0.1, 0.2]\nsampling_rate = [0.05]\n",
        )
        .expect("valid");
        // Columns of our own rows below, so set after the scenario's check.
        scenario.heatmap = Some("a - b".into());
        let results: Vec<RunRows> = scenario
            .subsets()
            .into_iter()
            .enumerate()
            .map(|(subset, point)| RunRows {
                subset,
                point,
                run: 0,
                seed: 1,
                rows: vec![Row::from([
                    ("week".to_string(), 0.0),
                    ("a".to_string(), 10.0 * (subset as f64 + 1.0)),
                    ("b".to_string(), 3.0),
                ])],
                node_rewards: Vec::new(),
                tallies: Default::default(),
            })
            .collect();
        assert_eq!(run_total(&results, 1, "a"), 20.0);
        let plots = experiment_plots(&scenario, &results);
        let (_, svg) = plots
            .iter()
            .find(|(name, _)| name == "sweep-heatmap")
            .expect("two swept parameters draw a heatmap");
        // 10 − 3 and 20 − 3, one cell each.
        assert!(svg.contains(">7<") && svg.contains(">17<"), "{svg}");
        assert!(svg.contains("a - b, summed over the run"));
    }

    #[test]
    fn a_chart_is_well_formed_svg() {
        let svg = lines(
            &Frame::new("a < b & c", "x", "y"),
            &[Series {
                name: "s".into(),
                points: vec![(0.0, 1.0), (1.0, 2.0)],
            }],
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt; b &amp; c"));
        assert_eq!(svg.matches("<polyline").count(), 1);
    }
}
