//! Reduction at the edge: turn raw series into small, faithful summaries.

use convops_shared::evidence::{EvidenceItem, MetricSummary};
use convops_shared::{host_changes, stats};

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
    if let Some(w) = json_window(s, max, focus) {
        return w;
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

/// A long line that carries a JSON object (an EventBridge event, a structured log line), cut to
/// `max` characters by its fields rather than by position: a window of the text would keep the
/// envelope (`version`, `id`, `account`, `time`, ARNs) and lose the fields that say what
/// happened, which sit deep in `detail`. The fields kept are copied verbatim as `"key":value`
/// pairs, in their order, with `…` where pairs were left out; first the pair around `focus`, then
/// the fields of the event itself before those of the lists inside it (those whose key says what
/// the event is, a type, name, status, reason, code or message, first at each depth), then
/// identifiers and ARNs, then the envelope, until `max` is reached. `None` when the line holds no such object.
fn json_window(s: &str, max: usize, focus: Option<usize>) -> Option<String> {
    let open = s.find('{')?;
    if !s.trim_end().ends_with('}') {
        return None;
    }
    let pairs = scalar_pairs(s, open);
    if pairs.len() < 2 {
        return None;
    }
    // Keys of the EventBridge envelope that every event has and that say nothing of this one
    // (https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html).
    // The words the focus points at must survive: in the text before the object, only when that
    // text is kept whole; in a pair, only when the pair fits (else a positional window, which
    // keeps the head and the focus, does better).
    let focus_pair = focus.map(|f| pairs.iter().position(|p| f >= p.span.0 && f < p.span.1));
    if focus.is_some_and(|f| f < open && s[..open].chars().count() > max / 4) {
        return None;
    }
    let rank = |i: usize| -> u8 {
        let key = s[pairs[i].key.0..pairs[i].key.1].to_ascii_lowercase();
        if focus_pair == Some(Some(i)) {
            0
        } else if matches!(
            key.as_str(),
            "version" | "id" | "account" | "time" | "region" | "timestamp"
        ) {
            4
        } else if [
            "type", "name", "status", "reason", "code", "message", "msg", "error", "state",
            "source", "level", "severity",
        ]
        .iter()
        .any(|k| key.ends_with(k))
        {
            1
        } else if key.ends_with("arn") || key.ends_with("id") || key == "resources" {
            3
        } else {
            2
        }
    };
    let prefix = window_at(&s[..open], max / 4, 0);
    let budget = max.saturating_sub(prefix.chars().count() + 4);
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    // The fields that say what happened (ranks 1 and 2) shallowest first, so that the event's
    // own fields come before those of the lists inside it; then identifiers; the envelope last.
    // Each pair ranked once (the rank lower-cases its key), not once per comparison.
    order.sort_by_cached_key(|&i| {
        let r = rank(i);
        let tier = match r {
            0 => 0,
            1 | 2 => 1,
            3 => 2,
            _ => 3,
        };
        (tier, pairs[i].depth, r, i)
    });
    let mut chosen = vec![false; pairs.len()];
    let mut used = 0;
    for i in order {
        // The pair and, at most, the `,…,` before it.
        let len = s[pairs[i].span.0..pairs[i].span.1].chars().count() + 3;
        if used + len <= budget {
            used += len;
            chosen[i] = true;
        }
    }
    match focus_pair {
        Some(Some(i)) if !chosen[i] => return None,
        Some(None) if focus.is_some_and(|f| f >= open) => return None,
        _ => {}
    }
    let mut out = prefix;
    out.push('{');
    let mut last: Option<usize> = None;
    for (i, p) in pairs.iter().enumerate() {
        if !chosen[i] {
            continue;
        }
        // Pairs next to each other in the text are joined as they were; anything else between
        // them (left-out pairs, an object or list opening or closing) is shown as `…`.
        let between =
            |from: usize| s[from..p.span.0].trim_matches(|c: char| c == ',' || c.is_whitespace());
        match last {
            None if !between(open + 1).is_empty() => out.push_str("…,"),
            Some(l) if !between(pairs[l].span.1).is_empty() => out.push_str(",…,"),
            Some(_) => out.push(','),
            None => {}
        }
        out.push_str(&s[p.span.0..p.span.1]);
        last = Some(i);
    }
    let tail = &s[pairs[last?].span.1..];
    if !tail
        .trim_matches(|c: char| c == ',' || c == '}' || c.is_whitespace())
        .is_empty()
    {
        out.push_str(",…");
    }
    out.push('}');
    Some(out)
}

/// A `"key":value` pair of a JSON text whose value is a string, number, `true`, `false` or
/// `null`: byte spans of the whole pair and of the key's text.
struct Pair {
    span: (usize, usize),
    key: (usize, usize),
    /// Objects and arrays around the pair: the event's own fields are shallower than those of
    /// the lists inside it (each container of a task, each attachment).
    depth: u32,
}

/// The scalar pairs of the JSON text starting at `from`, at any depth, in order. A lenient
/// scanner: it needs no valid document (the text may have been cut), only quoted strings with
/// backslash escapes; it runs in one pass.
fn scalar_pairs(s: &str, from: usize) -> Vec<Pair> {
    let b = s.as_bytes();
    // The end (exclusive) of the string literal opening at `i`.
    let string_end = |mut i: usize| -> usize {
        i += 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        b.len()
    };
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut out = Vec::new();
    let mut i = from;
    let mut depth: u32 = 0;
    while i < b.len() {
        if b[i] != b'"' {
            match b[i] {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
            continue;
        }
        let key_end = string_end(i);
        let colon = skip_ws(key_end);
        if colon >= b.len() || b[colon] != b':' {
            i = key_end;
            continue;
        }
        let v = skip_ws(colon + 1);
        let end = match b.get(v) {
            Some(b'"') => string_end(v),
            Some(c) if c.is_ascii_digit() || matches!(c, b'-' | b't' | b'f' | b'n') => {
                let mut e = v;
                while e < b.len()
                    && !matches!(b[e], b',' | b'}' | b']')
                    && !b[e].is_ascii_whitespace()
                {
                    e += 1;
                }
                e
            }
            // A list of scalars (`"capacityProviderArns":["arn:…"]`) is kept whole; 0 for a list
            // of objects or lists.
            Some(b'[') => {
                let mut e = v + 1;
                loop {
                    match b.get(e) {
                        Some(b'"') => e = string_end(e),
                        Some(b']') => break e + 1,
                        Some(b'{' | b'[') | None => break 0,
                        Some(_) => e += 1,
                    }
                }
            }
            // An object: its own pairs come next.
            _ => 0,
        };
        if end == 0 {
            i = v;
            continue;
        }
        if end <= b.len() && s.is_char_boundary(end) {
            out.push(Pair {
                span: (i, end),
                key: (i + 1, key_end.saturating_sub(1).max(i + 1)),
                depth,
            });
        }
        i = end;
    }
    out
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
            for t in &mut l.changes {
                for e in &mut t.examples {
                    if e.chars().count() > MAX_EXAMPLE_CHARS {
                        let focus = host_changes::classify(e).map(|(_, (start, _))| start);
                        *e = window(e, MAX_EXAMPLE_CHARS, focus);
                    }
                }
                if t.template.chars().count() > MAX_EXAMPLE_CHARS {
                    t.template = window(&t.template, MAX_EXAMPLE_CHARS, None);
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
    fn long_json_events_keep_the_fields_that_say_what_happened() {
        let arn = |kind: &str, name: &str| {
            format!("arn:aws:ecs:eu-west-1:123456789012:{kind}/prod-cluster/{name}")
        };
        let containers: Vec<String> = (0..4)
            .map(|i| {
                format!(
                    r#"{{"containerArn":"{}","lastStatus":"STOPPED","name":"sidecar-{i}","image":"123456789012.dkr.ecr.eu-west-1.amazonaws.com/sidecar:{i}","runtimeId":"{}"}}"#,
                    arn("container", &format!("c{i:031}")),
                    "f".repeat(64)
                )
            })
            .collect();
        let line = format!(
            r#"{{"version":"0","id":"0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0","detail-type":"ECS Task State Change","source":"aws.ecs","account":"123456789012","time":"2024-11-29T11:29:00Z","region":"eu-west-1","resources":["{task}"],"detail":{{"clusterArn":"{cluster}","taskArn":"{task}","group":"service:resizer","launchType":"FARGATE","capacityProviderName":"FARGATE_SPOT","containers":[{containers}],"lastStatus":"STOPPED","desiredStatus":"STOPPED","stopCode":"SpotInterruption","stoppedReason":"Your Spot Task was \"interrupted\".","taskDefinitionArn":"{td}"}}}}"#,
            task = arn("task", &"a".repeat(32)),
            cluster = arn("cluster", "x"),
            td = "arn:aws:ecs:eu-west-1:123456789012:task-definition/resizer:7",
            containers = containers.join(","),
        );
        assert!(line.chars().count() > 2 * MAX_EXAMPLE_CHARS);
        let focus = line.find("SpotInterruption");
        let w = window(&line, MAX_EXAMPLE_CHARS, focus);
        assert!(w.chars().count() <= MAX_EXAMPLE_CHARS + 2, "{w}");
        for kept in [
            r#""detail-type":"ECS Task State Change""#,
            r#""capacityProviderName":"FARGATE_SPOT""#,
            r#""stopCode":"SpotInterruption""#,
            r#""stoppedReason":"Your Spot Task was \"interrupted\".""#,
            r#""group":"service:resizer""#,
        ] {
            assert!(w.contains(kept), "{kept} missing from {w}");
        }
        // The lists inside the event give way to its own fields.
        assert!(!w.contains("sidecar-3"), "{w}");
        assert!(w.contains('…'), "{w}");
        // A list of plain values is one field, kept whole.
        let listed = format!(
            r#"{{"detail-type":"ECS Service Action","pad":"{}","detail":{{"eventName":"SERVICE_TASK_PLACEMENT_FAILURE","capacityProviderArns":["arn:aws:ecs:eu-west-1:123456789012:capacity-provider/FARGATE_SPOT"]}}}}"#,
            "p".repeat(600)
        );
        let w = window(&listed, MAX_EXAMPLE_CHARS, None);
        assert!(
            w.contains(r#""capacityProviderArns":["arn:aws:ecs:eu-west-1:123456789012:capacity-provider/FARGATE_SPOT"]"#),
            "{w}"
        );
        // A field too long to keep, or a focus in a long text before the object: the words the
        // focus points at are kept by a positional window instead.
        let long_message = format!(
            r#"{{"level":"error","logger":"db","message":"{} connection refused by upstream","ts":"2024"}}"#,
            "q".repeat(600)
        );
        let w = window(
            &long_message,
            MAX_EXAMPLE_CHARS,
            long_message.find("connection refused"),
        );
        assert!(w.contains("connection refused"), "{w}");
        let prefixed = format!(
            "{} java.net.ConnectException: Connection refused context={{\"a\":\"{}\",\"b\":1}}",
            "p".repeat(150),
            "z".repeat(600)
        );
        let w = window(
            &prefixed,
            MAX_EXAMPLE_CHARS,
            prefixed.find("ConnectException"),
        );
        assert!(w.contains("ConnectException"), "{w}");
        // Many short pairs far apart: the `…` between them counts against the limit too.
        let sparse = format!(
            "{{{}}}",
            (0..100)
                .map(|i| format!(r#""a{i}":{{"type":"x"}}"#))
                .collect::<Vec<_>>()
                .join(",")
        );
        let w = window(&sparse, MAX_EXAMPLE_CHARS, None);
        assert!(
            w.chars().count() <= MAX_EXAMPLE_CHARS + 2,
            "{}",
            w.chars().count()
        );
        // A line that is not a JSON object, or whose object was cut off, is windowed by position.
        let cut = &line[..line.len() - 40];
        assert!(!window(cut, MAX_EXAMPLE_CHARS, None).contains(",…,"));
        let plain = format!("ERROR {} SpotInterruption", "y".repeat(600));
        let w = window(&plain, MAX_EXAMPLE_CHARS, plain.find("Spot"));
        assert!(w.ends_with("SpotInterruption"), "{w}");
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
