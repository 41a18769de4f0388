//! A loopback AWS endpoint that answers every request with one AWS JSON-protocol error (e.g.
//! `ThrottlingException` with HTTP 400, or `AccessDeniedException`), counting requests, so tests
//! can show a source comes back partial or failed while the investigation completes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;

pub struct FailingAws {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FailingAws {
    /// Answer every request with `status` and error `code` (`__type`) in the JSON 1.1 shape.
    pub async fn start(
        status: u16,
        code: &'static str,
        message: &'static str,
    ) -> anyhow::Result<FailingAws> {
        Self::start_with_retry_after(status, code, message, None).await
    }

    /// Like [`FailingAws::start`], with a `Retry-After` header (seconds) on every answer.
    pub async fn start_with_retry_after(
        status: u16,
        code: &'static str,
        message: &'static str,
        retry_after: Option<&'static str>,
    ) -> anyhow::Result<FailingAws> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let status = StatusCode::from_u16(status)?;
        let app = Router::new().fallback(move || {
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Instant::now());
            async move {
                let mut resp = (
                    status,
                    [
                        ("content-type", "application/x-amz-json-1.1"),
                        ("x-amzn-errortype", code),
                    ],
                    serde_json::json!({"__type": code, "message": message}).to_string(),
                )
                    .into_response();
                if let Some(r) = retry_after {
                    if let Ok(v) = r.parse() {
                        resp.headers_mut().insert("retry-after", v);
                    }
                }
                resp
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
        self.request_times().len() as u64
    }

    /// When each request arrived.
    pub fn request_times(&self) -> Vec<Instant> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for FailingAws {
    fn drop(&mut self) {
        self.task.abort();
    }
}
