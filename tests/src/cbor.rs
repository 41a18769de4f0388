//! A loopback adapter between the AWS SDK's CloudWatch client, which speaks Smithy RPC v2 CBOR
//! (`POST /service/GraniteServiceVersion20100801/operation/<Op>`), and moto, which serves
//! CloudWatch over AWS JSON 1.0 (`POST /` with `X-Amz-Target`) only.
//!
//! Requests: the CBOR body (possibly gzip-encoded) is decoded and re-encoded as JSON; timestamps
//! (CBOR tag 1) become epoch-second numbers. Responses: the JSON is re-encoded as CBOR, with the
//! members the CloudWatch service model types as timestamps written as tag 1 and those it types as
//! doubles written as floats (the SDK's decoder is strict about both); errors keep `__type` and
//! the HTTP status. The `smithy-protocol: rpc-v2-cbor` header the SDK insists on is added.

use std::io::Read;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use ciborium::value::Value as Cbor;
use serde_json::Value as Json;

const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";

/// Output members of the CloudWatch model with timestamp type (alone or as list members).
const TIMESTAMP_MEMBERS: &[&str] = &[
    "Timestamp",
    "Timestamps",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
    "AlarmConfigurationUpdatedTimestamp",
    "ActionsSuppressedBy",
    "LastUpdateDate",
    "CreationDate",
    "LastModifiedDate",
    "StartDate",
    "EndDate",
    "LastUpdateTimestamp",
];

/// Output members of the CloudWatch model with double type (alone, in lists or as map values).
const DOUBLE_MEMBERS: &[&str] = &[
    "Threshold",
    "Values",
    "Value",
    "Average",
    "Sum",
    "Minimum",
    "Maximum",
    "SampleCount",
    "ExtendedStatistics",
    "Counts",
];

#[derive(Clone)]
struct Upstream {
    url: String,
    http: reqwest::Client,
    counts: Counts,
}

/// Requests seen per operation, so tests can await "the agent polled N more times".
pub type Counts = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>;

/// A running adapter; stops when dropped.
pub struct CborAdapter {
    pub addr: SocketAddr,
    pub counts: Counts,
    task: tokio::task::JoinHandle<()>,
}

impl CborAdapter {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests for `op` (e.g. `DescribeAlarms`) the adapter has forwarded.
    pub fn count(&self, op: &str) -> u64 {
        self.counts
            .lock()
            .map(|c| c.get(op).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Wait until `op` has been called `n` more times than `since`.
    pub async fn wait_calls(
        &self,
        op: &str,
        since: u64,
        n: u64,
        timeout: std::time::Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.count(op) < since + n {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{op} was not called {n} more times within {timeout:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Serve on a free loopback port, forwarding to moto at `upstream`.
    pub async fn start(upstream: &str) -> anyhow::Result<CborAdapter> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Counts::default();
        let state = Upstream {
            url: upstream.trim_end_matches('/').to_owned() + "/",
            http: reqwest::Client::new(),
            counts: counts.clone(),
        };
        let app = Router::new()
            .route("/service/{service}/operation/{op}", post(forward))
            .with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(CborAdapter { addr, counts, task })
    }
}

impl Drop for CborAdapter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = cbor_bytes(&Cbor::Map(vec![
        (Cbor::Text("__type".into()), Cbor::Text(kind.into())),
        (Cbor::Text("message".into()), Cbor::Text(message.into())),
    ]));
    cbor_response(status, body)
}

fn cbor_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [
            ("content-type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
        ],
        body,
    )
        .into_response()
}

fn cbor_bytes(v: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::into_writer(v, &mut out);
    out
}

async fn forward(
    State(up): State<Upstream>,
    Path((service, op)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Ok(mut c) = up.counts.lock() {
        *c.entry(op.clone()).or_default() += 1;
    }
    if service != TARGET_PREFIX {
        return error(
            StatusCode::BAD_REQUEST,
            "UnknownService",
            &format!("adapter serves {TARGET_PREFIX}, not {service}"),
        );
    }
    let raw = if headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
    {
        let mut out = Vec::new();
        if let Err(e) = flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out) {
            return error(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                &format!("bad gzip body: {e}"),
            );
        }
        out
    } else {
        body.to_vec()
    };
    let json = if raw.is_empty() {
        Json::Object(Default::default())
    } else {
        match ciborium::from_reader::<Cbor, _>(&raw[..]) {
            Ok(v) => cbor_to_json(&v),
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "SerializationException",
                    &format!("bad CBOR body: {e}"),
                )
            }
        }
    };
    let mut req = up
        .http
        .post(&up.url)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("{TARGET_PREFIX}.{op}"))
        .body(json.to_string());
    // moto takes the region from the SigV4 credential scope.
    for h in ["authorization", "x-amz-date", "x-amz-security-token"] {
        if let Some(v) = headers.get(h) {
            req = req.header(h, v);
        }
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_GATEWAY,
                "ServiceUnavailable",
                &format!("moto unreachable: {e}"),
            )
        }
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let text = resp.text().await.unwrap_or_default();
    let json: Json = if text.trim().is_empty() {
        Json::Object(Default::default())
    } else {
        match serde_json::from_str(&text) {
            Ok(j) => j,
            Err(_) => return error(status, "InternalFailure", &text),
        }
    };
    let mut cbor = json_to_cbor(&json, None);
    if !status.is_success() {
        cbor = normalise_error(cbor);
    }
    cbor_response(status, cbor_bytes(&cbor))
}

