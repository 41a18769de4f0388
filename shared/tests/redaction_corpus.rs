//! The labelled redaction corpus (`shared/data/redaction/corpus.jsonl`): every labelled span must
//! be masked, every trap line must come back unchanged, and nothing outside the spans may change.
//! Spans found must equal the labelled spans exactly.

use convops_shared::redact::Redactor;

#[derive(serde::Deserialize)]
struct Record {
    id: String,
    kind: String,
    line: String,
    spans: Vec<Span>,
}

#[derive(serde::Deserialize)]
struct Span {
    start: usize,
    end: usize,
    #[serde(rename = "type")]
    kind: String,
}

/// The held-out corpus in `../shared/data/redaction`; `None` (saying which path is missing) on a
/// clone without `../shared`, where the corpus tests skip.
fn corpus() -> Option<Vec<Record>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/redaction/corpus.jsonl"
    );
    if !std::path::Path::new(path).exists() {
        eprintln!("skipped: {path} is not there (../shared is absent)");
        return None;
    }
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("corpus record"))
            .collect(),
    )
}

#[test]
fn every_span_masked_every_trap_kept() {
    let r = Redactor::new(b"corpus-test-key");
    let Some(records) = corpus() else {
        return;
    };
    let mut failures = Vec::new();
    for rec in &records {
        // Offsets are character offsets; the lines are ASCII, so they are byte offsets too.
        assert!(rec.line.is_ascii(), "{} is not ASCII", rec.id);
        let found: Vec<(usize, usize)> = r.find(&rec.line).iter().map(|s| (s.0, s.1)).collect();
        let mut want: Vec<(usize, usize)> = rec.spans.iter().map(|s| (s.start, s.end)).collect();
        want.sort();
        if found != want {
            let show = |v: &[(usize, usize)]| {
                v.iter()
                    .map(|&(s, e)| rec.line[s..e].to_owned())
                    .collect::<Vec<_>>()
            };
            failures.push(format!(
                "{} ({}; {}):\n  line:  {}\n  want:  {:?}\n  found: {:?}",
                rec.id,
                rec.kind,
                rec.spans
                    .iter()
                    .map(|s| s.kind.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                rec.line,
                show(&want),
                show(&found)
            ));
        }
        // And the rendered line: spans replaced, the rest byte for byte.
        let out = r.redact(&rec.line);
        if rec.kind == "trap" {
            assert_eq!(out, rec.line, "trap {} changed", rec.id);
        }
        for s in &rec.spans {
            let secret = &rec.line[s.start..s.end];
            assert!(
                !out.contains(secret) || secret.len() < 4,
                "{}: {secret:?} survives in {out}",
                rec.id
            );
        }
    }
    let positives = records.iter().filter(|r| r.kind == "positive").count();
    assert!(
        failures.is_empty(),
        "{} of {} records differ ({positives} positive):\n{}",
        failures.len(),
        records.len(),
        failures.join("\n")
    );
}
