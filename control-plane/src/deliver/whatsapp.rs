//! WhatsApp Cloud API delivery: messages from ConvOps's business number to an on-call engineer's
//! phone, `POST {api}/{phone_number_id}/messages` with the system user's access token.
//!
//! - Within 24 hours of the number's latest message to ConvOps (Meta's customer-service window)
//!   a free-form text message goes out, at most [`MAX_TEXT_CHARS`] characters, the cut marked.
//!   Outside it only an approved template may be sent: the configured one, with three body
//!   parameters (see [`template_params`]). The window is read when the message is sent, not
//!   when it was queued.
//! - Error 131047 (re-engagement: the window is closed) is final, and the number's window is
//!   forgotten so the next message is a template. Rate-limit errors (4, 80007, 130429, 131048,
//!   131056) and transient ones are retried with backoff; messages to one number are paced at
//!   one per [`PAIR_INTERVAL`], Meta's pair rate, before Meta has to refuse them.
//! - The recipient's number is stored only in the route's encrypted target; it is found again
//!   (for replies and the window) by a keyed hash ([`contact_hash`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::diagnose::Diagnosis;
use crate::secrets::Sealer;

/// A text message's body limit.
pub const MAX_TEXT_CHARS: usize = 4096;
/// The customer-service window after a user's message.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;
/// Text is sent only while the window has at least this long to run, so it does not close while
/// the message is in flight.
pub const WINDOW_MARGIN_MS: i64 = 5 * 60 * 1000;
/// Meta's pair rate: about one message every 6 seconds from a business number to one user.
pub const PAIR_INTERVAL: Duration = Duration::from_secs(6);
/// Characters of one template parameter (Meta refuses long ones, and newlines and tabs in them).
pub const MAX_PARAM_CHARS: usize = 300;

/// The sealed target of a `whatsapp` route: the recipient's number, digits only (E.164 without
/// the `+`, as WhatsApp's `wa_id`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    pub to: String,
}

/// A phone number in international format (`+49 151 2345 6789`, `0049…`, `4915123456789`) as
/// the digits WhatsApp uses; `Err` says what is wrong.
pub fn normalize_number(s: &str) -> Result<String, String> {
    let t = s.trim();
    let t = t
        .strip_prefix('+')
        .or_else(|| t.strip_prefix("00"))
        .unwrap_or(t);
    let mut digits = String::new();
    for c in t.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            other => {
                return Err(format!(
                    "{s:?}: unexpected character {other:?} in a phone number"
                ))
            }
        }
    }
    if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(format!(
            "{s:?}: not an international number (country code first, 8 to 15 digits, e.g. +4915123456789)"
        ));
    }
    Ok(digits)
}

/// The keyed hash a number is found by (HMAC-SHA256 under a key derived from the master key):
/// the number itself is never stored in the clear.
pub fn contact_hash(sealer: &Sealer, digits: &str) -> String {
    let key = sealer.derive_key(&format!("whatsapp-contact:{digits}"));
    hex::encode(&key[..16])
}

/// A stored WhatsApp delivery: the text for inside the window and, for an incident, the
/// template parameters for outside it (a command reply has none: it answers a message, so the
/// window is open).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Body {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Vec<String>>,
}

/// One template parameter: whitespace runs (newlines, tabs) become one space, cut to
/// [`MAX_PARAM_CHARS`].
pub fn param(s: &str) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = if flat.is_empty() {
        "-".to_owned()
    } else {
        flat
    };
    super::truncate(&flat, MAX_PARAM_CHARS)
}

/// The template's three body parameters: `{{1}}` what happened, `{{2}}` one line about it,
/// `{{3}}` the incident id (for "reply *show {{3}}*"). The template to have approved reads, for
/// example: `ConvOps: {{1}}` / `{{2}}` / `Reply "show {{3}}" for the diagnosis.`
pub fn template_params(headline: &str, line: &str, incident_id: &str) -> Vec<String> {
    vec![param(headline), param(line), param(incident_id)]
}

/// `text` cut to `max` characters, keeping its last line (the incident link) and marking the cut.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let (head, last) = text.rsplit_once('\n').unwrap_or((text, ""));
    let room = max.saturating_sub(last.chars().count() + 1);
    format!("{}\n{last}", super::truncate(head, room))
        .chars()
        .take(max)
        .collect()
}

