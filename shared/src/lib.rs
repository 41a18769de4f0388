//! Types that cross the boundary between the ConvOps agent and the control plane.
//!
//! This crate is the only API boundary of the workspace: the agent and the control plane never
//! depend on each other, and everything that is serialised onto the wire is defined here.
//!
//! - [`protocol`]: the versioned websocket frames (`Hello`, `Evidence`, `Ack`, …) and their codec.
//! - [`evidence`]: what an investigation produces (alarm, metric series and their summaries).
//! - [`redact`]: masking of secrets and personal data with consistent pseudonyms;
//!   [`vendor_tokens`] is its table of vendors' documented token formats.
//! - [`signatures`]: failure signatures (error texts by family and role); [`host_changes`]: the
//!   log lines that record a change made on a host (deployments, reloads, scheduled jobs).
//! - [`stats`]: pure statistics used to summarise metric series (median, MAD, change point).
//! - [`wire`]: the compressed encoding of evidence frames on the websocket.
//! - [`secret`]: a string wrapper that never prints its value.
//! - [`config_error`]: one-line rendering of configuration errors.

pub mod catalogue;
pub mod config_error;
pub mod evidence;
pub mod host_changes;
pub mod names;
pub mod protocol;
pub mod redact;
pub mod secret;
pub mod signatures;
pub mod stats;
pub mod telemetry;
pub mod templates;
pub mod vendor_tokens;
pub mod wire;
