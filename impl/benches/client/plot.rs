//! The latency-distribution plot: one panel per runtime and workload, latency (log scale)
//! against percentile on a tail scale (50%, 90%, 99%, 99.9% evenly apart), one line per
//! contender, all rounds pooled.
//!
//! Drawn with `plotters`' bitmap backend; its text needs a system font (the `ttf` feature), so
//! the labels are drawn here from the public-domain 8x8 bitmap font of `font8x8` instead: the
//! plot builds and renders with no font installed.

use crate::{Cell, Workload, CONTENDERS, RUNTIMES};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

const PANEL_W: u32 = 440;
const PANEL_H: u32 = 330;
const TOP: u32 = 64;
const W: u32 = PANEL_W * 4;
const H: u32 = TOP + PANEL_H * 2;
/// The tail scale: x = -log10(1 - p), so 0 is p0, 1 is p90, 2 is p99, 3 is p99.9.
const X_MAX: f64 = 3.0;

fn color(contender: &str) -> RGBColor {
    match contender {
        "redlock-client" => RGBColor(213, 38, 38),
        "redlock-client-recorder" => RGBColor(240, 140, 40),
        "rslock" => RGBColor(40, 110, 200),
        "redlock" => RGBColor(130, 80, 180),
        "node-redlock" => RGBColor(30, 150, 60),
        "floor" => RGBColor(120, 120, 120),
        _ => RGBColor(0, 0, 0), // quorum-floor
    }
}

/// Writes `text` with its top-left corner at `(x, y)`, each font pixel `scale` pixels wide.
fn text<DB: DrawingBackend>(area: &DrawingArea<DB, plotters::coord::Shift>, x: i32, y: i32, s: &str, scale: i32, c: &RGBColor) {
    for (i, ch) in s.chars().enumerate() {
        let glyph = font8x8::legacy::BASIC_LEGACY.get(ch as usize).copied().unwrap_or([0; 8]);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) != 0 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            let px = x + (i as i32 * 8 + col) * scale + dx;
                            let py = y + row as i32 * scale + dy;
                            let _ = area.draw_pixel((px, py), c);
                        }
                    }
                }
            }
        }
    }
}

fn width(s: &str, scale: i32) -> i32 {
    s.chars().count() as i32 * 8 * scale
}

fn latency_label(us: f64) -> String {
    if us >= 1000.0 {
        format!("{}ms", us / 1000.0)
    } else {
        format!("{us}us")
    }
}

pub fn draw(path: &Path, cells: &BTreeMap<(usize, usize, &'static str), Cell>, workloads: &[Workload]) -> Result<(), String> {
    let root = BitMapBackend::new(path, (W, H)).into_drawing_area();
    let e = |e: DrawingAreaErrorKind<_>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let black = RGBColor(0, 0, 0);
    let grey = RGBColor(200, 200, 200);
    text(
        &root,
        12,
        10,
        "redlock-client bench: acquire+release latency by percentile (5 redis-servers, TTL 10 s; contended: acquire latency)",
        1,
        &black,
    );
    // The legend.
    let mut lx = 12;
    for c in CONTENDERS {
        root.draw(&Rectangle::new([(lx, 32), (lx + 18, 36)], color(c).filled())).map_err(e)?;
        text(&root, lx + 24, 30, c, 1, &black);
        lx += 24 + width(c, 1) + 24;
    }
    text(&root, 12, 46, "x: percentile (tail scale), y: latency (log scale)", 1, &RGBColor(90, 90, 90));

    for (ri, runtime) in RUNTIMES.iter().enumerate() {
        for (wi, w) in workloads.iter().enumerate() {
            let (px, py) = (wi as i32 * PANEL_W as i32, TOP as i32 + ri as i32 * PANEL_H as i32);
            let panel = root.clone().shrink((px as u32, py as u32), (PANEL_W, PANEL_H));
            // Sorted pooled latencies of every contender in this cell, in microseconds.
            let mut series = Vec::new();
            for c in CONTENDERS {
                if let Some(cell) = cells.get(&(ri, wi, c)) {
                    let mut v: Vec<f64> = cell.lat_ns.iter().map(|&ns| ns as f64 / 1000.0).collect();
                    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    if !v.is_empty() {
                        series.push((c, v));
                    }
                }
            }
            text(&panel, 10, 6, &format!("{runtime}: {}", w.name()), 1, &black);
            if series.is_empty() {
                continue;
            }
            let q = |v: &[f64], x: f64| {
                let p = 1.0 - 10f64.powf(-x);
                let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
                v[i]
            };
            let lo = series.iter().map(|(_, v)| v[0]).fold(f64::INFINITY, f64::min).max(1.0);
            let hi = series.iter().map(|(_, v)| q(v, X_MAX)).fold(0.0, f64::max).max(lo * 2.0);
            let (ymin, ymax) = (10f64.powf(lo.log10().floor()), 10f64.powf(hi.log10().ceil()));
            let mut chart = ChartBuilder::on(&panel)
                .margin_top(22)
                .margin_left(58)
                .margin_right(26)
                .margin_bottom(26)
                .build_cartesian_2d(0f64..X_MAX, (ymin..ymax).log_scale())
                .map_err(e)?;
            // Grid and tick labels.
            let mut ticks = Vec::new();
            let mut decade = ymin;
            while decade <= ymax * 1.0001 {
                for m in [1.0, 2.0, 5.0] {
                    let y = decade * m;
                    if y <= ymax * 1.0001 {
                        ticks.push((y, m == 1.0));
                    }
                }
                decade *= 10.0;
            }
            for &(y, major) in &ticks {
                chart
                    .draw_series(LineSeries::new([(0.0, y), (X_MAX, y)], if major { &grey } else { &RGBColor(235, 235, 235) }))
                    .map_err(e)?;
            }
            let xticks = [(0.0, "0%"), (std::f64::consts::LOG10_2, "50%"), (1.0, "90%"), (2.0, "99%"), (3.0, "99.9%")];
            for (x, _) in xticks {
                chart.draw_series(LineSeries::new([(x, ymin), (x, ymax)], &grey)).map_err(e)?;
            }
            for (c, v) in &series {
                let points: Vec<(f64, f64)> = (0..=300).map(|i| i as f64 * X_MAX / 300.0).map(|x| (x, q(v, x).max(ymin))).collect();
                let stroke = if *c == "redlock-client" || *c == "quorum-floor" { 2 } else { 1 };
                chart.draw_series(LineSeries::new(points, color(c).stroke_width(stroke))).map_err(e)?;
            }
            // Labels, in panel coordinates (the chart's backend coordinates are the root's).
            for &(y, major) in &ticks {
                if major || ymax / ymin <= 100.0 {
                    let (_, by) = chart.backend_coord(&(0.0, y));
                    let label = latency_label(y);
                    text(&panel, 52 - width(&label, 1), by - py - 4, &label, 1, &black);
                }
            }
            for (x, label) in xticks {
                let (bx, by) = chart.backend_coord(&(x, ymin));
                text(&panel, bx - px - width(label, 1) / 2, by - py + 8, label, 1, &black);
            }
        }
    }
    root.present().map_err(e)?;
    Ok(())
}
