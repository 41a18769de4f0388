//! Replays a scenario through the real product and scores the result (FORMAT.md "Runner
//! output"): moto plus the CBOR adapter and a CloudTrail server stand in for AWS, the real
//! control plane and agent run as processes, and a local Slack receiver takes the delivery.
//!
//! The leak check looks for every `expect.secrets` string in everything that left the account:
//! every frame the agent sent, recorded by a tap on its websocket before the control plane's own
//! re-redaction could hide an agent-side leak; every file of the control plane's data
//! directory (database and its WAL), every API answer the runner read, and every chat message
//! (Slack's, and WhatsApp's when it is on).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::cbor::CborAdapter;
use crate::chat::SlackReceiver;
use crate::cloudtrail::{self, CloudTrailServer};
use crate::moto::Moto;
use crate::procs::{self, AwsEndpoints, ControlPlaneSetup};
use crate::scenario::{self, Scenario};
use crate::tap::Tap;
use convops_shared::evidence::EvidenceItem;

/// The emulator, shared by the scenarios of one run and reset between them.
pub struct Emulator {
    pub moto: Moto,
    pub adapter: CborAdapter,
}

impl Emulator {
    pub async fn start() -> anyhow::Result<Emulator> {
        let moto = Moto::start().await?;
        let adapter = CborAdapter::start(&moto.endpoint()).await?;
        Ok(Emulator { moto, adapter })
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// How long to wait for the delivered diagnosis.
    pub timeout: Duration,
    /// Write the stored evidence frames to `DIR/<scenario>.json` (for the diagnosis benchmark).
    pub save_evidence: Option<std::path::PathBuf>,
    /// After the alarm's diagnosis, ask for the alarm again with a signed Slack slash command
    /// (`/convops investigate <alarm>`) and wait for the answer at the command's `response_url`.
    pub investigate_from_chat: bool,
    /// Turn WhatsApp on with a linked on-call number; after the alarm's diagnosis, send
    /// `investigate <alarm>` from that number (a webhook signed as Meta signs it) and wait for
    /// the diagnosis to come back to it.
    pub investigate_from_whatsapp: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(120),
            save_evidence: None,
            investigate_from_chat: false,
            investigate_from_whatsapp: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hypothesis {
    pub category: String,
    pub confidence: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SourceOutcome {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub raw_bytes: u64,
    /// The source's items as JSON in the frame, before the frame is compressed for the wire
    /// (so these do not add up to [`Outcome::evidence_bytes`]).
    pub sent_bytes: u64,
    pub api_calls: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Leak {
    pub secret: String,
    /// Where it was found: `agent_evidence`, `database`, `api`, `chat`.
    pub places: Vec<String>,
}

/// The runner output object of FORMAT.md, plus the verdicts derived from `expect`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Outcome {
    pub scenario: String,
    pub file: String,
    pub expected_root_cause: String,
    /// The top-ranked hypothesis' category; `null` when the diagnosis ranked none.
    pub root_cause: Option<String>,
    pub correct: bool,
    pub hypotheses: Vec<Hypothesis>,
    /// The chat message exactly as delivered (Slack's `text`).
    pub message: String,
    pub must_cite_found: Vec<String>,
    pub must_cite_missing: Vec<String>,
    /// `must_cite` strings absent from the evidence the agent gathered: a fact the diagnosis
    /// needs that no source found (as opposed to one the diagnosis left out).
    pub evidence_missing: Vec<String>,
    pub raw_bytes: u64,
    pub evidence_bytes: u64,
    pub detect_to_deliver_ms: i64,
    pub sources: BTreeMap<String, SourceOutcome>,
    pub leaked_secrets: Vec<String>,
    pub leaks: Vec<Leak>,
    pub elapsed_ms: u64,
    /// With [`Options::investigate_from_chat`]: what the chat saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_investigation: Option<ChatInvestigation>,
    /// With [`Options::investigate_from_whatsapp`]: what the WhatsApp conversation saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp_investigation: Option<ChatInvestigation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The slash command's immediate reply and the diagnosis that came back to its conversation.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChatInvestigation {
    pub reply: serde_json::Value,
    /// The message posted to the command's `response_url`.
    pub answer: serde_json::Value,
    /// From the command's reply to the answer's arrival.
    pub answer_ms: i64,
}

/// Sends `/convops investigate <target>` as Slack would (signed) and waits for the answer.
pub async fn investigate_from_chat(
    cp: &ControlPlaneSetup,
    slack: &SlackReceiver,
    target: &str,
    timeout: Duration,
) -> anyhow::Result<ChatInvestigation> {
    use hmac::{Hmac, Mac};
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("team_id", crate::procs::SLACK_TEAM)
        .append_pair("channel_id", "C0ONCALL")
        .append_pair("user_id", "U0ONCALL")
        .append_pair("user_name", "oncall")
        .append_pair("command", "/convops")
        .append_pair("text", &format!("investigate {target}"))
        .append_pair("response_url", &slack.response_url())
        .append_pair("trigger_id", &format!("trig-{}", rand::random::<u64>()))
        .finish();
    let ts = now_secs();
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(crate::procs::SLACK_SIGNING_SECRET.as_bytes())?;
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    let before = slack.messages().len();
    let sent_at = std::time::Instant::now();
    let reply: serde_json::Value = cp
        .https_client()?
        .post(format!("{}/api/v1/slack/commands", cp.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header(
            "x-slack-signature",
            format!("v0={}", hex::encode(mac.finalize().into_bytes())),
        )
        .body(body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let deadline = Instant::now() + timeout;
    let answer = loop {
        if let Some(m) = slack
            .messages()
            .into_iter()
            .skip(before)
            .find(|m| m.path.starts_with("/commands/"))
        {
            break m;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no answer at the command's response_url within {timeout:?} (reply was {reply})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    Ok(ChatInvestigation {
        reply,
        answer: answer.body,
        answer_ms: sent_at.elapsed().as_millis() as i64,
    })
}

/// Sends `investigate <target>` from the linked on-call number as Meta delivers a WhatsApp
/// message (signed with the app secret) and waits for the command's reply and the diagnosis in
/// that conversation.
async fn investigate_from_whatsapp(
    cp: &ControlPlaneSetup,
    meta: &SlackReceiver,
    target: &str,
    timeout: Duration,
) -> anyhow::Result<ChatInvestigation> {
    use hmac::{Hmac, Mac};
    let oncall = crate::procs::WHATSAPP_ONCALL;
    let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": crate::chat::WHATSAPP_PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "On Call"}, "wa_id": oncall}],
            "messages": [{"from": oncall, "id": format!("wamid.IN{}", rand::random::<u64>()),
                "timestamp": now_secs().to_string(), "type": "text", "text": {"body": format!("investigate {target}")}}],
        }
    }]}]})
    .to_string();
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(crate::procs::WHATSAPP_APP_SECRET.as_bytes())?;
    mac.update(body.as_bytes());
    let before = meta.messages().len();
    let sent_at = std::time::Instant::now();
    cp.https_client()?
        .post(format!("{}/api/v1/whatsapp/webhook", cp.base_url()))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
        )
        .body(body)
        .send()
        .await?
        .error_for_status()?;
    let deadline = Instant::now() + timeout;
    // The reply to the command, then the diagnosis (which ends with how to acknowledge it).
    loop {
        let texts: Vec<crate::chat::Received> = meta
            .messages()
            .into_iter()
            .skip(before)
            .filter(|m| m.body["to"] == oncall && m.body["type"] == "text")
            .collect();
        let reply = texts
            .iter()
            .find(|m| m.text().contains("asked to investigate"));
        let answer = texts.iter().find(|m| m.text().contains("Reply \"ack "));
        if let (Some(reply), Some(answer)) = (reply, answer) {
            return Ok(ChatInvestigation {
                reply: reply.body.clone(),
                answer: answer.body.clone(),
                answer_ms: sent_at.elapsed().as_millis() as i64,
            });
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no diagnosis back in the WhatsApp conversation within {timeout:?} (got {} message(s); rejected: {:?})",
            texts.len(),
            meta.rejections()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Run one scenario file. Never fails: a scenario that cannot be run has `error` set.
pub async fn run_file(emu: &Emulator, path: &Path, opts: &Options) -> Outcome {
    let started = Instant::now();
    let mut outcome = match scenario::load(path) {
        Ok(s) => match run(emu, &s, opts).await {
            Ok(o) => o,
            Err(e) => Outcome {
                scenario: s.name.clone(),
                expected_root_cause: s.expect.root_cause.clone(),
                error: Some(format!("{e:#}")),
                ..Outcome::default()
            },
        },
        Err(e) => Outcome {
            scenario: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            error: Some(e.to_string()),
            ..Outcome::default()
        },
    };
    outcome.file = path.display().to_string();
    outcome.elapsed_ms = started.elapsed().as_millis() as u64;
    outcome
}

/// Run one parsed scenario.
pub async fn run(emu: &Emulator, s: &Scenario, opts: &Options) -> anyhow::Result<Outcome> {
    emu.moto.reset().await.context("resetting the emulator")?;
    let t0 = now_secs();
    let trail =
        CloudTrailServer::start(cloudtrail::events(&s.cloudtrail, t0, &s.region, &s.name)).await?;
    let slack = SlackReceiver::start().await?;
    // Meta's Cloud API, when WhatsApp is on.
    let meta = SlackReceiver::start().await?;
    let aws = AwsEndpoints {
        region: s.region.clone(),
        default: emu.moto.endpoint(),
        cloudwatch: emu.adapter.endpoint(),
        cloudtrail: Some(trail.endpoint()),
        overrides: Vec::new(),
    };
    eprintln!("convops-scenario: {}: seeding the emulator", s.name);
    let s = crate::seed::seed(s, &aws, t0)
        .await
        .context("seeding the emulator")?;

    let dir = tempfile::tempdir()?;
    let mut cp = ControlPlaneSetup::create(dir.path(), &slack.webhook_url())?;
    if opts.investigate_from_whatsapp {
        cp.enable_whatsapp(&meta.whatsapp_api_url())?;
    }
    let _cp_proc = cp.start().await?;
    // Configured as a customer would: with the ECS clusters to watch, nothing else from the file.
    let clusters: Vec<String> = s.ecs.iter().map(|c| c.cluster.clone()).collect();
    // The agent talks to the control plane through a tap that records what it sends.
    let tap = Tap::start(
        cp.agent_url(),
        &cp.dir.join("tls/cert.pem"),
        &cp.dir.join("tls/key.pem"),
        &cp.ca_file(),
    )
    .await?;
    let mut agent = procs::start_agent_through(
        &cp,
        &aws,
        &dir.path().join("spool"),
        dir.path().join("agent.log"),
        &clusters,
        &tap.url(),
    )?;
    eprintln!(
        "convops-scenario: {}: control plane and agent running; waiting for the diagnosis",
        s.name
    );

    let delivered = match slack.wait_for(1, opts.timeout).await {
        Ok(mut m) => m.remove(0),
        Err(e) => {
            let running = agent.is_running();
            anyhow::bail!(
                "{e}; agent {}; agent log tail:\n{}\ncontrol plane log tail:\n{}",
                if running { "still running" } else { "exited" },
                procs::tail(&agent.log_text()),
                procs::tail(
                    &std::fs::read_to_string(dir.path().join("control-plane.log"))
                        .unwrap_or_default()
                )
            );
        }
    };

    // Read back what the product holds about the incident, through its API.
    let client = cp.https_client()?;
    let mut api_answers = String::new();
    let get = |path: String| {
        let client = client.clone();
        let url = format!("{}{path}", cp.base_url());
        let key = cp.api_key.clone();
        async move {
            let text = client
                .get(&url)
                .bearer_auth(key)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await?;
            anyhow::Ok(text)
        }
    };
    let list = get("/api/v1/incidents".into()).await?;
    api_answers.push_str(&list);
    let list: serde_json::Value = serde_json::from_str(&list)?;
    let incident = list["incidents"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["alarm_name"] == s.alarm.name.as_str()))
        .context("the API does not list an incident for the alarm")?
        .clone();
    let id = incident["id"].as_str().context("incident id")?.to_owned();
    let detail = get(format!("/api/v1/incidents/{id}")).await?;
    api_answers.push_str(&detail);
    let evidence_text = get(format!("/api/v1/incidents/{id}/evidence")).await?;
    api_answers.push_str(&evidence_text);
    let evidence: serde_json::Value = serde_json::from_str(&evidence_text)?;
    let frames: Vec<serde_json::Value> =
        evidence["evidence"].as_array().cloned().unwrap_or_default();
    if let Some(dir) = &opts.save_evidence {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{}.json", s.name));
        let stored: Vec<&serde_json::Value> = frames.iter().map(|f| &f["frame"]).collect();
        std::fs::write(&path, serde_json::to_string_pretty(&stored)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }

    let mut outcome = Outcome {
        scenario: s.name.clone(),
        expected_root_cause: s.expect.root_cause.clone(),
        message: delivered.text().to_owned(),
        ..Outcome::default()
    };
    score_diagnosis(&mut outcome, &incident["diagnosis"], &s);
    let gathered = evidence_text.to_lowercase();
    outcome.evidence_missing = s
        .expect
        .must_cite
        .iter()
        .filter(|c| !gathered.contains(&c.to_lowercase()))
        .cloned()
        .collect();
    measure(&mut outcome, &frames, delivered.received_at_ms);

    if opts.investigate_from_chat {
        outcome.chat_investigation =
            Some(investigate_from_chat(&cp, &slack, &s.alarm.name, opts.timeout).await?);
    }
    if opts.investigate_from_whatsapp {
        outcome.whatsapp_investigation =
            Some(investigate_from_whatsapp(&cp, &meta, &s.alarm.name, opts.timeout).await?);
    }

    // The leak check, over everything that left the account.
    // What the agent sent, as it sent it (before the control plane's re-redaction).
    let sent: String = tap.sent().concat();
    anyhow::ensure!(
        sent.contains(r#""type":"evidence""#),
        "the tap recorded no evidence frame from the agent, so the leak check would be vacuous"
    );
    let mut db = Vec::new();
    for f in crate::files_under(&dir.path().join("data")) {
        db.extend(std::fs::read(&f).unwrap_or_default());
    }
    // Every chat message: Slack's and, when on, WhatsApp's.
    let chat: String = slack
        .messages()
        .iter()
        .chain(meta.messages().iter())
        .map(|m| m.raw.as_str())
        .collect();
    let places: [(&str, &[u8]); 4] = [
        ("agent_evidence", sent.as_bytes()),
        ("database", &db),
        ("api", api_answers.as_bytes()),
        ("chat", chat.as_bytes()),
    ];
    for secret in &s.expect.secrets {
        let found: Vec<String> = places
            .iter()
            .filter(|(_, hay)| contains_secret(hay, secret))
            .map(|(p, _)| (*p).to_owned())
            .collect();
        if !found.is_empty() {
            outcome.leaked_secrets.push(secret.clone());
            outcome.leaks.push(Leak {
                secret: secret.clone(),
                places: found,
            });
        }
    }
    agent.kill();
    Ok(outcome)
}

/// A secret counts as found in its raw form or JSON-escaped (as it sits inside stored JSON).
pub fn contains_secret(hay: &[u8], secret: &str) -> bool {
    let escaped = serde_json::to_string(secret).unwrap_or_default();
    let escaped = escaped.trim_matches('"');
    [secret, escaped].iter().any(|needle| {
        !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

fn score_diagnosis(o: &mut Outcome, diagnosis: &serde_json::Value, s: &Scenario) {
    o.hypotheses = diagnosis["hypotheses"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .filter_map(|h| {
                    Some(Hypothesis {
                        category: h["category"].as_str()?.to_owned(),
                        confidence: h["confidence"].as_f64().unwrap_or(0.0),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    o.root_cause = o.hypotheses.first().map(|h| h.category.clone());
    o.correct = o
        .root_cause
        .as_ref()
        .is_some_and(|rc| *rc == s.expect.root_cause || s.expect.also_acceptable.contains(rc));
    let lower = o.message.to_lowercase();
    for cite in &s.expect.must_cite {
        if lower.contains(&cite.to_lowercase()) {
            o.must_cite_found.push(cite.clone());
        } else {
            o.must_cite_missing.push(cite.clone());
        }
    }
}

fn measure(o: &mut Outcome, frames: &[serde_json::Value], delivered_at_ms: i64) {
    let mut detected_at = i64::MAX;
    for f in frames {
        // What left the account: the frame as sent (compressed), else its text.
        o.evidence_bytes += f["wire_bytes"]
            .as_u64()
            .or_else(|| f["bytes"].as_u64())
            .unwrap_or(0);
        let frame = &f["frame"];
        o.raw_bytes += frame["raw_bytes"].as_u64().unwrap_or(0);
        detected_at = detected_at.min(frame["started_at"].as_i64().unwrap_or(i64::MAX));
        let mut sent_by_source: BTreeMap<String, u64> = BTreeMap::new();
        for item in frame["items"].as_array().into_iter().flatten() {
            // The item kind → source mapping is the wire type's own.
            let source = match serde_json::from_value::<EvidenceItem>(item.clone()) {
                Ok(parsed) => parsed.source().to_owned(),
                Err(_) => item["kind"].as_str().unwrap_or_default().to_owned(),
            };
            *sent_by_source.entry(source).or_default() += item.to_string().len() as u64;
        }
        for src in frame["sources"].as_array().into_iter().flatten() {
            let name = src["source"].as_str().unwrap_or_default().to_owned();
            let e = o.sources.entry(name.clone()).or_default();
            e.status = src["status"].as_str().unwrap_or_default().to_owned();
            e.reason = src["reason"].as_str().map(str::to_owned);
            e.raw_bytes += src["raw_bytes"].as_u64().unwrap_or(0);
            e.api_calls += src["api_calls"].as_u64().unwrap_or(0);
            e.sent_bytes += sent_by_source.get(&name).copied().unwrap_or(0);
        }
    }
    if detected_at != i64::MAX {
        o.detect_to_deliver_ms = (delivered_at_ms - detected_at).max(0);
    }
}

/// The `run-all` summary.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub scenarios: usize,
    pub errors: usize,
    pub top1_accuracy: f64,
    pub must_cite_rate: f64,
    pub leaked_secrets: usize,
    pub median_evidence_raw_ratio: Option<f64>,
    pub detect_to_deliver_p50_ms: Option<i64>,
    pub detect_to_deliver_p95_ms: Option<i64>,
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub fn summarise(outcomes: &[Outcome]) -> Summary {
    let n = outcomes.len();
    let ok: Vec<&Outcome> = outcomes.iter().filter(|o| o.error.is_none()).collect();
    let cites_total: usize = outcomes
        .iter()
        .map(|o| o.must_cite_found.len() + o.must_cite_missing.len())
        .sum();
    let cites_found: usize = outcomes.iter().map(|o| o.must_cite_found.len()).sum();
    let mut ratios: Vec<f64> = ok
        .iter()
        .filter(|o| o.raw_bytes > 0)
        .map(|o| o.evidence_bytes as f64 / o.raw_bytes as f64)
        .collect();
    ratios.sort_by(f64::total_cmp);
    let mut d2d: Vec<i64> = ok.iter().map(|o| o.detect_to_deliver_ms).collect();
    d2d.sort_unstable();
    Summary {
        scenarios: n,
        errors: n - ok.len(),
        top1_accuracy: if n == 0 {
            0.0
        } else {
            outcomes.iter().filter(|o| o.correct).count() as f64 / n as f64
        },
        must_cite_rate: if cites_total == 0 {
            1.0
        } else {
            cites_found as f64 / cites_total as f64
        },
        leaked_secrets: outcomes.iter().map(|o| o.leaked_secrets.len()).sum(),
        median_evidence_raw_ratio: (!ratios.is_empty()).then(|| {
            let m = ratios.len() / 2;
            if ratios.len().is_multiple_of(2) {
                (ratios[m - 1] + ratios[m]) / 2.0
            } else {
                ratios[m]
            }
        }),
        detect_to_deliver_p50_ms: percentile(&d2d, 50.0),
        detect_to_deliver_p95_ms: percentile(&d2d, 95.0),
    }
}

/// The per-category confusion table: one row per expected category, one column per category the
/// diagnosis ranked first (a scenario accepted through `also_acceptable` counts as its expected
/// category), with each row's accuracy. Scenarios that could not be run are counted in `error`.
pub fn confusion_table(outcomes: &[Outcome]) -> String {
    use std::collections::BTreeSet;
    use std::fmt::Write as _;
    let got = |o: &Outcome| -> String {
        if o.error.is_some() {
            "error".to_owned()
        } else if o.correct {
            o.expected_root_cause.clone()
        } else {
            o.root_cause.clone().unwrap_or_else(|| "-".to_owned())
        }
    };
    let rows: BTreeSet<String> = outcomes
        .iter()
        .map(|o| o.expected_root_cause.clone())
        .collect();
    let mut cols: BTreeSet<String> = rows.clone();
    cols.extend(outcomes.iter().map(got));
    let cols: Vec<String> = cols.into_iter().collect();
    // Columns are headed by a short form of the category so the table stays readable.
    let short = |c: &str| -> String {
        c.split('_')
            .map(|w| &w[..w.len().min(4)])
            .collect::<Vec<_>>()
            .join("_")
    };
    let mut out = String::new();
    let _ = write!(out, "{:<19}", "expected \\ got");
    for c in &cols {
        let _ = write!(out, " {:>9}", short(c));
    }
    let _ = writeln!(out, " {:>8}", "top-1");
    for r in &rows {
        let mine: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| &o.expected_root_cause == r)
            .collect();
        let _ = write!(out, "{r:<19}");
        for c in &cols {
            let n = mine.iter().filter(|o| &got(o) == c).count();
            if n == 0 {
                let _ = write!(out, " {:>9}", ".");
            } else {
                let _ = write!(out, " {n:>9}");
            }
        }
        let right = mine.iter().filter(|o| o.correct).count();
        let _ = writeln!(out, " {:>4}/{:<3}", right, mine.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_raw_or_json_escaped() {
        assert!(contains_secret(b"x Sup3rS3cret y", "Sup3rS3cret"));
        assert!(contains_secret(br#"{"a":"pa\"ss"}"#, "pa\"ss"));
        assert!(!contains_secret(b"[redacted]", "Sup3rS3cret"));
    }

    #[test]
    fn percentiles_and_summary() {
        assert_eq!(percentile(&[10, 20, 30, 40], 50.0), Some(20));
        assert_eq!(percentile(&[10, 20, 30, 40], 95.0), Some(40));
        assert_eq!(percentile(&[], 50.0), None);
        let o = Outcome {
            correct: true,
            raw_bytes: 1000,
            evidence_bytes: 10,
            must_cite_found: vec!["a".into()],
            must_cite_missing: vec!["b".into()],
            ..Outcome::default()
        };
        let e = Outcome {
            error: Some("x".into()),
            ..Outcome::default()
        };
        let s = summarise(&[o, e]);
        assert_eq!((s.scenarios, s.errors), (2, 1));
        assert_eq!(s.top1_accuracy, 0.5);
        assert_eq!(s.must_cite_rate, 0.5);
        assert_eq!(s.median_evidence_raw_ratio, Some(0.01));
    }

    #[test]
    fn confusion_table_counts_what_each_category_was_taken_for() {
        let o = |expected: &str, got: &str, correct: bool| Outcome {
            expected_root_cause: expected.into(),
            root_cause: Some(got.into()),
            correct,
            ..Outcome::default()
        };
        let table = confusion_table(&[
            o("throttling", "throttling", true),
            o("throttling", "traffic_surge", false),
            // Accepted through also_acceptable: counted as right.
            o("db_overload", "deploy_regression", true),
            Outcome {
                expected_root_cause: "unknown".into(),
                error: Some("moto".into()),
                ..Outcome::default()
            },
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].contains("thro")
                && lines[0].contains("traf_surg")
                && lines[0].contains("erro"),
            "{table}"
        );
        let row = |name: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(name))
                .copied()
                .unwrap_or_default()
        };
        assert!(row("throttling").ends_with("1/2  "), "{table}");
        assert!(row("db_overload").ends_with("1/1  "), "{table}");
        assert!(row("unknown").ends_with("0/1  "), "{table}");
        assert!(
            !table.contains("depl"),
            "an accepted alternative is not a column: {table}"
        );
    }
}
