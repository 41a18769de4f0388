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

/// Longest a log example or context line is on the wire, in characters.
pub const MAX_EXAMPLE_CHARS: usize = 400;
/// Longest a change's request parameters are on the wire, in characters.
pub const MAX_PARAMETER_CHARS: usize = 600;
/// Longest a line or parameter text is kept before redaction (a memory bound only: CloudWatch
/// events are at most 256 KiB), in characters.
pub const MAX_LINE_CHARS: usize = 16_384;

/// `s` cut to `max` characters without splitting a character: the whole string when it fits,
/// else a window that starts a little before `focus` (a byte offset) and ends with `…` (and
/// starts with `…` when it does not start at the beginning).
pub fn window(s: &str, max: usize, focus: Option<usize>) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    // The head of a line says what it is (time, level, logger, an event's type and resources):
    // when the focus lies beyond the first window, keep a head and then the focus.
    if let Some(f) = focus {
        let head_chars = max * 2 / 5;
        let head_end = s
            .char_indices()
            .nth(head_chars)
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        if f > s
            .char_indices()
            .nth(max - max / 4)
            .map(|(i, _)| i)
            .unwrap_or(s.len())
        {
            let tail = window_at(s, max - head_chars, f);
            return format!("{}…{}", &s[..head_end], tail.trim_start_matches('…'));
        }
    }
    window_at(s, max, focus.unwrap_or(0))
}

/// `max` characters of `s` starting a quarter of them before byte offset `focus`.
fn window_at(s: &str, max: usize, focus: usize) -> String {
    // Start up to a quarter of the window before the focus, on a character boundary.
    let lead = max / 4;
    let mut focus = focus.min(s.len());
    while !s.is_char_boundary(focus) {
        focus -= 1;
    }
    let mut start = s[..focus]
        .char_indices()
        .rev()
        .nth(lead.saturating_sub(1))
        .map(|(i, _)| i)
        .unwrap_or(0);
    if focus <= lead {
        start = 0;
    }
    let body: String = s[start..].chars().take(max).collect();
    let mut out = String::with_capacity(body.len() + 6);
    if start > 0 {
        out.push('…');
    }
    out.push_str(&body);
    if start + body.len() < s.len() {
        out.push('…');
    }
    out
}

/// Where in a log line the words that matter are: the failure-signature table's match, else the
/// default error pattern's, else nowhere.
fn focus_of(line: &str) -> Option<usize> {
    convops_shared::signatures::classify(line)
        .map(|(_, (start, _))| start)
        .or_else(|| crate::collect::logs::errorish_at(line))
}

/// Cut an item's long strings to their wire length, keeping what matters: a log example around
/// the words the signature table (or the error pattern) matched, the head of a context line and
/// of a change's parameters. The encoder runs this after redaction, so a secret is masked whole
/// before anything is cut; [`fit`] measures items as they will be after it.
pub fn cut_for_wire(item: &mut EvidenceItem) {
    match item {
        EvidenceItem::Logs(l) => {
            for t in &mut l.templates {
                for e in &mut t.examples {
                    if e.chars().count() > MAX_EXAMPLE_CHARS {
                        *e = window(e, MAX_EXAMPLE_CHARS, focus_of(e));
                    }
                }
            }
            for g in &mut l.grew {
                if g.example.chars().count() > MAX_EXAMPLE_CHARS {
                    g.example = window(&g.example, MAX_EXAMPLE_CHARS, None);
                }
                if g.template.chars().count() > MAX_EXAMPLE_CHARS {
                    g.template = window(&g.template, MAX_EXAMPLE_CHARS, None);
                }
            }
            for c in &mut l.context {
                if c.chars().count() > MAX_EXAMPLE_CHARS {
                    *c = window(c, MAX_EXAMPLE_CHARS, None);
                }
            }
        }
        EvidenceItem::Change(c) => {
            if let Some(p) = &mut c.parameters {
                if p.chars().count() > MAX_PARAMETER_CHARS {
                    *p = window(p, MAX_PARAMETER_CHARS, None);
                }
            }
        }
        _ => {}
    }
}

/// Changes sent with their request parameters at their full wire length at most; the others
/// keep the head of theirs (enough for a `desiredCount`).
pub const MAX_CHANGES_WITH_PARAMETERS: usize = 8;
/// The head of a change's parameters kept when it is not among those.
pub const SHORT_PARAMETER_CHARS: usize = 160;

/// [`cut_for_wire`] over a frame, and shorter parameters for the changes that cannot have caused
/// the failure or rank low: those after the onset (the alarm series' onset, else the start of its
/// evaluation window) and those past the first [`MAX_CHANGES_WITH_PARAMETERS`] (changes are in
/// order of relevance).
pub fn cut_frame_for_wire(f: &mut convops_shared::protocol::EvidenceFrame) {
    let onset = f
        .items
        .iter()
        .find_map(|i| match i {
            EvidenceItem::Metric(m) => Some(m.summary.onset_at),
            _ => None,
        })
        .flatten()
        .unwrap_or(f.alarm.transitioned_at - f.alarm.evaluation_window_ms());
    let mut rank = 0;
    for item in &mut f.items {
        cut_for_wire(item);
        if let EvidenceItem::Change(c) = item {
            let keep = rank < MAX_CHANGES_WITH_PARAMETERS && c.at <= onset + 2 * 60_000;
            rank += 1;
            if let (false, Some(p)) = (keep, &mut c.parameters) {
                if p.chars().count() > SHORT_PARAMETER_CHARS {
                    *p = window(p, SHORT_PARAMETER_CHARS, None);
                }
            }
        }
    }
}

/// The size an item will have on the wire, once cut.
fn wire_len(item: &EvidenceItem) -> usize {
    let mut cut = item.clone();
    cut_for_wire(&mut cut);
    json_len(&cut)
}

/// Whether a series changed enough to be evidence: it moved away from its baseline, or it fell
/// to (nearly) nothing from a real level (a credit or burst balance running out over hours).
pub fn moved_or_drained(s: &MetricSummary) -> bool {
    stats::moved(s.baseline, s.baseline_spread, s.current, s.peak)
        || stats::drained(s.baseline, s.current, s.peak)
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
        let size = wire_len(&item) + 1;
        if used + size <= budget {
            used += size;
            kept.push(item);
            continue;
        }
        let slimmed = slim(&item);
        let small = wire_len(&slimmed) + 1;
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
    fn long_examples_are_cut_around_what_matters() {
        let line = format!(
            "{{\"detail-type\":\"ECS Task State Change\",\"pad\":\"{}\",\"stoppedReason\":\"Unexpected EC2 error while attempting to Create Network Interface: InsufficientFreeAddressesInSubnet\"}}",
            "x".repeat(900)
        );
        let w = window(&line, MAX_EXAMPLE_CHARS, focus_of(&line));
        assert!(w.contains("InsufficientFreeAddressesInSubnet"), "{w}");
        assert!(
            w.starts_with("{\"detail-type\":\"ECS Task State Change\""),
            "the head stays: {w}"
        );
        assert!(
            w.chars().count() <= MAX_EXAMPLE_CHARS + 2,
            "{}",
            w.chars().count()
        );
        // Short strings and strings without a focus keep their head.
        assert_eq!(window("short", 10, Some(3)), "short");
        let head = window(&"é".repeat(50), 10, None);
        assert_eq!(head, format!("{}…", "é".repeat(10)));
    }

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
