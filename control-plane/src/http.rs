//! HTTP surface: the router (`app`), the TLS server loop (`serve`), and one error type.
//!
//! Routes: `GET /healthz`, `GET /readyz`; `GET /api/v1/incidents`, `GET /api/v1/incidents/{id}` (with its
//! delivery log) and `GET /api/v1/incidents/{id}/evidence` (the frames as the agent sent them),
//! and `GET /api/v1/audit` (the workspace's action log, newest first), with a workspace API key
//! (`Authorization: Bearer cvo_key_…`); `GET /v1/agent/connect` (websocket, agent token);
//! `POST /api/v1/slack/commands` and `POST /api/v1/slack/interactivity` (Slack slash commands
//! and buttons, Slack's request signature); `GET`/`POST /api/v1/whatsapp/webhook` (Meta's
//! verification handshake, and messages and statuses signed with `X-Hub-Signature-256`). Every
//! response carries HSTS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth;
use crate::state::AppState;

/// The one error type of handlers: a status, a stable code and a message for the client; internal
/// details are logged once here and never sent.
#[derive(Debug)]
pub enum AppError {
    Unauthorized,
    NotFound(&'static str),
    BadRequest(String),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            AppError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or invalid credentials".to_owned(),
            ),
            AppError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            AppError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error".to_owned(),
                )
            }
        };
        (
            status,
            Json(json!({"error": {"code": code, "message": message}})),
        )
            .into_response()
    }
}

pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/incidents", get(list_incidents))
        .route("/api/v1/incidents/{id}", get(get_incident))
        .route("/api/v1/incidents/{id}/evidence", get(get_evidence))
        .route(convops_shared::protocol::AGENT_WS_PATH, get(agent_connect))
        .route(
            crate::paths::SLACK_COMMANDS_PATH,
            axum::routing::post(crate::chat::slack_command).layer(
                axum::extract::DefaultBodyLimit::max(crate::chat::MAX_BODY_BYTES),
            ),
        )
        .route(
            crate::paths::SLACK_INTERACTIVITY_PATH,
            axum::routing::post(crate::chat::slack_interaction).layer(
                axum::extract::DefaultBodyLimit::max(crate::chat::MAX_BODY_BYTES),
            ),
        )
        .route(
            crate::paths::WHATSAPP_WEBHOOK_PATH,
            get(crate::chat::whatsapp::verify)
                .post(crate::chat::whatsapp::webhook)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::chat::whatsapp::MAX_BODY_BYTES,
                )),
        )
        .route("/api/v1/audit", get(audit_log))
        .route("/api/v1/data-loss", get(list_data_loss))
        .layer(axum::middleware::from_fn_with_state(
            state.limiter.clone(),
            crate::limits::guard,
        ))
        .layer(axum::middleware::map_response(hsts))
        .with_state(state)
}

async fn hsts(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    );
    resp
}

async fn healthz(State(state): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, AppError> {
    state.store.ping().await?;
    Ok(Json(json!({"status": "ok"})))
}

/// Readiness for a load balancer (the listener stops accepting on shutdown by itself).
async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    crate::telemetry::readiness(crate::telemetry::ready(&state.store, false).await)
}

async fn api_workspace(state: &AppState, headers: &HeaderMap) -> Result<String, AppError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let key = auth::bearer(value).ok_or(AppError::Unauthorized)?;
    state
        .store
        .workspace_for_api_key(key)
        .await?
        .ok_or(AppError::Unauthorized)
}

#[derive(serde::Deserialize)]
struct ListParams {
    limit: Option<i64>,
}

async fn list_incidents(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Json<serde_json::Value>, AppError> {
    let ws = api_workspace(&state, &headers).await?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be 1 to 500, got {limit}"
        )));
    }
    let incidents = state.store.incidents(&ws, limit).await?;
    Ok(Json(json!({ "incidents": incidents })))
}

