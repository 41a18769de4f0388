//! Slack messages, for incoming webhooks and `chat.postMessage` alike: a `text` fallback (the
//! whole plain diagnosis, used for notifications and by clients without Block Kit) plus Block
//! Kit blocks: the title, the most likely cause with its confidence and the evidence behind it,
//! next checks, the other hypotheses, what could not be checked, and a button to the incident.
//!
//! Slack's limits (Block Kit reference): at most 50 blocks, 3000 characters in a section's text,
//! 150 in a header. We also keep the blocks to 12,000 characters in all so a long diagnosis stays
//! readable; whatever is cut is marked, and the full text is in the incident.

use serde_json::{json, Value};

use crate::diagnose::Diagnosis;

pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION_CHARS: usize = 3000;
pub const MAX_HEADER_CHARS: usize = 150;
/// Characters of block text in all.
pub const MAX_BLOCK_CHARS: usize = 12_000;
/// Characters of the `text` fallback.
pub const MAX_TEXT_CHARS: usize = 12_000;
use super::truncate;
pub use super::TRUNCATED;

/// Button ids in the diagnosis message, and the command each runs on the button's incident id
/// (`crate::chat` answers them).
pub const ACK_ACTION: &str = "convops_ack";
pub const RESOLVE_ACTION: &str = "convops_resolve";

/// Escape the three characters Slack's mrkdwn treats as control characters.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn percent(confidence: f64) -> String {
    format!("{:.0}%", (confidence * 100.0).clamp(0.0, 100.0))
}

/// Blocks under construction, within the limits.
struct Blocks {
    blocks: Vec<Value>,
    chars: usize,
    cut: bool,
}

impl Blocks {
    /// Adds a section; returns false (and adds nothing) once the message is full.
    fn section(&mut self, text: &str) -> bool {
        // One block and some characters are kept for the closing truncation notice and the link.
        if self.cut || self.blocks.len() + 3 > MAX_BLOCKS || self.chars + 200 >= MAX_BLOCK_CHARS {
            self.cut = true;
            return false;
        }
        let room = (MAX_BLOCK_CHARS - 200 - self.chars).min(MAX_SECTION_CHARS);
        let text = truncate(text, room);
        self.chars += text.chars().count();
        self.blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
        true
    }
}

/// A bold title over one escaped bullet per item.
fn bullets(title: &str, items: &[String]) -> String {
    let list: Vec<String> = items.iter().map(|i| format!("• {}", escape(i))).collect();
    format!("*{title}:*\n{}", list.join("\n"))
}