/// moto's error body carries `Message`; the SDK reads `message`. Keep one `message`.
fn normalise_error(v: Cbor) -> Cbor {
    let Cbor::Map(entries) = v else { return v };
    let is = |k: &Cbor, name: &str| matches!(k, Cbor::Text(t) if t == name);
    let has_lower = entries.iter().any(|(k, _)| is(k, "message"));
    Cbor::Map(
        entries
            .into_iter()
            .filter(|(k, _)| !(has_lower && is(k, "Message")))
            .map(|(k, v)| {
                if is(&k, "Message") {
                    (Cbor::Text("message".into()), v)
                } else {
                    (k, v)
                }
            })
            .collect(),
    )
}

/// CBOR request → JSON 1.0 request body.
pub fn cbor_to_json(v: &Cbor) -> Json {
    match v {
        Cbor::Integer(i) => {
            let n: i128 = (*i).into();
            i64::try_from(n)
                .map(Json::from)
                .unwrap_or_else(|_| Json::from(n as f64))
        }
        Cbor::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Cbor::Text(s) => Json::String(s.clone()),
        Cbor::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Bool(b) => Json::Bool(*b),
        Cbor::Null => Json::Null,
        Cbor::Tag(1, inner) => cbor_to_json(inner),
        Cbor::Tag(_, inner) => cbor_to_json(inner),
        Cbor::Array(items) => Json::Array(items.iter().map(cbor_to_json).collect()),
        Cbor::Map(entries) => Json::Object(
            entries
                .iter()
                .filter_map(|(k, v)| match k {
                    Cbor::Text(k) => Some((k.clone(), cbor_to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => Json::Null,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Timestamp,
    Double,
}

fn member_kind(name: &str) -> Option<Kind> {
    if TIMESTAMP_MEMBERS.contains(&name) {
        Some(Kind::Timestamp)
    } else if DOUBLE_MEMBERS.contains(&name) {
        Some(Kind::Double)
    } else {
        None
    }
}

fn epoch_seconds(j: &Json) -> Option<f64> {
    match j {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => {
            let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()?;
            Some(t.unix_timestamp_nanos() as f64 / 1e9)
        }
        _ => None,
    }
}

/// JSON 1.0 response → CBOR response, typing members by name (`kind` is inherited into lists and
/// map values).
pub fn json_to_cbor(j: &Json, kind: Option<Kind>) -> Cbor {
    match (j, kind) {
        (Json::Array(items), k) => Cbor::Array(items.iter().map(|i| json_to_cbor(i, k)).collect()),
        (Json::Object(map), k) => Cbor::Map(
            map.iter()
                .map(|(name, v)| {
                    // Map values inherit a double kind (ExtendedStatistics); struct members are typed by name.
                    let child =
                        member_kind(name).or(if k == Some(Kind::Double) { k } else { None });
                    (Cbor::Text(name.clone()), json_to_cbor(v, child))
                })
                .collect(),
        ),
        (v, Some(Kind::Timestamp)) => match epoch_seconds(v) {
            Some(secs) => Cbor::Tag(1, Box::new(Cbor::Float(secs))),
            None => json_to_cbor(v, None),
        },
        (Json::Number(n), Some(Kind::Double)) => Cbor::Float(n.as_f64().unwrap_or(0.0)),
        (Json::Number(n), None) => match n.as_i64() {
            Some(i) => Cbor::Integer(i.into()),
            None => Cbor::Float(n.as_f64().unwrap_or(0.0)),
        },
        (Json::String(s), _) => Cbor::Text(s.clone()),
        (Json::Bool(b), _) => Cbor::Bool(*b),
        (Json::Null, _) => Cbor::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_members_are_converted() {
        let j: Json = serde_json::json!({
            "MetricDataResults": [{"Id": "m0", "Timestamps": [1700000000, 1700000060], "Values": [1, 2.5]}],
            "MetricAlarms": [{"Threshold": 10, "EvaluationPeriods": 3, "StateUpdatedTimestamp": "2026-01-01T00:00:00Z"}]
        });
        let c = json_to_cbor(&j, None);
        let text = format!("{c:?}");
        assert!(text.contains("Tag(1, Float(1700000000.0))"), "{text}");
        assert!(text.contains("Float(1.0)"), "{text}");
        assert!(text.contains("Integer(Integer(3))"), "{text}");
        assert!(text.contains("Tag(1, Float(1767225600.0))"), "{text}");
        // And requests: tag 1 becomes a plain number.
        let req = Cbor::Map(vec![(
            Cbor::Text("StartTime".into()),
            Cbor::Tag(1, Box::new(Cbor::Float(1.5))),
        )]);
        assert_eq!(cbor_to_json(&req), serde_json::json!({"StartTime": 1.5}));
    }
}
