//! CloudTrail: write (non-read-only) management events in the window before the transition,
//! summarised as who changed what, when, on which resource, with the request parameters
//! (redacted later with the rest of the frame, and truncated).

use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use convops_shared::evidence::ChangeEvidence;

use crate::aws::{Action, CallError, Clients};

/// Pages of 50 events read at most per investigation.
const MAX_PAGES: usize = 20;

/// Write events between `start_ms` and `end_ms`, newest first.
pub async fn changes(
    clients: &Clients,
    start_ms: i64,
    end_ms: i64,
    next_id: &mut (dyn FnMut() -> String + Send),
) -> Result<(Vec<ChangeEvidence>, bool), CallError> {
    let attr = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::ReadOnly)
        .attribute_value("false")
        .build()
        .map_err(|e| CallError {
            action: Action::CloudTrailLookupEvents,
            kind: crate::aws::FailureKind::Other,
            code: None,
            message: e.to_string(),
        })?;
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    let mut truncated = false;
    for page in 0.. {
        if page == MAX_PAGES {
            truncated = true;
            break;
        }
        let req = clients
            .cloudtrail
            .lookup_events()
            .lookup_attributes(attr.clone())
            .start_time(DateTime::from_millis(start_ms))
            .end_time(DateTime::from_millis(end_ms))
            .max_results(50)
            .set_next_token(token.take());
        let resp = clients
            .call(Action::CloudTrailLookupEvents, || req.clone().send())
            .await?;
        for e in resp.events() {
            // The lookup attribute already asks for writes; keep the check for servers that ignore it.
            if e.read_only() == Some("true") {
                continue;
            }
            let detail: serde_json::Value = e
                .cloud_trail_event()
                .and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or_default();
            let params = detail
                .get("requestParameters")
                .filter(|p| !p.is_null())
                .map(|p| {
                    // Whole (up to a memory bound): the encoder cuts it to its wire length
                    // after redaction, so a secret is never cut before it is masked.
                    let text = p.to_string();
                    if text.chars().count() > crate::reduce::MAX_LINE_CHARS {
                        text.chars()
                            .take(crate::reduce::MAX_LINE_CHARS)
                            .collect::<String>()
                    } else {
                        text
                    }
                });
            let actor = e
                .username()
                .map(str::to_owned)
                .or_else(|| {
                    detail
                        .pointer("/userIdentity/arn")
                        .and_then(|a| a.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "unknown".into());
            let mut resources: Vec<String> = e
                .resources()
                .iter()
                .filter_map(|r| r.resource_name().map(str::to_owned))
                .collect();
            // What the write created or changed, named in its response (a CodeDeploy
            // `deploymentId`, a Lambda `version`, a new `taskDefinitionArn`): the identifier an
            // engineer looks up next.
            for id in response_ids(detail.get("responseElements")) {
                if !resources.contains(&id) {
                    resources.push(id);
                }
            }
            out.push(ChangeEvidence {
                id: next_id(),
                at: e.event_time().and_then(|t| t.to_millis().ok()).unwrap_or(0),
                event_source: e.event_source().unwrap_or_default().to_owned(),
                event_name: e.event_name().unwrap_or_default().to_owned(),
                actor,
                resources,
                parameters: params,
            });
        }
        match resp.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.at));
    Ok((out, truncated))
}

/// Identifiers in a CloudTrail event's `responseElements`: string values whose key ends in
/// `Id`, `Arn`, `Version` or `Revision` (at the top or one object down), at most four, each
/// at most 200 characters.
fn response_ids(response: Option<&serde_json::Value>) -> Vec<String> {
    const SUFFIXES: &[&str] = &["Id", "Arn", "Version", "Revision"];
    let mut out = Vec::new();
    let visit = |map: &serde_json::Map<String, serde_json::Value>, out: &mut Vec<String>| {
        for (k, v) in map {
            if let Some(s) = v.as_str() {
                if SUFFIXES
                    .iter()
                    .any(|x| k.ends_with(x) || k == &x.to_ascii_lowercase())
                    && !s.is_empty()
                    && s.len() <= 200
                    && !out.iter().any(|o| o == s)
                    && out.len() < 4
                {
                    out.push(s.to_owned());
                }
            }
        }
    };
    if let Some(serde_json::Value::Object(top)) = response {
        visit(top, &mut out);
        for v in top.values() {
            if let serde_json::Value::Object(inner) = v {
                visit(inner, &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod response_tests {
    #[test]
    fn identifiers_in_the_response_are_kept() {
        let r = serde_json::json!({
            "deploymentId": "d-7XK2M9Q1A",
            "taskDefinition": {"taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/api:42", "status": "ACTIVE"},
            "version": "17",
            "message": "not an id",
        });
        let ids = super::response_ids(Some(&r));
        assert!(ids.contains(&"d-7XK2M9Q1A".to_owned()), "{ids:?}");
        assert!(
            ids.iter().any(|i| i.ends_with("task-definition/api:42")),
            "{ids:?}"
        );
        assert!(ids.contains(&"17".to_owned()), "{ids:?}");
        assert!(
            !ids.iter().any(|i| i == "not an id" || i == "ACTIVE"),
            "{ids:?}"
        );
        assert!(super::response_ids(None).is_empty());
    }
}