/// The message that opens an incident.
pub fn incident_body(d: &Diagnosis, incident_id: &str, plain_text: &str) -> Value {
    let hint = format!("\nReply \"ack {incident_id}\" or \"resolve {incident_id}\".");
    let room = MAX_TEXT_CHARS - hint.chars().count();
    let text = fit(&format!("*{}*\n{plain_text}", d.title.trim()), room) + &hint;
    let line = match d.hypotheses.first() {
        Some(h) => format!("Most likely: {} ({:.0}%)", h.title, h.confidence * 100.0),
        None => d.reason.clone(),
    };
    json!(Body {
        text,
        template: Some(template_params(&d.title, &line, incident_id)),
    })
}

/// An update to an incident: alarms that joined it.
pub fn update_body(incident_id: &str, text: &str, joined: usize) -> Value {
    json!(Body {
        text: fit(text, MAX_TEXT_CHARS),
        template: Some(template_params(
            &format!("update on incident {incident_id}"),
            &format!("{joined} related alarm(s) joined this incident"),
            incident_id,
        )),
    })
}

/// A reply to a command.
pub fn reply_body(text: &str) -> Value {
    json!(Body {
        text: fit(text, MAX_TEXT_CHARS),
        template: None,
    })
}

/// A free-form text message (inside the window).
pub fn text_message(to: &str, text: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": false, "body": fit(text, MAX_TEXT_CHARS)},
    })
}

/// A template message (outside the window).
pub fn template_message(to: &str, name: &str, language: &str, params: &[String]) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|p| json!({"type": "text", "text": param(p)}))
        .collect();
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [{"type": "body", "parameters": parameters}],
        },
    })
}

/// What to do about a Cloud API error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A throughput, pair or account rate limit: wait and retry.
    RateLimited,
    /// Meta's side is unavailable: retry.
    Transient,
    /// 131047: the 24-hour window is closed; text cannot be sent. Final.
    WindowClosed,
    /// The token, number, template or message is wrong: retrying cannot help.
    Final,
}

pub fn verdict(code: i64) -> Verdict {
    match code {
        4 | 80007 | 130429 | 131048 | 131056 => Verdict::RateLimited,
        1 | 2 | 131000 | 131016 | 131057 | 133004 => Verdict::Transient,
        131047 => Verdict::WindowClosed,
        _ => Verdict::Final,
    }
}

/// A Graph API error body's code and a one-line description (`(#131047) Re-engagement message:
/// details`).
pub fn graph_error(body: &str) -> Option<(i64, String)> {
    let v: Value = serde_json::from_str(body).ok()?;
    let e = &v["error"];
    let code = e["code"].as_i64()?;
    let message = e["message"].as_str().unwrap_or("no message");
    let line = match e["error_data"]["details"].as_str() {
        Some(d) if !d.is_empty() => format!("{message}: {d}"),
        _ => message.to_owned(),
    };
    Some((code, line.chars().take(300).collect()))
}

/// The WhatsApp side of the delivery worker: the business number's settings and the pacing.
#[derive(Debug)]
pub struct Sender {
    pub settings: crate::config::WhatsAppSettings,
    pub pacer: Pacer,
}

impl Sender {
    pub fn new(settings: crate::config::WhatsAppSettings) -> Self {
        Sender {
            settings,
            pacer: Pacer::default(),
        }
    }

    /// `POST {api}/{phone_number_id}/messages`.
    pub fn messages_url(&self) -> String {
        format!(
            "{}/{}/messages",
            self.settings.api_url.as_str().trim_end_matches('/'),
            self.settings.phone_number_id
        )
    }
}

