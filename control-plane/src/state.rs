//! What the control plane's handlers and tasks share: the store, the sealer, the redaction
//! rules, wake-ups, the agent registry, rate limits. Transports (HTTP, the agent websocket, chat
//! hooks) and the domain (ingest, chat commands, delivery) take it from here; it depends on
//! neither, so no module needs the HTTP layer to reach it.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::store::Store;

/// Shared by every handler and task of one process.
pub struct AppState {
    pub store: Store,
    /// The redaction rules, compiled once. Never used as they are: [`AppState::redactor`] keys
    /// them per workspace, so that pseudonyms of short values (PINs, security codes) cannot be
    /// reversed by a dictionary with a known key, nor compared across workspaces.
    pub redaction_rules: convops_shared::redact::Redactor,
    pub sealer: crate::secrets::Sealer,
    pub public_url: url::Url,
    pub heartbeat_secs: u32,
    pub wake_delivery: Arc<Notify>,
    /// The optional LLM write-up (`[llm]`).
    pub llm: Option<Arc<crate::llm::Llm>>,
    /// Verifies Slack's requests (`[slack]`); slash commands are off without it.
    pub slack_signing_secret: Option<convops_shared::secret::SecretString>,
    /// WhatsApp (`[whatsapp]`): verifies Meta's webhooks; commands from WhatsApp are off without it.
    pub whatsapp: Option<crate::config::WhatsAppSettings>,
    /// Agents connected to this instance, for commands.
    pub agents: crate::agents::Registry,
    /// Request rates per address and credential ([`crate::limits`]).
    pub limiter: Arc<crate::limits::RateLimiter>,
    /// Open agent sessions per agent token.
    pub sessions: Arc<crate::limits::Sessions>,
    /// Per workspace: frames being redacted and diagnosed on the blocking pool.
    pub cpu: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
    /// For replies posted to Slack (a button's outcome).
    pub http: reqwest::Client,
}

impl AppState {
    /// The redactor for what workspace `workspace_id` stores and sends: the rules with that
    /// workspace's pseudonym key (derived from the master key; it never leaves the process).
    pub fn redactor(&self, workspace_id: &str) -> convops_shared::redact::Redactor {
        workspace_redactor(&self.redaction_rules, &self.sealer, workspace_id)
    }

    /// Workspace `workspace_id`'s slots for CPU-heavy ingest work (`slots` of them).
    pub fn cpu_slots(&self, workspace_id: &str, slots: usize) -> Arc<tokio::sync::Semaphore> {
        let mut map = self.cpu.lock().unwrap_or_else(|e| e.into_inner());
        // Semaphores nobody holds are dropped once the table grows: it stays bounded by the
        // workspaces with work in flight.
        if map.len() > 10_000 {
            map.retain(|_, s| Arc::strong_count(s) > 1);
        }
        map.entry(workspace_id.to_owned())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(slots)))
            .clone()
    }
}

/// `rules` with workspace `workspace_id`'s pseudonym key.
pub fn workspace_redactor(
    rules: &convops_shared::redact::Redactor,
    sealer: &crate::secrets::Sealer,
    workspace_id: &str,
) -> convops_shared::redact::Redactor {
    rules.rekeyed(&sealer.derive_key(&format!("pseudonyms:{workspace_id}")))
}

/// Where the incident can be read: its API resource (the web UI is not built yet).
pub fn incident_url(public_url: &url::Url, incident_id: &str) -> String {
    format!(
        "{}/api/v1/incidents/{incident_id}",
        public_url.as_str().trim_end_matches('/')
    )
}

#[cfg(test)]
mod redactor_tests {
    use convops_shared::redact::Redactor;

    #[test]
    fn pseudonyms_are_keyed_per_workspace_and_not_by_the_public_default() {
        let rules = Redactor::new(&[7u8; 32]);
        let sealer = crate::secrets::Sealer::from_key(&[9u8; 32]);
        let line = "card security code cvv=123";
        let a = super::workspace_redactor(&rules, &sealer, "ws-a")
            .redact(line)
            .into_owned();
        let b = super::workspace_redactor(&rules, &sealer, "ws-b")
            .redact(line)
            .into_owned();
        let public = Redactor::default().redact(line).into_owned();
        assert!(!a.contains("123") && !b.contains("123"), "{a} {b}");
        assert_ne!(a, b, "two workspaces share pseudonyms");
        assert_ne!(a, public, "the public default key is used");
        // The same workspace gets the same pseudonym every time.
        assert_eq!(
            a,
            super::workspace_redactor(&rules, &sealer, "ws-a").redact(line)
        );
    }
}
