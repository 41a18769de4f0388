//! CloudTrail `LookupEvents`, served from a scenario on loopback (moto does not implement it),
//! speaking the AWS JSON 1.1 protocol the SDK uses (`X-Amz-Target:
//! CloudTrail_20131101.LookupEvents`, or the fully qualified form FORMAT.md gives).
//!
//! Honours `StartTime`/`EndTime` (inclusive, epoch seconds), one `LookupAttributes` entry (as AWS
//! allows), `MaxResults` (1 to 50, default 50) and `NextToken`; events come newest first, as
//! from AWS. Other operations and bad input get AWS-shaped errors.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::scenario::TrailEvent;

/// The target as FORMAT.md documents it, and as the current SDK sends it.
pub const TARGETS: [&str; 2] = [
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
    "CloudTrail_20131101.LookupEvents",
];

/// One event as served.
#[derive(Debug, Clone)]
pub struct Served {
    pub id: String,
    pub time: f64,
    pub json: Value,
    pub attrs: Vec<(&'static str, String)>,
}

/// Build the served events of a scenario whose time 0 is `t0` (epoch seconds).
pub fn events(trail: &[TrailEvent], t0: i64, region: &str, scenario: &str) -> Vec<Served> {
    trail
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let id = stable_id(scenario, i);
            let time = (t0 + e.t) as f64;
            let when = time::OffsetDateTime::from_unix_timestamp(t0 + e.t)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            let username = e.username.clone().unwrap_or_else(|| "unknown".into());
            let trail_json = json!({
                "eventVersion": "1.08",
                "userIdentity": {
                    "type": "IAMUser",
                    "principalId": format!("AIDA{}", &id[..12].to_uppercase()),
                    "arn": format!("arn:aws:iam::123456789012:user/{username}"),
                    "accountId": "123456789012",
                    "userName": username,
                },
                "eventTime": when,
                "eventSource": e.event_source,
                "eventName": e.event_name,
                "awsRegion": region,
                "sourceIPAddress": "198.51.100.24",
                "userAgent": "aws-cli/2.15.0",
                "requestParameters": e.request_parameters,
                "responseElements": null,
                "readOnly": e.read_only,
                "eventID": id,
                "eventType": "AwsApiCall",
                "managementEvent": true,
                "recipientAccountId": "123456789012",
            });
            let resources: Vec<Value> = e
                .resources
                .iter()
                .map(|r| json!({"ResourceType": r.kind, "ResourceName": r.name}))
                .collect();
            let mut attrs = vec![
                ("EventId", id.clone()),
                ("EventName", e.event_name.clone()),
                ("ReadOnly", e.read_only.to_string()),
                ("Username", username.clone()),
                ("EventSource", e.event_source.clone()),
            ];
            for r in &e.resources {
                attrs.push(("ResourceType", r.kind.clone()));
                attrs.push(("ResourceName", r.name.clone()));
            }
            let served = json!({
                "EventId": id,
                "EventName": e.event_name,
                "ReadOnly": e.read_only.to_string(),
                "EventTime": time,
                "EventSource": e.event_source,
                "Username": username,
                "Resources": resources,
                "CloudTrailEvent": trail_json.to_string(),
            });
            Served {
                id,
                time,
                json: served,
                attrs,
            }
        })
        .collect()
}

fn stable_id(scenario: &str, index: usize) -> String {
    use sha2::{Digest, Sha256};
    let h = hex::encode(Sha256::digest(format!("{scenario}:{index}").as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub struct CloudTrailServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    calls: Arc<std::sync::atomic::AtomicU64>,
}

impl CloudTrailServer {
    pub async fn start(events: Vec<Served>) -> anyhow::Result<CloudTrailServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let state = (Arc::new(events), calls.clone());
        let app = Router::new().route("/", post(handle)).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(CloudTrailServer { addr, task, calls })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for CloudTrailServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-errortype", kind),
        ],
        json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response()
}

type Shared = (Arc<Vec<Served>>, Arc<std::sync::atomic::AtomicU64>);

async fn handle(
    State((events, calls)): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !TARGETS.contains(&target) {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("operation {target:?} is not served here"),
        );
    }
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                &e.to_string(),
            )
        }
    };
    match lookup(&events, &req) {
        Ok(v) => (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            v.to_string(),
        )
            .into_response(),
        Err((kind, msg)) => aws_error(StatusCode::BAD_REQUEST, kind, &msg),
    }
}

/// The LookupEvents logic, separate from HTTP for testing.
pub fn lookup(events: &[Served], req: &Value) -> Result<Value, (&'static str, String)> {
    let start = req
        .get("StartTime")
        .and_then(Value::as_f64)
        .unwrap_or(f64::MIN);
    let end = req
        .get("EndTime")
        .and_then(Value::as_f64)
        .unwrap_or(f64::MAX);
    if start > end {
        return Err((
            "InvalidTimeRangeException",
            "StartTime is after EndTime".into(),
        ));
    }
    let max = req.get("MaxResults").and_then(Value::as_i64).unwrap_or(50);
    if !(1..=50).contains(&max) {
        return Err((
            "InvalidMaxResultsException",
            format!("MaxResults must be 1 to 50, got {max}"),
        ));
    }
    let attrs = req
        .get("LookupAttributes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if attrs.len() > 1 {
        return Err((
            "InvalidLookupAttributesException",
            "only one lookup attribute may be given".into(),
        ));
    }
    let filter = match attrs.first() {
        Some(a) => {
            let key = a
                .get("AttributeKey")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let value = a
                .get("AttributeValue")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            const KEYS: &[&str] = &[
                "EventId",
                "EventName",
                "ReadOnly",
                "Username",
                "ResourceType",
                "ResourceName",
                "EventSource",
                "AccessKeyId",
            ];
            if !KEYS.contains(&key.as_str()) {
                return Err((
                    "InvalidLookupAttributesException",
                    format!("unknown AttributeKey {key:?}"),
                ));
            }
            Some((key, value))
        }
        None => None,
    };
    let mut matching: Vec<&Served> = events
        .iter()
        .filter(|e| e.time >= start && e.time <= end)
        .filter(|e| match &filter {
            Some((k, v)) => e.attrs.iter().any(|(ak, av)| ak == k && av == v),
            None => true,
        })
        .collect();
    // Newest first; ties broken by id for a stable order across pages.
    matching.sort_by(|a, b| b.time.total_cmp(&a.time).then_with(|| a.id.cmp(&b.id)));
    let offset = match req.get("NextToken").and_then(Value::as_str) {
        Some(t) => t
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or((
                "InvalidNextTokenException",
                format!("invalid NextToken {t:?}"),
            ))?,
        None => 0,
    };
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(max as usize)
        .map(|e| e.json.clone())
        .collect();
    let mut out = json!({ "Events": page });
    if offset + (max as usize) < matching.len() {
        out["NextToken"] = json!(format!("page-{}", offset + max as usize));
    }
    Ok(out)
}