/// Paces messages per recipient at one per [`PAIR_INTERVAL`].
#[derive(Debug, Default)]
pub struct Pacer {
    last: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// How long to wait before messaging `who` again; `None`: now is fine, and now is recorded.
    pub fn claim(&self, who: &str, interval: Duration) -> Option<Duration> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some(t) = last.get(who) {
            let since = now.duration_since(*t);
            if since < interval {
                return Some(interval - since);
            }
        }
        last.insert(who.to_owned(), now);
        // Bounded: entries older than the interval no longer matter.
        if last.len() > 10_000 {
            last.retain(|_, t| now.duration_since(*t) < interval);
        }
        None
    }

    /// `who` was just answered: the interval counts from here, so it holds between the requests'
    /// arrivals at Meta however long the earlier one took.
    pub fn answered(&self, who: &str) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.insert(who.to_owned(), Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_normalise_to_digits_or_say_what_is_wrong() {
        assert_eq!(
            normalize_number("+49 151 2345-6789").as_deref(),
            Ok("4915123456789")
        );
        assert_eq!(
            normalize_number("0049 (151) 23456789").as_deref(),
            Ok("4915123456789")
        );
        assert_eq!(
            normalize_number("16505551234").as_deref(),
            Ok("16505551234")
        );
        assert!(normalize_number("0151 2345678")
            .expect_err("national")
            .contains("international"));
        assert!(normalize_number("+1 650 CALL ME")
            .expect_err("letters")
            .contains("unexpected character 'C'"));
        assert!(normalize_number("+123").is_err());
    }

    #[test]
    fn template_parameters_have_no_newlines_tabs_or_long_runs() {
        let p = param("db\tfailover\n\n   at     03:00");
        assert_eq!(p, "db failover at 03:00");
        let long = param(&"x".repeat(5000));
        assert_eq!(long.chars().count(), MAX_PARAM_CHARS);
        assert!(long.ends_with(super::super::TRUNCATED));
        assert_eq!(param("  \n "), "-", "Meta refuses empty parameters");
    }

    #[test]
    fn long_text_is_cut_to_the_limit_keeping_the_link_and_the_reply_hint() {
        let d = Diagnosis {
            title: "orders-5xx: 5xx after a deploy".into(),
            alarm: "orders-5xx".into(),
            reason: "Threshold crossed".into(),
            onset_at: None,
            hypotheses: Vec::new(),
            write_up: None,
            write_up_skipped: None,
            findings: Vec::new(),
            unchecked: Vec::new(),
            set_aside: Vec::new(),
            metric: String::new(),
            masked_by_control_plane: 0,
        };
        let plain = format!(
            "{}\nIncident: https://convops.example/i/inc_1",
            "evidence line\n".repeat(1000)
        );
        let b: Body = serde_json::from_value(incident_body(&d, "inc_1", &plain)).expect("body");
        let n = b.text.chars().count();
        assert!(n <= MAX_TEXT_CHARS, "{n}");
        assert!(b.text.contains(super::super::TRUNCATED));
        assert!(b.text.contains("Incident: https://convops.example/i/inc_1"));
        assert!(b
            .text
            .ends_with("Reply \"ack inc_1\" or \"resolve inc_1\"."));
        let t = b.template.expect("template");
        assert_eq!(t.len(), 3);
        assert_eq!(t[2], "inc_1");
        assert_eq!(t[1], "Threshold crossed");

        let short: Body =
            serde_json::from_value(incident_body(&d, "inc_1", "short")).expect("body");
        assert!(!short.text.contains(super::super::TRUNCATED));
        let m = text_message("4915123456789", &"é".repeat(9000));
        assert_eq!(
            m["text"]["body"].as_str().expect("body").chars().count(),
            MAX_TEXT_CHARS
        );
    }

    #[test]
    fn error_codes_decide_retry_or_final() {
        for code in [4, 80007, 130429, 131048, 131056] {
            assert_eq!(verdict(code), Verdict::RateLimited, "{code}");
        }
        assert_eq!(verdict(131047), Verdict::WindowClosed);
        assert_eq!(verdict(131000), Verdict::Transient);
        assert_eq!(verdict(190), Verdict::Final);
        assert_eq!(verdict(132001), Verdict::Final, "template does not exist");
        let body = r#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#;
        let (code, line) = graph_error(body).expect("parsed");
        assert_eq!(code, 131047);
        assert!(line.starts_with("(#131047) Re-engagement message: Message failed"));
        assert_eq!(graph_error("<html>bad gateway</html>"), None);
    }

    #[test]
    fn the_pacer_spaces_messages_to_one_number() {
        let p = Pacer::default();
        assert_eq!(p.claim("a", PAIR_INTERVAL), None);
        let wait = p.claim("a", PAIR_INTERVAL).expect("too soon");
        assert!(wait > Duration::from_secs(5) && wait <= PAIR_INTERVAL);
        assert_eq!(
            p.claim("b", PAIR_INTERVAL),
            None,
            "another number is not held up"
        );
        assert_eq!(p.claim("a", Duration::ZERO), None);
    }
}
