//! SVG plots of a report (plotters, SVG backend only: text is written as SVG `<text>` and
//! laid out by the viewer, so no font files are needed): rate over time, latency over time and
//! the latency histogram. They are drawn from the [`Report`] alone.

use std::path::{Path, PathBuf};

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::error::BenchError;
use crate::report::{Report, SeriesPoint};

/// A line of a time plot: label, colour, and the value it takes from a point (none: no point
/// in that bucket).
type Line = (&'static str, RGBColor, fn(&SeriesPoint) -> Option<f64>);

/// Size of every plot, pixels.
const SIZE: (u32, u32) = (900, 480);
/// File names written into the plots directory.
pub const RATE_SVG: &str = "rate.svg";
pub const LATENCY_SVG: &str = "latency.svg";
pub const HISTOGRAM_SVG: &str = "latency-histogram.svg";

fn err(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow::anyhow!("drawing: {e:?}")
}

/// A y range with headroom, never empty.
fn y_max(values: impl Iterator<Item = f64>) -> f64 {
    let m = values.filter(|v| v.is_finite()).fold(0.0_f64, f64::max);
    if m > 0.0 { m * 1.1 } else { 1.0 }
}

fn title(r: &Report, what: &str) -> String {
    let load = if r.params.rate > 0.0 {
        format!("open loop {} tx/s", r.params.rate)
    } else {
        "closed loop".to_string()
    };
    format!(
        "{what} — {}, contention {}, {load}",
        r.workload, r.params.contention
    )
}

/// A chart on the report's plot area, f64 on both axes.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws one plot: the frame every plot shares (caption, axes from 0 to `x_max`/`y_max`, their
/// descriptions), then what `draw` puts on it, then the legend of what it labelled (when `draw`
/// says it labelled something).
fn plot(
    r: &Report,
    what: &str,
    (x_max, y_max): (f64, f64),
    (x_desc, y_desc): (&str, &str),
    draw: impl FnOnce(&mut Chart<'_, '_>) -> anyhow::Result<bool>,
) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title(r, what), ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(err)?;
        if draw(&mut chart)? {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A labelled line of `color` through `points`.
fn line(
    chart: &mut Chart<'_, '_>,
    label: String,
    color: RGBColor,
    points: impl IntoIterator<Item = (f64, f64)>,
) -> anyhow::Result<()> {
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(2)))
        .map_err(err)?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    Ok(())
}

/// The lines of a time plot, each point at the middle of its bucket; they are labelled.
fn time_lines(chart: &mut Chart<'_, '_>, r: &Report, series: &[Line]) -> anyhow::Result<bool> {
    let mid = r.series.bucket_s / 2.0;
    for &(label, color, get) in series {
        let points = r.series.points.iter();
        let points = points.filter_map(|p| get(p).map(|v| (p.t_s + mid, v)));
        line(chart, label.into(), color, points)?;
    }
    Ok(true)
}

/// The time axis of the series plots: to the end of the last bucket.
fn time_max(r: &Report) -> f64 {
    r.series
        .points
        .last()
        .map_or(1.0, |p| p.t_s + r.series.bucket_s)
        .max(0.1)
}

/// Committed, submitted and rejected transactions per second over time.
pub fn rate_svg(r: &Report) -> anyhow::Result<String> {
    let pts = &r.series.points;
    let ym = y_max(
        pts.iter()
            .flat_map(|p| [p.submitted_per_s, p.committed_per_s, p.rejected_per_s]),
    );
    let series: [Line; 3] = [
        ("submitted", BLUE, |p| Some(p.submitted_per_s)),
        ("committed", GREEN, |p| Some(p.committed_per_s)),
        ("rejected", RED, |p| Some(p.rejected_per_s)),
    ];
    plot(
        r,
        "Rate",
        (time_max(r), ym),
        (
            "time since the first measured submit (s)",
            "transactions per second",
        ),
        |chart| time_lines(chart, r, &series),
    )
}

/// Latency p50 and p99 of the transactions committed in each bucket.
pub fn latency_svg(r: &Report) -> anyhow::Result<String> {
    let pts = &r.series.points;
    let ym = y_max(pts.iter().filter_map(|p| p.latency_p99_ms));
    let series: [Line; 2] = [
        ("p50", BLUE, |p| p.latency_p50_ms),
        ("p99", RED, |p| p.latency_p99_ms),
    ];
    plot(
        r,
        "Latency over time",
        (time_max(r), ym),
        (
            "commit time since the first measured submit (s)",
            "submit → commit latency (ms)",
        ),
        |chart| time_lines(chart, r, &series),
    )
}

/// Histogram of submit → commit latency.
pub fn histogram_svg(r: &Report) -> anyhow::Result<String> {
    let bins = &r.latency_histogram;
    let x_max = bins.last().map_or(1.0, |b| b.hi_ms).max(1.0);
    let ym = y_max(bins.iter().map(|b| b.count as f64));
    plot(
        r,
        "Latency histogram",
        (x_max, ym),
        ("submit → commit latency (ms)", "transactions"),
        |chart| {
            chart
                .draw_series(bins.iter().map(|b| {
                    Rectangle::new(
                        [(b.lo_ms, 0.0), (b.hi_ms, b.count as f64)],
                        BLUE.mix(0.6).filled(),
                    )
                }))
                .map_err(err)?;
            let Some(l) = &r.latency_ms else {
                return Ok(false);
            };
            for (label, v, color) in [("p50", l.p50, GREEN), ("p99", l.p99, RED)] {
                line(
                    chart,
                    format!("{label} {v:.1} ms"),
                    color,
                    [(v, 0.0), (v, ym)],
                )?;
            }
            Ok(true)
        },
    )
}

/// Writes the three plots into `dir` (created if needed); returns their paths.
pub fn write_all(dir: &Path, r: &Report) -> Result<Vec<PathBuf>, BenchError> {
    let out = |path: PathBuf, message: String| BenchError::Output { path, message };
    std::fs::create_dir_all(dir).map_err(|e| out(dir.to_path_buf(), e.to_string()))?;
    let mut written = Vec::new();
    for (name, svg) in [
        (RATE_SVG, rate_svg(r)),
        (LATENCY_SVG, latency_svg(r)),
        (HISTOGRAM_SVG, histogram_svg(r)),
    ] {
        let path = dir.join(name);
        let svg = svg.map_err(|e| out(path.clone(), e.to_string()))?;
        std::fs::write(&path, svg).map_err(|e| out(path.clone(), e.to_string()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_have_axes_labels_and_data() {
        let r = crate::report::tests::sample();
        for (svg, needles) in [
            (
                rate_svg(&r).expect("rate"),
                vec!["transactions per second", "committed", "time since"],
            ),
            (
                latency_svg(&r).expect("latency"),
                vec!["latency (ms)", "p99"],
            ),
            (
                histogram_svg(&r).expect("hist"),
                vec!["transactions", "p50 20.0 ms"],
            ),
        ] {
            assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
            assert!(svg.trim_end().ends_with("</svg>"));
            for n in needles {
                assert!(svg.contains(n), "missing {n}");
            }
            assert!(svg.contains("<text"), "no text elements");
        }
    }
}