/// The message for a diagnosis; with `incident_id`, Acknowledge and Resolve buttons (handled by
/// the interactivity endpoint when the Slack app has one).
pub fn message(
    d: &Diagnosis,
    incident_id: Option<&str>,
    incident_url: &str,
    plain_text: &str,
) -> Value {
    let header = truncate(&d.title, MAX_HEADER_CHARS);
    let mut b = Blocks {
        chars: header.chars().count(),
        blocks: vec![json!({"type": "header", "text": {"type": "plain_text", "text": header}})],
        cut: false,
    };
    let mut reason = String::new();
    if !d.metric.is_empty() {
        reason.push_str(&format!("*Metric:* {}\n", escape(&d.metric)));
    }
    reason.push_str(&format!("*Reason:* {}", escape(&d.reason)));
    if let Some(onset) = d.onset_at {
        reason.push_str(&format!(
            "\n*Onset:* <!date^{}^{{date_short_pretty}} {{time_secs}}|{}>",
            onset / 1000,
            crate::diagnose::utc(onset)
        ));
    }
    b.section(&reason);
    if let Some(w) = &d.write_up {
        b.section(&format!(
            "*Summary* (written by {}, checked against the evidence below)\n{}",
            escape(&w.model),
            escape(&w.text)
        ));
    }
    let mut hs = d.hypotheses.iter();
    if let Some(h) = hs.next() {
        let mut text = format!(
            "*Most likely: {}* — `{}`, confidence {}",
            escape(&h.title),
            h.category.as_str(),
            percent(h.confidence)
        );
        for c in &h.evidence {
            text.push_str(&format!("\n• {} `[{}]`", escape(&c.fact), escape(&c.id)));
        }
        b.section(&text);
        if !h.next_checks.is_empty() {
            b.section(&bullets("Next checks", &h.next_checks));
        }
    } else {
        for f in &d.findings {
            if !b.section(&format!(
                "• {} `[{}]`",
                escape(&f.text),
                escape(&f.evidence)
            )) {
                break;
            }
        }
    }
    let others: Vec<String> = hs
        .map(|h| {
            let mut ids: Vec<&str> = Vec::new();
            for c in &h.evidence {
                if !ids.contains(&c.id.as_str()) {
                    ids.push(&c.id);
                }
            }
            format!(
                "• {} — `{}`, {} `[{}]`",
                escape(&h.title),
                h.category.as_str(),
                percent(h.confidence),
                escape(&ids.join(", "))
            )
        })
        .collect();
    if !others.is_empty() {
        b.section(&format!("*Also considered:*\n{}", others.join("\n")));
    }
    if !d.set_aside.is_empty() {
        let lines: Vec<String> = d
            .set_aside
            .iter()
            .map(|f| format!("{} [{}]", f.text, f.evidence))
            .collect();
        b.section(&bullets("Changes set aside", &lines));
    }
    if !d.unchecked.is_empty() {
        b.section(&bullets("Could not check", &d.unchecked));
    }
    if b.cut {
        b.blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!("{TRUNCATED} The rest is in the incident.")}}));
    }
    if let Some(id) = incident_id {
        b.blocks.push(json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"},
             "action_id": ACK_ACTION, "value": id},
            {"type": "button", "text": {"type": "plain_text", "text": "Resolve"},
             "action_id": RESOLVE_ACTION, "value": id, "style": "primary"},
        ]}));
    }
    let mut context = vec![
        json!({"type": "mrkdwn", "text": format!("<{}|Open the incident>", escape(incident_url))}),
    ];
    if d.masked_by_control_plane > 0 {
        context.push(json!({"type": "mrkdwn", "text": format!(
            "{} value(s) were masked by ConvOps on receipt (shown as `[type:xxxx]`).",
            d.masked_by_control_plane
        )}));
    }
    b.blocks
        .push(json!({"type": "context", "elements": context}));
    json!({ "text": truncate(plain_text, MAX_TEXT_CHARS), "blocks": b.blocks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{Category, Citation, Hypothesis};

    fn diagnosis(hypotheses: usize, long: usize) -> Diagnosis {
        Diagnosis {
            title: "orders-5xx: a deploy of orders at 10:02".into(),
            alarm: "orders-5xx".into(),
            reason: "Threshold crossed: 1 datapoint [41.5] > 5".into(),
            onset_at: Some(1_767_224_100_000),
            hypotheses: (0..hypotheses)
                .map(|i| Hypothesis {
                    category: Category::ALL[i % Category::ALL.len()],
                    confidence: 0.9 - i as f64 * 0.01,
                    title: format!("hypothesis {i} <b>&</b> {}", "x".repeat(long)),
                    evidence: (0..4)
                        .map(|j| Citation {
                            id: format!("m{j}"),
                            fact: format!("fact {j} {}", "y".repeat(long)),
                        })
                        .collect(),
                    next_checks: vec![format!("check {}", "z".repeat(long))],
                })
                .collect(),
            write_up: None,
            write_up_skipped: None,
            findings: Vec::new(),
            unchecked: (0..40)
                .map(|i| format!("source {i}: timed out {}", "w".repeat(long)))
                .collect(),
            set_aside: Vec::new(),
            metric: String::new(),
            masked_by_control_plane: 2,
        }
    }

    fn texts(m: &Value) -> Vec<String> {
        m["blocks"]
            .as_array()
            .expect("blocks")
            .iter()
            .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_top_hypothesis_leads_with_its_evidence_checks_and_a_link() {
        let d = diagnosis(3, 0);
        let m = message(
            &d,
            Some("inc_1"),
            "https://convops.example/incidents/inc_1",
            "plain",
        );
        let t = texts(&m).join("\n");
        assert!(
            t.contains("*Most likely: hypothesis 0 &lt;b&gt;&amp;&lt;/b&gt;"),
            "{t}"
        );
        assert!(t.contains("confidence 90%"), "{t}");
        assert!(t.contains("`[m3]`") && t.contains("*Next checks:*"), "{t}");
        assert!(t.contains("*Also considered:*") && t.contains("89%"), "{t}");
        assert!(t.contains("*Could not check:*"), "{t}");
        let actions = m["blocks"]
            .as_array()
            .expect("blocks")
            .iter()
            .find(|b| b["type"] == "actions")
            .expect("buttons")
            .to_string();
        assert!(actions.contains(ACK_ACTION) && actions.contains(RESOLVE_ACTION));
        assert!(actions.contains("\"value\":\"inc_1\""), "{actions}");
        let last = m["blocks"]
            .as_array()
            .expect("blocks")
            .last()
            .expect("a block")
            .clone();
        assert_eq!(last["type"], "context");
        let ctx = last.to_string();
        assert!(ctx.contains("<https://convops.example/incidents/inc_1|Open the incident>"));
        assert!(ctx.contains("2 value(s) were masked"));
        assert_eq!(m["text"], "plain");
        assert!(!t.contains(TRUNCATED));
    }

    #[test]
    fn a_huge_diagnosis_stays_within_slacks_limits_and_says_it_was_cut() {
        for (n, long) in [(200, 50), (3, 5000), (60, 400)] {
            let d = diagnosis(n, long);
            let m = message(&d, Some("inc_2"), "https://x/i", &"p".repeat(50_000));
            let blocks = m["blocks"].as_array().expect("blocks");
            assert!(blocks.len() <= MAX_BLOCKS, "{} blocks", blocks.len());
            let t = texts(&m);
            assert!(t.iter().all(|s| s.chars().count() <= MAX_SECTION_CHARS));
            let header = blocks[0]["text"]["text"].as_str().expect("header");
            assert!(header.chars().count() <= MAX_HEADER_CHARS);
            let total: usize = t.iter().map(|s| s.chars().count()).sum();
            assert!(total <= MAX_BLOCK_CHARS, "{total} characters");
            assert!(t.join("\n").contains(TRUNCATED), "the cut is marked");
            assert!(m["text"].as_str().expect("text").chars().count() <= MAX_TEXT_CHARS);
            assert!(m["text"].as_str().expect("text").ends_with(TRUNCATED));
        }
    }
}
