//! Reduction at the edge: turn raw series into small, faithful summaries.

use convops_shared::evidence::{EvidenceItem, MetricSummary};
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
    // Four significant digits say all a diagnosis reads from a level; more are noise on the wire.
    let sig = |v: Option<f64>| v.map(|v| stats::round_sig(v, 4));
    MetricSummary {
        datapoints: points.len() as u32,
        baseline: sig(baseline),
        baseline_spread: sig(stats::mad(before)),
        current: sig(stats::median(after)),
        peak: sig(peak),
        onset_at: onset_idx.map(|i| points[i].0),
    }
}

/// Bytes of `v` as compact JSON.
pub fn json_len<T: serde::Serialize>(v: &T) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0)
}

/// The item without what can go first: chart points, all but one example per log template, the
/// context lines, CloudTrail parameters, all but the latest service events.
fn slim(item: &EvidenceItem) -> EvidenceItem {
    let mut item = item.clone();
    match &mut item {
        EvidenceItem::Metric(m) => m.points.clear(),
        EvidenceItem::Logs(l) => {
            l.context.clear();
            for t in &mut l.templates {
                t.examples.truncate(1);
            }
        }
        EvidenceItem::Change(c) => c.parameters = None,
        EvidenceItem::EcsService(s) => s.events.truncate(2),
        EvidenceItem::Resource(r) => r.details.truncate(2),
    }
    item
}

/// Fill `budget` bytes with `items` in their (priority) order: an item that does not fit whole is
/// slimmed, and left out when even that does not fit; later, smaller items may still fit.
/// Deterministic. Returns the items kept and a note per item trimmed or left out.
pub fn fit(items: Vec<EvidenceItem>, budget: usize) -> (Vec<EvidenceItem>, Vec<String>) {
    let mut used = 0;
    let mut kept = Vec::with_capacity(items.len());
    let mut omitted = Vec::new();
    for item in items {
        // +1 for the comma between items.
        let size = json_len(&item) + 1;
        if used + size <= budget {
            used += size;
            kept.push(item);
            continue;
        }
        let slimmed = slim(&item);
        let small = json_len(&slimmed) + 1;
        if used + small <= budget {
            used += small;
            omitted.push(format!("{}: trimmed to fit the evidence budget", item.id()));
            kept.push(slimmed);
        } else {
            omitted.push(format!(
                "{}: left out by the evidence budget ({size} bytes)",
                item.id()
            ));
        }
    }
    (kept, omitted)
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

    fn metric(id: &str, points: usize) -> EvidenceItem {
        EvidenceItem::Metric(convops_shared::evidence::MetricEvidence {
            id: id.into(),
            namespace: "AWS/ECS".into(),
            metric_name: "CPUUtilization".into(),
            dimensions: Default::default(),
            statistic: "Average".into(),
            period_secs: 60,
            summary: summarise(&[], 0, 0),
            points: (0..points as i64).map(|i| (i * 60_000, 1.5)).collect(),
        })
    }

    #[test]
    fn the_budget_keeps_priority_order_slims_then_leaves_out() {
        let items = vec![
            metric("m1", 60),
            metric("m2", 60),
            metric("m3", 0),
            metric("m4", 60),
        ];
        let whole = json_len(&items[0]) + 1;
        let bare = json_len(&items[2]) + 1;
        // Room for one whole series and two without points.
        let (kept, omitted) = fit(items.clone(), whole + 2 * bare);
        let ids: Vec<&str> = kept.iter().map(|i| i.id()).collect();
        assert_eq!(ids, ["m1", "m2", "m3"]);
        let EvidenceItem::Metric(m2) = &kept[1] else {
            panic!()
        };
        assert!(m2.points.is_empty(), "m2 was slimmed");
        assert_eq!(omitted.len(), 2, "{omitted:?}");
        assert!(omitted[0].starts_with("m2: trimmed"));
        assert!(omitted[1].starts_with("m4: left out"));
        let total: usize = kept.iter().map(|i| json_len(i) + 1).sum();
        assert!(total <= whole + 2 * bare);
        // Same input, same output.
        assert_eq!(fit(items.clone(), whole + 2 * bare).0, kept);
        // A large budget keeps everything untouched.
        let (all, none) = fit(items.clone(), 1 << 20);
        assert_eq!(all, items);
        assert!(none.is_empty());
    }

    #[test]
    fn empty_series_is_summarised_without_panicking() {
        let s = summarise(&[], 0, 0);
        assert_eq!(s.datapoints, 0);
        assert_eq!(s.baseline, None);
    }
}
