//! Pure statistics for metric series: robust baseline, change-point onset, downsampling.
//!
//! Everything here is deterministic and allocation-light; it runs in the agent on every series it
//! reads and again in tests against hand-made series.

/// Median of `values` (NaN-free input expected; NaNs sort last). `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

/// Median absolute deviation around the median: a spread measure that one spike cannot move.
pub fn mad(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    let dev: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    median(&dev)
}

/// The index at which the series changes level, found by the split that minimises the summed
/// squared error of a two-level fit (a single-change-point least-squares search, O(n)).
///
/// Returns `None` when the series is too short or the best split does not explain the data
/// noticeably better than one level (less than 25% reduction in squared error).
pub fn change_point(values: &[f64]) -> Option<usize> {
    let n = values.len();
    if n < 4 {
        return None;
    }
    let total: f64 = values.iter().sum();
    let total_sq: f64 = values.iter().map(|v| v * v).sum();
    let sse_all = total_sq - total * total / n as f64;
    if sse_all <= f64::EPSILON {
        return None;
    }
    let (mut left, mut left_sq) = (0.0, 0.0);
    let mut best: Option<(usize, f64)> = None;
    for (i, v) in values.iter().enumerate().take(n - 1) {
        left += v;
        left_sq += v * v;
        let k = (i + 1) as f64;
        let right = total - left;
        let right_sq = total_sq - left_sq;
        let sse = (left_sq - left * left / k) + (right_sq - right * right / (n as f64 - k));
        if best.is_none_or(|(_, b)| sse < b) {
            best = Some((i + 1, sse));
        }
    }
    let (idx, sse) = best?;
    (sse < 0.75 * sse_all).then_some(idx)
}

/// Points of normal level between anomalous ones that still count as one episode (a service that
/// crashes, recovers and crashes again every few minutes is one incident, not the last crash).
const EPISODE_GAP: usize = 10;

/// The start of the abnormal episode the series ends in: the change point, moved back over the
/// points before it that already departed from the baseline in the same direction (the start of
/// a ramp, or earlier bursts of a recurring failure, at most [`EPISODE_GAP`] points apart).
///
/// A least-squares split puts the change point in the middle of a ramp and at the last of a
/// series of bursts; on-call engineers want when it *began*, because that is what a change must
/// precede to be a cause.
pub fn onset(values: &[f64]) -> Option<usize> {
    let cp = change_point(values)?;
    let after = median(&values[cp..])?;
    let mut start = cp;
    // Two passes: the second measures the baseline without the part of the episode the first
    // pass found before the change point.
    for _ in 0..2 {
        let before = &values[..start];
        let (Some(base), Some(spread)) = (median(before), mad(before)) else {
            return Some(start);
        };
        let shift = after - base;
        if shift == 0.0 {
            return Some(start);
        }
        let dir = shift.signum();
        // 4 robust standard deviations, and at least a tenth of the shift.
        let threshold = (4.0 * 1.4826 * spread).max(0.1 * shift.abs());
        let anomalous = |v: f64| (v - base) * dir > threshold;
        let mut i = cp;
        let mut gap = 0;
        let mut earliest = cp;
        while i > 0 {
            i -= 1;
            if anomalous(values[i]) {
                earliest = i;
                gap = 0;
            } else {
                gap += 1;
                if gap > EPISODE_GAP.min(values.len() / 6) {
                    break;
                }
            }
        }
        if earliest == start {
            break;
        }
        start = earliest;
    }
    Some(start)
}

/// Whether a summarised series moved clearly away from its baseline: by more than four robust
/// standard deviations and by at least 10% of the baseline (or, at a zero baseline, to a nonzero
/// level). Used by the agent to decide which series keep their points and by the diagnosis.
pub fn moved(
    baseline: Option<f64>,
    spread: Option<f64>,
    current: Option<f64>,
    peak: Option<f64>,
) -> bool {
    let (Some(b), Some(level)) = (baseline, current.or(peak)) else {
        return false;
    };
    let spread = spread.unwrap_or(0.0);
    let far = |v: f64| {
        let d = (v - b).abs();
        d > 4.0 * 1.4826 * spread && d > 0.1 * b.abs() && d > 1e-9
    };
    far(level) || peak.is_some_and(|p| far(p) && far((p + level) / 2.0))
}

/// Whether a balance ran down to (nearly) nothing: it fell from a real level (at least 5) to at
/// most 2% of it, or under one unit. A credit or burst balance that slides for hours widens its
/// baseline spread, so [`moved`] may not hold while it reaches zero; reaching zero is the signal
/// (CPU credits, EBS and RDS burst balances). The lowest level after the change is the smaller of
/// `current` and `peak`.
pub fn drained(baseline: Option<f64>, current: Option<f64>, peak: Option<f64>) -> bool {
    let (Some(b), Some(level)) = (baseline, current.or(peak)) else {
        return false;
    };
    let low = match (current, peak) {
        (Some(c), Some(p)) => c.min(p),
        _ => level,
    };
    level < b && b >= 5.0 && (low <= 0.02 * b || low < 1.0)
}

/// `v` rounded to `digits` significant digits (chart points need no more, and they are most of
/// a metric's bytes on the wire).
pub fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let magnitude = v.abs().log10().floor() as i32;
    let factor = 10f64.powi(digits - 1 - magnitude);
    (v * factor).round() / factor
}

