//! The pictures an evaluation writes beside its metrics: the confusion matrix and the
//! scores of every entity, true ones in red, as SVG.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use anyhow::Result;

use super::metrics::Metrics;
use super::{RunScope, Scored, labelled};
use crate::lab::GroundTruth;
use crate::location::Location;

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A 2×2 confusion-matrix picture.
pub(super) fn confusion_svg(hunt: &str, m: &Metrics) -> String {
    let cells = [
        (0, 0, "TP", m.tp, "#2e7d32"),
        (1, 0, "FN", m.fn_, "#c62828"),
        (0, 1, "FP", m.fp, "#ef6c00"),
        (1, 1, "TN", m.tn, "#546e7a"),
    ];
    let mut svg = String::from(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"420\" height=\"330\" font-family=\"sans-serif\">\n",
    );
    let _ = writeln!(
        svg,
        "<text x=\"210\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">{} confusion matrix</text>",
        escape(hunt)
    );
    let _ = writeln!(
        svg,
        "<text x=\"160\" y=\"50\" text-anchor=\"middle\">actual malicious</text><text x=\"320\" y=\"50\" text-anchor=\"middle\">actual benign</text>"
    );
    let _ = writeln!(
        svg,
        "<text x=\"40\" y=\"125\" text-anchor=\"middle\" transform=\"rotate(-90 40 125)\">flagged</text><text x=\"40\" y=\"255\" text-anchor=\"middle\" transform=\"rotate(-90 40 255)\">not flagged</text>"
    );
    for (row, col, name, value, colour) in cells {
        let (x, y) = (80 + col * 160, 60 + row * 130);
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"155\" height=\"125\" fill=\"{colour}\" opacity=\"0.85\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"white\" font-size=\"14\">{name}</text>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"white\" font-size=\"28\">{value}</text>",
            x + 77,
            y + 40,
            x + 77,
            y + 85
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Histogram of scores, malicious and benign entities overlaid.
pub(super) fn scores_svg(
    hunt: &str,
    rows: &[Scored],
    malicious: &BTreeSet<String>,
) -> String {
    const BINS: usize = 30;
    let (lo, hi) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(r.score), hi.max(r.score))
        });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let mut bins = [[0u64; BINS]; 2];
    for r in rows {
        let b = (((r.score - lo) / (hi - lo)) * BINS as f64).floor() as usize;
        let class = usize::from(malicious.contains(&r.key));
        bins[class][b.min(BINS - 1)] += 1;
    }
    let max = bins.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let (w, h, left, top) = (600.0, 260.0, 50.0, 40.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\">\n",
        w + 80.0,
        h + 90.0
    );
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"16\">{} score distribution (log count)</text>",
        (w + 80.0) / 2.0,
        escape(hunt)
    );
    let bw = w / BINS as f64;
    for (class, colour) in [(0, "#546e7a"), (1, "#c62828")] {
        for (i, &n) in bins[class].iter().enumerate() {
            if n == 0 {
                continue;
            }
            let bar = h * (1.0 + n as f64).ln() / (1.0 + max).ln();
            let _ = writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"{colour}\" opacity=\"0.6\"><title>{n}</title></rect>",
                left + i as f64 * bw,
                top + h - bar,
                bw - 1.0
            );
        }
    }
    let _ = writeln!(
        svg,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\
         <text x=\"{left}\" y=\"{}\" font-size=\"12\">{lo:.3}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{hi:.3}</text>\
         <text x=\"{left}\" y=\"{}\" font-size=\"12\" fill=\"#c62828\">malicious</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#546e7a\">benign</text>",
        top + h,
        left + w,
        top + h,
        top + h + 18.0,
        left + w,
        top + h + 18.0,
        top + h + 40.0,
        left + 90.0,
        top + h + 40.0
    );
    svg.push_str("</svg>\n");
    svg
}

pub(super) async fn write_pictures(
    dir: &Location,
    hunt: &str,
    metrics: &Metrics,
    rows: &[Scored],
    truth: &GroundTruth,
    scope: &RunScope,
) -> Result<()> {
    let (malicious, _, _) = labelled(hunt, truth, scope);
    for (name, text) in [
        ("confusion.svg", confusion_svg(hunt, metrics)),
        ("scores.svg", scores_svg(hunt, rows, &malicious)),
        ("metrics.json", serde_json::to_string_pretty(metrics)?),
    ] {
        dir.join(name).put(text.into_bytes()).await?;
    }
    Ok(())
}
