//! The websocket protocol between agent and control plane: versioned JSON text frames.
//!
//! **API boundary.** Every frame is a JSON object with a `type` tag. The agent opens the
//! connection (outbound only, TLS 1.3, `Authorization: Bearer <agent token>` in the handshake) and
//! must send [`AgentFrame::Hello`] first; the control plane answers [`ServerFrame::Welcome`], or
//! [`ServerFrame::Error`] with [`ErrorCode::UnsupportedProtocolVersion`] followed by a close when
//! it does not speak the agent's [`PROTOCOL_VERSION`].
//!
//! Evidence frames carry a sequence number that is unique per agent and increases by one per
//! frame. The control plane stores them idempotently on `(agent, seq)` and answers
//! [`ServerFrame::Ack`] only once the frame is durably stored; the agent deletes a frame from its
//! spool only on that ack, and re-sends unacknowledged frames after a reconnect. Delivery is
//! therefore at-least-once on the wire and exactly-once in the store.
//!
//! Golden fixtures in `shared/tests/fixtures/` pin the JSON format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::evidence::{AlarmInfo, EvidenceItem, SourceReport};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame either side accepts, in bytes of JSON text. Larger frames are refused with
/// [`ErrorCode::FrameTooLarge`]; the agent's evidence budget keeps it far below this.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// Longest string value a frame may carry, in bytes (the agent cuts log lines, examples and
/// parameters far below this): a frame of one pathological megabyte string is refused at the
/// boundary instead of being redacted, templated and diagnosed.
pub const MAX_STRING_BYTES: usize = 64 * 1024;

/// Longest `agent_version` in a hello frame.
pub const MAX_AGENT_VERSION_CHARS: usize = 64;

/// The first string longer than `max` bytes in `value`, as `(JSON path, its length)`.
pub fn overlong_string(value: &serde_json::Value, max: usize) -> Option<(String, usize)> {
    fn walk(v: &serde_json::Value, max: usize, path: &mut String) -> Option<(String, usize)> {
        match v {
            serde_json::Value::String(s) if s.len() > max => Some((path.clone(), s.len())),
            serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| {
                let at = path.len();
                path.push_str(&format!("[{i}]"));
                let r = walk(x, max, path);
                path.truncate(at);
                r
            }),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
                if k.len() > max {
                    return Some((format!("{path} (a key)"), k.len()));
                }
                let at = path.len();
                path.push('.');
                path.push_str(k);
                let r = walk(x, max, path);
                path.truncate(at);
                r
            }),
            _ => None,
        }
    }
    walk(value, max, &mut String::new())
}

/// The path of the agent endpoint on the control plane.
pub const AGENT_WS_PATH: &str = "/v1/agent/connect";

/// Frames the agent sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentFrame {
    Hello {
        protocol_version: u32,
        /// Stable identity of this agent installation (kept in its spool across restarts).
        agent_id: String,
        agent_version: String,
        /// An installation check (`convops-agent check`), not an agent: the control plane
        /// answers the welcome and closes, and neither records nor registers it, so no command
        /// is routed to it. Sent only when true, so an agent's hello is unchanged.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        probe: bool,
    },
    Evidence(Box<EvidenceFrame>),
    Heartbeat {
        /// Agent clock, epoch ms.
        at: i64,
        /// Frames waiting in the agent's spool.
        spooled: u64,
    },
    /// Evidence the agent lost, sent in the place (the `seq`) of what it replaces, so the
    /// control plane can say what is missing instead of missing it silently.
    Loss(LossFrame),
    /// A [`ServerFrame::Command`] that could not be carried out (no alarm matches the target,
    /// alarms could not be listed), so whoever asked hears back. Sent once, on the session the
    /// command came in on; `reason` is redacted.
    CommandFailed {
        command_id: String,
        reason: String,
    },
}

/// Why the agent lost evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossReason {
    /// The spool reached its size bound and dropped a frame to make room (its drop policy is in
    /// the agent's `spool` module).
    SpoolFull,
    /// The spool's volume was nearly full: the frame was not written, to keep the disk from
    /// filling (sled can neither write nor reopen on a full disk).
    DiskFull,
    /// The spool could not be read at start; it was moved aside and a new one started, so what
    /// it held was not sent.
    SpoolCorrupt,
}

impl LossReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LossReason::SpoolFull => "spool_full",
            LossReason::DiskFull => "disk_full",
            LossReason::SpoolCorrupt => "spool_corrupt",
        }
    }
}

/// A data-loss event: what the agent could not send and why. Carries the `seq` of the frame it
/// stands for, and is acknowledged and deduplicated like evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossFrame {
    pub seq: u64,
    pub reason: LossReason,
    /// When the agent noticed the loss (epoch ms, agent clock).
    pub at: i64,
    /// Evidence frames lost, when known (a corrupt store cannot be counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<u64>,
    /// Bytes of evidence lost, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The investigation whose evidence was lost, when one frame was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub investigation_id: Option<String>,
    /// The alarm that investigation was about (already redacted, as it was in the frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_name: Option<String>,
    /// That alarm's transition into `ALARM` (epoch ms); for a merged record, the earliest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_at: Option<i64>,
    /// A merged record (many frames): the alarms their investigations were about, first few.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
    /// One sentence for people: what was lost and what the agent did.
    pub detail: String,
}

/// Why an investigation ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// The alarm transitioned into `ALARM`.
    Alarm,
    /// A person asked for it (from chat or the API); `command_id` echoes [`ServerFrame::Command`].
    Command { command_id: String },
}

/// The evidence of one investigation, reduced and redacted by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceFrame {
    pub seq: u64,
    pub investigation_id: String,
    pub trigger: Trigger,
    pub alarm: AlarmInfo,
    /// When the agent started gathering, epoch ms.
    pub started_at: i64,
    /// When the agent finished gathering, epoch ms.
    pub finished_at: i64,
    pub items: Vec<EvidenceItem>,
    pub sources: Vec<SourceReport>,
    /// Bytes the agent read from AWS for this investigation (before reduction).
    pub raw_bytes: u64,
    /// What the evidence byte budget trimmed or left out (item ids with what was cut).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<String>,
}

/// Frames the control plane sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerFrame {
    Welcome {
        protocol_version: u32,
        workspace_id: String,
        /// How often the agent should send a heartbeat.
        heartbeat_secs: u32,
        /// Encodings of evidence frames the control plane reads besides JSON text (binary
        /// messages; see [`crate::wire`]). An agent uses one it knows, or sends text.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        encodings: Vec<String>,
    },
    Ack {
        seq: u64,
    },
    Error {
        code: ErrorCode,
        message: String,
        /// The evidence frame the error is about, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    Command {
        id: String,
        command: Command,
    },
}

/// What the control plane asks an agent to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Investigate an alarm (by name) or a resource now, whatever its state.
    Investigate {
        target: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        context: BTreeMap<String, String>,
    },
}

/// Machine-readable error codes of [`ServerFrame::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    UnsupportedProtocolVersion,
    ExpectedHello,
    MalformedFrame,
    FrameTooLarge,
    InvalidEvidence,
    Internal,
}

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("frame of {size} bytes exceeds the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl DecodeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge { .. } => ErrorCode::FrameTooLarge,
            DecodeError::Malformed(_) => ErrorCode::MalformedFrame,
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge {
            size: text.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))
}

impl AgentFrame {
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode(text)
    }

    pub fn encode(&self) -> String {
        // Serialising these plain data types cannot fail (no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ServerFrame {
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode(text)
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            code,
            message: message.into(),
            seq: None,
        }
    }
}
