//! The agents connected to this control plane instance, per workspace, so that a command (an
//! `investigate` from chat) can be sent down one of their websocket sessions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use convops_shared::protocol::ServerFrame;
use tokio::sync::mpsc;

/// Frames queued per session before a sender is told the agent is not keeping up.
const QUEUE: usize = 16;

struct Session {
    id: u64,
    agent_id: String,
    tx: mpsc::Sender<ServerFrame>,
}

#[derive(Default)]
pub struct Registry {
    next: AtomicU64,
    by_workspace: Mutex<HashMap<String, Vec<Session>>>,
}

/// A session's registration; dropping it removes the session.
pub struct Registration<'a> {
    registry: &'a Registry,
    workspace_id: String,
    id: u64,
    pub frames: mpsc::Receiver<ServerFrame>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut map = self
            .registry
            .by_workspace
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(sessions) = map.get_mut(&self.workspace_id) {
            sessions.retain(|s| s.id != self.id);
            if sessions.is_empty() {
                map.remove(&self.workspace_id);
            }
        }
    }
}

impl Registry {
    pub fn register(&self, workspace_id: &str, agent_id: &str) -> Registration<'_> {
        let (tx, frames) = mpsc::channel(QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.by_workspace
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(workspace_id.to_owned())
            .or_default()
            .push(Session {
                id,
                agent_id: agent_id.to_owned(),
                tx,
            });
        Registration {
            registry: self,
            workspace_id: workspace_id.to_owned(),
            id,
            frames,
        }
    }

    /// The most recently connected agent of the workspace, if any.
    pub fn connected(&self, workspace_id: &str) -> Option<String> {
        let map = self.by_workspace.lock().unwrap_or_else(|p| p.into_inner());
        map.get(workspace_id)?.last().map(|s| s.agent_id.clone())
    }

    /// Queues `frame` for agent `agent_id` of the workspace (its most recent session that can
    /// take it); false when that agent is not connected here or not keeping up.
    pub fn send_to(&self, workspace_id: &str, agent_id: &str, frame: ServerFrame) -> bool {
        let map = self.by_workspace.lock().unwrap_or_else(|p| p.into_inner());
        map.get(workspace_id).is_some_and(|sessions| {
            sessions
                .iter()
                .rev()
                .filter(|s| s.agent_id == agent_id)
                .any(|s| s.tx.try_send(frame.clone()).is_ok())
        })
    }
}
