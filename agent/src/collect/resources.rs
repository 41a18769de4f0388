//! RDS instances (`DescribeDBInstances`) and EC2 instances (`DescribeInstances`): state and the
//! facts a person checks first.

use convops_shared::evidence::ResourceEvidence;

use crate::aws::{Action, CallError, Clients};

/// Instances listed per kind at most; the result says when there were more.
const MAX_RESOURCES: usize = 500;

pub async fn db_instances(
    clients: &Clients,
    next_id: &mut (dyn FnMut() -> String + Send),
) -> Result<(Vec<ResourceEvidence>, bool), CallError> {
    let mut out = Vec::new();
    let mut truncated = false;
    let mut marker = None;
    loop {
        let req = clients.rds.describe_db_instances().set_marker(marker);
        let resp = clients
            .call(Action::RdsDescribeDbInstances, || req.clone().send())
            .await?;
        for db in resp.db_instances() {
            let mut details = Vec::new();
            if let Some(c) = db.db_instance_class() {
                details.push(format!("class {c}"));
            }
            if let Some(e) = db.engine() {
                details.push(
                    format!("engine {e} {}", db.engine_version().unwrap_or_default())
                        .trim()
                        .to_owned(),
                );
            }
            if let Some(s) = db.allocated_storage() {
                details.push(format!("storage {s} GiB"));
            }
            if db.multi_az() == Some(true) {
                details.push("multi-AZ".into());
            }
            out.push(ResourceEvidence {
                id: next_id(),
                resource_type: "rds_instance".into(),
                name: db.db_instance_identifier().unwrap_or_default().to_owned(),
                state: db.db_instance_status().unwrap_or("unknown").to_owned(),
                details,
                resource_id: None,
            });
        }
        marker = resp.marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
        if out.len() >= MAX_RESOURCES {
            truncated = true;
            break;
        }
    }
    Ok((out, truncated))
}

pub async fn ec2_instances(
    clients: &Clients,
    next_id: &mut (dyn FnMut() -> String + Send),
) -> Result<(Vec<ResourceEvidence>, bool), CallError> {
    let mut out = Vec::new();
    let mut truncated = false;
    let mut token = None;
    loop {
        let req = clients.ec2.describe_instances().set_next_token(token);
        let resp = clients
            .call(Action::Ec2DescribeInstances, || req.clone().send())
            .await?;
        for r in resp.reservations() {
            for i in r.instances() {
                let id = i.instance_id().unwrap_or_default().to_owned();
                let name = i
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("Name"))
                    .and_then(|t| t.value())
                    .map(str::to_owned)
                    .unwrap_or_else(|| id.clone());
                let mut details = vec![format!("instance {id}")];
                if let Some(t) = i.instance_type() {
                    details.push(format!("type {}", t.as_str()));
                }
                if let Some(reason) = i.state_reason().and_then(|s| s.message()) {
                    details.push(format!("state reason: {reason}"));
                }
                out.push(ResourceEvidence {
                    id: next_id(),
                    resource_type: "ec2_instance".into(),
                    name,
                    state: i
                        .state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_owned())
                        .unwrap_or_else(|| "unknown".into()),
                    details,
                    resource_id: Some(id),
                });
            }
        }
        token = resp.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
        if out.len() >= MAX_RESOURCES {
            truncated = true;
            break;
        }
    }
    Ok((out, truncated))
}
