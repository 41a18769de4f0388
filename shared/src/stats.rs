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
    fn downsample_bounds_and_preserves_order() {
        let pts: Vec<(i64, f64)> = (0..181).map(|i| (i * 60, i as f64)).collect();
        let d = downsample(&pts, 60);
        assert!(d.len() <= 60, "{}", d.len());
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(downsample(&pts[..10], 60).len(), 10);
    }
}
