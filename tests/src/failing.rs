//! A loopback AWS endpoint that answers every request with one AWS JSON-protocol error (e.g.
//! `ThrottlingException` with HTTP 400, or `AccessDeniedException`), counting requests, so tests
//! can show a source comes back partial or failed while the investigation completes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;

pub struct FailingAws {
    pub addr: SocketAddr,
    requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FailingAws {
    /// Answer every request with `status` and error `code` (`__type`) in the JSON 1.1 shape.
    pub async fn start(
        status: u16,
        code: &'static str,
        message: &'static str,
    ) -> anyhow::Result<FailingAws> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        let status = StatusCode::from_u16(status)?;
        let app = Router::new().fallback(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            async move {
                (
                    status,
                    [
                        ("content-type", "application/x-amz-json-1.1"),
                        ("x-amzn-errortype", code),
                    ],
                    serde_json::json!({"__type": code, "message": message}).to_string(),
                )
                    .into_response()
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FailingAws {
            addr,
            requests,
            task,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for FailingAws {
    fn drop(&mut self) {
        self.task.abort();
    }
}
