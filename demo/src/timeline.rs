//! The picture: what the servers saw, per 100 ms, as an SVG.

use std::error::Error;
use std::path::Path;
use std::time::Duration;

use plotters::prelude::*;
use rlc::BreakerState;

use crate::run::{RunData, CLASSES, LIMIT, WINDOW};

const BUCKET: Duration = Duration::from_millis(100);

/// Colours of bulk, normal and urgent (the order of [`CLASSES`]).
const COLOURS: [RGBColor; 3] =
    [RGBColor(158, 202, 225), RGBColor(49, 130, 189), RGBColor(230, 85, 13)];

fn bucket(at: Duration) -> usize {
    (at.as_nanos() / BUCKET.as_nanos()) as usize
}

/// The periods during which the down client's breaker was open, in seconds.
fn open_periods(log: &[(Duration, BreakerState)], end: f64) -> Vec<(f64, f64)> {
    let mut periods = Vec::new();
    for (i, (t, state)) in log.iter().enumerate() {
        if *state == BreakerState::Open {
            let until = log.get(i + 1).map_or(end, |(u, _)| u.as_secs_f64());
            periods.push((t.as_secs_f64(), until));
        }
    }
    periods
}

/// Draws the timeline: sends to the healthy API per 100 ms stacked by priority, the
/// configured rate as a line, the down service's attempts and its breaker's open
/// periods.
pub fn draw(path: &Path, data: &RunData) -> Result<(), Box<dyn Error>> {
    let end = data.busy_until + BUCKET;
    let buckets = bucket(end) + 1;
    let mut counts = vec![vec![0u32; buckets]; CLASSES.len()];
    for a in &data.api.arrivals {
        if let Some(c) = CLASSES.iter().position(|c| Some(c.name) == a.tag.as_deref()) {
            counts[c][bucket(a.at).min(buckets - 1)] += 1;
        }
    }
    let mut down = vec![0u32; buckets];
    for a in &data.down_api.arrivals {
        down[bucket(a.at + data.down_offset).min(buckets - 1)] += 1;
    }
    let per_bucket = f64::from(LIMIT) * BUCKET.as_secs_f64() / WINDOW.as_secs_f64();
    let tallest = (0..buckets).map(|b| counts.iter().map(|c| c[b]).sum::<u32>()).max().unwrap_or(0);
    // Head room for the legend.
    let y_max = (f64::from(tallest).max(per_bucket) * 1.5).ceil();
    let x_max = end.as_secs_f64();
    let width = BUCKET.as_secs_f64();

    let root = SVGBackend::new(path, (1200, 580)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "rlc demo: sends per 100 ms at the servers (limit {LIMIT} per rolling {} ms)",
        WINDOW.as_millis()
    );
    let below = root.titled(&title, ("sans-serif", 22))?;
    let (note, plot) = below.split_vertically(24);
    note.draw_text(
        &format!(
            "Bursts: the bucket holds {LIMIT} tokens; after a burst the server answers `RateLimit: remaining=0, reset=1` \
             and rlc pauses the client until then."
        ),
        &("sans-serif", 14).into_font().color(&BLACK.mix(0.7)),
        (90, 4),
    )?;
    let mut chart = ChartBuilder::on(&plot)
        .margin(16)
        .margin_top(6)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_max_light_lines(1)
        .x_label_formatter(&|x| format!("{x:.0} s"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_desc("seconds since start")
        .y_desc("requests sent per 100 ms")
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .draw()?;

    let shade = RGBAColor(214, 39, 40, 0.12);
    chart
        .draw_series(
            open_periods(&data.breaker_log, x_max)
                .into_iter()
                .map(|(a, b)| Rectangle::new([(a, 0.0), (b, y_max)], shade.filled())),
        )?
        .label("down-svc breaker open (its own client)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], shade.filled()));

    let mut base = vec![0u32; buckets];
    for (c, class) in CLASSES.iter().enumerate() {
        let colour = COLOURS[c];
        let bars: Vec<Rectangle<(f64, f64)>> = (0..buckets)
            .filter(|&b| counts[c][b] > 0)
            .map(|b| {
                let x = b as f64 * width;
                let (lo, hi) = (base[b], base[b] + counts[c][b]);
                Rectangle::new(
                    [(x, f64::from(lo)), (x + width * 0.9, f64::from(hi))],
                    colour.filled(),
                )
            })
            .collect();
        for b in 0..buckets {
            base[b] += counts[c][b];
        }
        chart
            .draw_series(bars)?
            .label(format!("{} (priority {})", class.name, class.priority))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], colour.filled()));
    }

    let steps = (0..buckets).flat_map(|b| {
        let (x, n) = (b as f64 * width, f64::from(down[b]));
        [(x, n), (x + width, n)]
    });
    chart
        .draw_series(LineSeries::new(steps, BLACK.stroke_width(2)))?
        .label("down-svc attempts that reached the dead service")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.stroke_width(2)));

    let rate = RGBColor(214, 39, 40);
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, per_bucket), (x_max, per_bucket)],
            8,
            5,
            rate.stroke_width(2),
        ))?
        .label(format!("configured rate: {LIMIT}/s = {per_bucket} per 100 ms"))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], rate.stroke_width(2)));

    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}
