//! Reduction at the edge: turn raw series into small, faithful summaries.

use convops_shared::evidence::MetricSummary;
use convops_shared::stats;

/// Points kept per series for charts.
pub const MAX_POINTS: usize = 60;

/// Summarise a series (time-ordered `(ms, value)`) for an alarm that entered ALARM at
/// `transition_ms` after `eval_window_ms` of breaching data.
pub fn summarise(points: &[(i64, f64)], transition_ms: i64, eval_window_ms: i64) -> MetricSummary {
    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let onset_idx = stats::onset(&values);
    // Without a clear change point, compare the alarm's evaluation window against what came before.
    let split = onset_idx.unwrap_or_else(|| {
        let cut = transition_ms - eval_window_ms;
        points
            .iter()
            .position(|p| p.0 >= cut)
            .unwrap_or(points.len())
    });
    let (before, after) = values.split_at(split.min(values.len()));
    let baseline = stats::median(before);
    let peak = after.iter().copied().max_by(|a, b| {
        let base = baseline.unwrap_or(0.0);
        (a - base).abs().total_cmp(&(b - base).abs())
    });
    MetricSummary {
        datapoints: points.len() as u32,
        baseline,
        baseline_spread: stats::mad(before),
        current: stats::median(after),
        peak,
        onset_at: onset_idx.map(|i| points[i].0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_series_has_onset_and_levels() {
        let pts: Vec<(i64, f64)> = (0..120)
            .map(|i| {
                (
                    i * 60_000,
                    if i < 100 { 2.0 + (i % 3) as f64 } else { 50.0 },
                )
            })
            .collect();
        let s = summarise(&pts, 120 * 60_000, 180_000);
        assert_eq!(s.onset_at, Some(100 * 60_000));
        assert_eq!(s.baseline, Some(3.0));
        assert_eq!(s.current, Some(50.0));
        assert_eq!(s.datapoints, 120);
    }

    #[test]
    fn empty_series_is_summarised_without_panicking() {
        let s = summarise(&[], 0, 0);
        assert_eq!(s.datapoints, 0);
        assert_eq!(s.baseline, None);
    }
}
