//! Slack incoming-webhook messages: a `text` fallback plus Block Kit sections, within Slack's
//! limits (at most 50 blocks, 3000 characters per section text).

use serde_json::json;

use crate::diagnose::Diagnosis;

pub const MAX_SECTION_CHARS: usize = 3000;
pub const MAX_BLOCKS: usize = 50;

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(16)).collect();
    out.push_str(" …[truncated]");
    out
}

/// Escape the three characters Slack's mrkdwn treats as control characters.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn message(d: &Diagnosis, incident_url: &str, plain_text: &str) -> serde_json::Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&d.title, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&format!("*Reason:* {}", escape(&d.reason)), MAX_SECTION_CHARS)}}),
    ];
    for f in &d.findings {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": truncate(&format!("• {} `[{}]`", escape(&f.text), escape(&f.evidence)), MAX_SECTION_CHARS)}}));
    }
    if !d.unchecked.is_empty() {
        let list = d
            .unchecked
            .iter()
            .map(|u| format!("• {}", escape(u)))
            .collect::<Vec<_>>()
            .join("\n");
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": truncate(&format!("*Could not check:*\n{list}"), MAX_SECTION_CHARS)}}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Incident (API, workspace key): `{}`", escape(incident_url))}]}));
    if blocks.len() > MAX_BLOCKS {
        blocks.truncate(MAX_BLOCKS - 1);
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": "…[more findings truncated; open the incident]"}}));
    }
    json!({ "text": truncate(plain_text, 12_000), "blocks": blocks })
}