/// Chart points rounded to one step for the whole series: the largest power of ten at most a
/// thousandth of the series' largest magnitude. That is finer than a chart draws, keeps the
/// peak to about four significant digits, and drops the noise digits of quiet stretches (which
/// are most of a series' bytes on the wire).
pub fn chart_resolution(mut points: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    let max = points
        .iter()
        .map(|p| p.1.abs())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    if max == 0.0 {
        return points;
    }
    let exp = (max / 1000.0).log10().floor() as i32;
    // Multiply or divide by an exact power of ten so the result prints without float noise.
    let round = |v: f64| {
        if !v.is_finite() {
            v
        } else if exp < 0 {
            let f = 10f64.powi(-exp);
            (v * f).round() / f
        } else {
            let f = 10f64.powi(exp);
            (v / f).round() * f
        }
    };
    for p in &mut points {
        p.1 = round(p.1);
    }
    points
}

/// Reduce `points` to at most `max` points by averaging equal-width buckets (keeps the first
/// timestamp of each bucket). Order is preserved; fewer points than `max` are returned as is.
pub fn downsample(points: &[(i64, f64)], max: usize) -> Vec<(i64, f64)> {
    if max == 0 {
        return Vec::new();
    }
    if points.len() <= max {
        return points.to_vec();
    }
    let bucket = points.len().div_ceil(max);
    points
        .chunks(bucket)
        .map(|c| {
            let avg = c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64;
            (c[0].0, avg)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(mad(&[1.0, 1.0, 1.0, 100.0]), Some(0.0));
    }

    #[test]
    fn change_point_finds_a_step() {
        let mut v = vec![10.0; 50];
        v.extend(vec![90.0; 10]);
        assert_eq!(change_point(&v), Some(50));
    }

    #[test]
    fn change_point_ignores_flat_and_noise() {
        assert_eq!(change_point(&[5.0; 30]), None);
        let noisy: Vec<f64> = (0..60)
            .map(|i| if i % 2 == 0 { 9.0 } else { 11.0 })
            .collect();
        assert_eq!(change_point(&noisy), None);
    }

    #[test]
    fn onset_is_the_start_of_a_ramp_not_its_middle() {
        // Flat at 100 (±2) for 60 points, then a ramp to 400 over 40 points.
        let mut v: Vec<f64> = (0..60).map(|i| 100.0 + f64::from(i % 3) - 1.0).collect();
        v.extend((0..40).map(|i| 100.0 + 300.0 * f64::from(i) / 39.0));
        let cp = change_point(&v).expect("a change");
        let start = onset(&v).expect("an onset");
        assert!(
            start < cp,
            "onset {start} should precede the change point {cp}"
        );
        assert!((60..=64).contains(&start), "onset {start}");
    }

    #[test]
    fn onset_reaches_back_over_recurring_bursts() {
        // Zero, then bursts of 3 points every 10 points, the last one longest.
        let mut v = vec![0.0; 90];
        for burst in [60, 70, 80] {
            for x in v.iter_mut().skip(burst).take(3) {
                *x = 40.0;
            }
        }
        v.extend(vec![45.0; 8]);
        assert_eq!(onset(&v), Some(60));
        // A lone blip long before does not join the episode.
        let mut w = v.clone();
        w[10] = 40.0;
        assert_eq!(onset(&w), Some(60));
    }

    #[test]
    fn moved_needs_a_clear_departure() {
        assert!(moved(Some(100.0), Some(2.0), Some(160.0), Some(170.0)));
        assert!(!moved(Some(100.0), Some(2.0), Some(104.0), Some(106.0)));
        assert!(
            !moved(Some(100.0), Some(20.0), Some(150.0), Some(150.0)),
            "within noise"
        );
        assert!(moved(Some(0.0), Some(0.0), Some(1.0), Some(1.0)));
        assert!(!moved(Some(0.0), Some(0.0), Some(0.0), Some(0.0)));
        assert!(!moved(None, None, Some(3.0), None));
    }

    #[test]
    fn chart_points_share_one_step_of_a_thousandth_of_the_peak() {
        let p = chart_resolution(vec![(0, 0.030_03), (1, 0.028_56), (2, 1.553_2), (3, 1.839)]);
        let v: Vec<f64> = p.iter().map(|p| p.1).collect();
        assert_eq!(v, vec![0.03, 0.029, 1.553, 1.839]);
        assert_eq!(
            serde_json::to_string(&v).expect("json"),
            "[0.03,0.029,1.553,1.839]",
            "no float noise on the wire"
        );
        let big = chart_resolution(vec![(0, 3_406.2), (1, 123_456.7)]);
        assert_eq!(big[0].1, 3_400.0);
        assert_eq!(big[1].1, 123_500.0);
        let z = chart_resolution(vec![(0, 0.0), (1, 0.0)]);
        assert_eq!(z[1].1, 0.0);
        let neg = chart_resolution(vec![(0, -2.0), (1, 0.123_45)]);
        assert_eq!(neg[1].1, 0.123);
        for (_, v) in chart_resolution(vec![(0, 7.77e-9), (1, 1.0e-6)]) {
            assert!(v.is_finite());
        }
    }

    #[test]
    fn round_sig_keeps_significant_digits() {
        assert_eq!(round_sig(117.32138, 4), 117.3);
        assert_eq!(round_sig(0.0012345, 3), 0.00123);
        assert_eq!(round_sig(1_400_000_123.0, 4), 1_400_000_000.0);
        assert_eq!(round_sig(-42.25, 3), -42.3);
        assert_eq!(round_sig(0.0, 4), 0.0);
    }

    #[test]
    fn downsample_bounds_and_preserves_order() {
        let pts: Vec<(i64, f64)> = (0..181).map(|i| (i * 60, i as f64)).collect();
        let d = downsample(&pts, 60);
        assert!(d.len() <= 60, "{}", d.len());
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(downsample(&pts[..10], 60).len(), 10);
    }
}