async fn audit_log(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, AppError> {
    let ws = api_workspace(&state, &headers).await?;
    Ok(Json(
        json!({ "entries": state.store.audit_log(&ws, 500).await? }),
    ))
}

async fn get_incident(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let ws = api_workspace(&state, &headers).await?;
    let incident = state
        .store
        .incident(&ws, &id)
        .await?
        .ok_or(AppError::NotFound("incident"))?;
    let deliveries = state.store.deliveries(&ws, &id).await?;
    let alarms = state.store.incident_alarms(&ws, &id).await?;
    let data_loss = state.store.incident_losses(&ws, &id).await?;
    let timeline = timeline(&incident, &alarms, &deliveries, &data_loss);
    Ok(Json(json!({
        "incident": incident,
        "alarms": alarms,
        "deliveries": deliveries,
        "data_loss": data_loss,
        "timeline": timeline,
    })))
}

/// An incident's events in time order: its alarms' transitions, its opening, each delivery, and
/// each loss of evidence that concerns it (see [`crate::store::Store::incident_losses`]).
fn timeline(
    incident: &crate::store::Incident,
    alarms: &[serde_json::Value],
    deliveries: &[serde_json::Value],
    losses: &[crate::store::DataLoss],
) -> Vec<serde_json::Value> {
    let mut events: Vec<(i64, serde_json::Value)> = Vec::new();
    for a in alarms {
        let at = a["transitioned_at"].as_i64().unwrap_or_default();
        events.push((
            at,
            json!({ "at": at, "kind": "alarm", "text": format!("{} entered ALARM", a["alarm_name"].as_str().unwrap_or_default()) }),
        ));
    }
    events.push((
        incident.opened_at,
        json!({ "at": incident.opened_at, "kind": "opened", "text": incident.title }),
    ));
    for d in deliveries {
        if let Some(at) = d["delivered_at"].as_i64() {
            events.push((
                at,
                json!({ "at": at, "kind": "delivered", "text": format!("{} sent to {}", d["kind"].as_str().unwrap_or_default(), d["route"].as_str().unwrap_or_default()) }),
            ));
        }
    }
    for l in losses {
        events.push((
            l.received_at,
            json!({ "at": l.received_at, "kind": "evidence_lost", "text": format!("evidence lost ({}): {}", l.reason, l.detail) }),
        ));
    }
    events.sort_by_key(|(at, _)| *at);
    events.into_iter().map(|(_, e)| e).collect()
}

async fn list_data_loss(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, AppError> {
    let ws = api_workspace(&state, &headers).await?;
    let data_loss = state.store.losses(&ws, 200).await?;
    Ok(Json(json!({ "data_loss": data_loss })))
}

async fn get_evidence(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let ws = api_workspace(&state, &headers).await?;
    state
        .store
        .incident(&ws, &id)
        .await?
        .ok_or(AppError::NotFound("incident"))?;
    let evidence = state.store.evidence(&ws, &id).await?;
    Ok(Json(json!({ "evidence": evidence })))
}

async fn agent_connect(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = auth::bearer(value).ok_or(AppError::Unauthorized)?;
    let workspace_id = state
        .store
        .workspace_for_agent_token(token)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let Some(permit) = state.sessions.admit(crate::limits::token_key(token)) else {
        return Ok(crate::limits::too_many(Duration::from_secs(30)));
    };
    let max = convops_shared::protocol::MAX_FRAME_BYTES * 2;
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            crate::ingest::session(socket, state, workspace_id).await;
            drop(permit);
        }))
}

/// Serve `app` over TLS on `listener` until `cancel` fires, then give open connections up to
/// `grace` to finish.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    cancel: CancellationToken,
    grace: Duration,
    limits: crate::limits::Limits,
) -> anyhow::Result<()> {
    use crate::limits::{Peer, Watched};
    let connections =
        crate::limits::Connections::new(limits.connections, limits.connections_per_ip);
    let (header_read, idle) = (limits.header_read, limits.idle);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let tracker = tokio_util::task::TaskTracker::new();
    loop {
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Full (in all, or from this address): closed before any TLS work.
        let Some(permit) = connections.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: at the connection limit");
            drop(tcp);
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let cancel = cancel.clone();
        tracker.spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "tls handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let (io, activity) = Watched::new(tls, permit);
            let service = tower::ServiceExt::map_request(app, move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(Peer(peer));
                req
            });
            let service = hyper_util::service::TowerToHyperService::new(service);
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_read);
            builder
                .http2()
                .timer(hyper_util::rt::TokioTimer::new())
                .keep_alive_interval(Some(Duration::from_secs(30)))
                .keep_alive_timeout(Duration::from_secs(20))
                .max_concurrent_streams(64);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            tokio::pin!(conn);
            let mut tick = tokio::time::interval((idle / 4).max(Duration::from_millis(100)));
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r { tracing::debug!(%peer, error = %e, "connection ended with error") }
                        break;
                    }
                    _ = cancel.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                        break;
                    }
                    _ = tick.tick() => if activity.idle() > idle {
                        tracing::debug!(%peer, "closing an idle connection");
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(Duration::from_secs(5), conn.as_mut()).await;
                        break;
                    }
                }
            }
        });
    }
    tracker.close();
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "shutdown grace period elapsed with connections still open"
        );
    }
    Ok(())
}
