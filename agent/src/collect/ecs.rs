//! ECS: the services of the watched clusters, found without `ListServices` (not in the read-only
//! list) through `ListTasks` + `DescribeTasks` (`group` = `service:NAME`), then
//! `DescribeServices` for deployments, counts, load balancers and events, and the stopped tasks'
//! reasons grouped with counts.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types::DesiredStatus;
use convops_shared::evidence::{EcsServiceEvidence, StoppedTasks};

use crate::aws::{Action, CallError, Clients};

/// At most this many tasks are described per cluster and status.
const MAX_TASKS: usize = 1000;

/// `family:revision` from a task definition ARN (or the input when it is not an ARN).
pub fn family_revision(arn: &str) -> String {
    arn.rsplit_once("task-definition/")
        .map(|(_, fr)| fr.to_owned())
        .unwrap_or_else(|| arn.to_owned())
}

#[derive(Default)]
struct TaskFacts {
    stopped: BTreeMap<(String, String), (u32, Option<i64>)>,
}

async fn list_tasks(
    clients: &Clients,
    cluster: &str,
    status: DesiredStatus,
) -> Result<Vec<String>, CallError> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let req = clients
            .ecs
            .list_tasks()
            .cluster(cluster)
            .desired_status(status.clone())
            .set_next_token(token);
        let out = clients
            .call(Action::EcsListTasks, || req.clone().send())
            .await?;
        arns.extend(out.task_arns().iter().cloned());
        token = out.next_token().map(str::to_owned);
        if token.is_none() || arns.len() >= MAX_TASKS {
            break;
        }
    }
    arns.truncate(MAX_TASKS);
    Ok(arns)
}

/// Every service of `cluster` with its evidence; `ids` numbers the items.
pub async fn cluster_services(
    clients: &Clients,
    cluster: &str,
    next_id: &mut (dyn FnMut() -> String + Send),
) -> Result<Vec<EcsServiceEvidence>, CallError> {
    let mut services: BTreeSet<String> = BTreeSet::new();
    let mut facts: BTreeMap<String, TaskFacts> = BTreeMap::new();
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let arns = list_tasks(clients, cluster, status).await?;
        for chunk in arns.chunks(100) {
            let req = clients
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()));
            let out = clients
                .call(Action::EcsDescribeTasks, || req.clone().send())
                .await?;
            for t in out.tasks() {
                let Some(service) = t.group().and_then(|g| g.strip_prefix("service:")) else {
                    continue;
                };
                services.insert(service.to_owned());
                if t.last_status() == Some("STOPPED") || t.desired_status() == Some("STOPPED") {
                    let mut reason = t
                        .stopped_reason()
                        .unwrap_or("stopped (no reason given)")
                        .to_owned();
                    // Where the task ran decides what can replace it (a Spot interruption on
                    // `FARGATE_SPOT` is not replaced while Spot has no capacity).
                    if let Some(cp) = t.capacity_provider_name().filter(|c| !c.is_empty()) {
                        reason.push_str(&format!(" (capacity provider {cp})"));
                    }
                    let td = t
                        .task_definition_arn()
                        .map(family_revision)
                        .unwrap_or_default();
                    let at = t.stopped_at().and_then(|d| d.to_millis().ok());
                    let e = facts
                        .entry(service.to_owned())
                        .or_default()
                        .stopped
                        .entry((reason, td))
                        .or_insert((0, None));
                    e.0 += 1;
                    e.1 = e.1.max(at);
                }
            }
        }
    }
    let names: Vec<String> = services.into_iter().collect();
    let mut out = Vec::new();
    for chunk in names.chunks(10) {
        let req = clients
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()));
        let described = clients
            .call(Action::EcsDescribeServices, || req.clone().send())
            .await?;
        for s in described.services() {
            let name = s.service_name().unwrap_or_default().to_owned();
            let mut stopped: Vec<StoppedTasks> = facts
                .remove(&name)
                .map(|f| {
                    f.stopped
                        .into_iter()
                        .map(|((reason, td), (count, at))| StoppedTasks {
                            reason,
                            count,
                            task_definition: (!td.is_empty()).then_some(td),
                            last_stopped_at: at,
                        })
                        .collect()
                })
                .unwrap_or_default();
            stopped.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
            out.push(EcsServiceEvidence {
                id: next_id(),
                cluster: cluster.to_owned(),
                service: name,
                task_definition: s.task_definition().map(family_revision).unwrap_or_default(),
                desired: i64::from(s.desired_count()),
                running: i64::from(s.running_count()),
                deployments: s
                    .deployments()
                    .iter()
                    .map(|d| {
                        format!(
                            "{} {} {}{}",
                            d.task_definition().map(family_revision).unwrap_or_default(),
                            d.status().unwrap_or_default(),
                            d.rollout_state()
                                .map(|r| r.as_str().to_owned())
                                .unwrap_or_default(),
                            d.created_at()
                                .map(|t| format!(" created {}", t.secs()))
                                .unwrap_or_default()
                        )
                        .trim()
                        .to_owned()
                    })
                    .collect(),
                target_groups: s
                    .load_balancers()
                    .iter()
                    .filter_map(|lb| lb.target_group_arn().map(str::to_owned))
                    .collect(),
                stopped,
                events: s
                    .events()
                    .iter()
                    .take(5)
                    .filter_map(|e| e.message().map(str::to_owned))
                    .collect(),
            });
        }
    }
    Ok(out)
}
