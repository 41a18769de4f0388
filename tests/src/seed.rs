//! Seeding the emulator from a scenario through the ordinary AWS write APIs (this is test code:
//! the agent itself never writes), in the order FORMAT.md gives: EC2 first (the emulator picks
//! instance ids, which are then substituted everywhere in the scenario), then metrics, logs, ECS,
//! RDS, and last the alarm with `SetAlarmState`.

use anyhow::Context;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::procs::{cloudwatch_client, seed_config, AwsEndpoints};
use crate::scenario::{self, Scenario};

/// The emulator's account id.
pub const ACCOUNT_ID: &str = "123456789012";

/// `Operation: Code: message` for an SDK error (the full debug chain only when AWS sent no code).
fn sdk<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    what: &str,
) -> impl FnOnce(E) -> anyhow::Error + '_ {
    move |e| match (e.code(), e.message()) {
        (Some(c), Some(m)) => anyhow::anyhow!("{what}: {c}: {m}"),
        (Some(c), None) => anyhow::anyhow!("{what}: {c}"),
        _ => anyhow::anyhow!("{what}: {}", DisplayErrorContext(e)),
    }
}

/// Seed everything; returns the scenario with emulator-assigned ids substituted and time 0
/// (epoch seconds) of the seeding.
pub async fn seed(s: &Scenario, aws: &AwsEndpoints, t0: i64) -> anyhow::Result<Scenario> {
    let shared = seed_config(aws).await;
    let s = seed_ec2(s, &shared).await?;
    let cw = cloudwatch_client(&shared, aws);
    seed_metrics(&s, &cw, t0).await?;
    seed_logs(&s, &aws_sdk_cloudwatchlogs::Client::new(&shared), t0).await?;
    seed_ecs(
        &s,
        &aws_sdk_ecs::Client::new(&shared),
        &aws_sdk_ec2::Client::new(&shared),
    )
    .await?;
    seed_rds(&s, &aws_sdk_rds::Client::new(&shared)).await?;
    seed_alarm(&s, &cw).await?;
    Ok(s)
}

async fn seed_ec2(s: &Scenario, shared: &aws_config::SdkConfig) -> anyhow::Result<Scenario> {
    use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
    if s.ec2.is_empty() {
        return Ok(s.clone());
    }
    let ec2 = aws_sdk_ec2::Client::new(shared);
    let images = ec2
        .describe_images()
        .send()
        .await
        .map_err(sdk("DescribeImages"))?;
    let image = images
        .images()
        .iter()
        .find_map(|i| i.image_id())
        .context("the emulator offers no AMI")?
        .to_owned();
    let mut replacements = Vec::new();
    for inst in &s.ec2 {
        let out = ec2
            .run_instances()
            .image_id(&image)
            .instance_type(InstanceType::from(inst.kind.as_str()))
            .min_count(1)
            .max_count(1)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .tags(Tag::builder().key("Name").value(&inst.name).build())
                    .build(),
            )
            .send()
            .await
            .map_err(sdk("RunInstances"))?;
        let id = out
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .context("RunInstances returned no instance")?
            .to_owned();
        if inst.state == "stopped" {
            ec2.stop_instances()
                .instance_ids(&id)
                .send()
                .await
                .map_err(sdk("StopInstances"))?;
        }
        if let Some(planned) = &inst.instance_id {
            replacements.push((planned.clone(), id));
        }
    }
    if replacements.is_empty() {
        return Ok(s.clone());
    }
    let mut text = serde_json::to_string(s)?;
    for (planned, actual) in &replacements {
        text = text.replace(planned.as_str(), actual);
    }
    Ok(serde_json::from_str(&text)?)
}

async fn seed_metrics(
    s: &Scenario,
    cw: &aws_sdk_cloudwatch::Client,
    t0: i64,
) -> anyhow::Result<()> {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    for (i, m) in s.metrics.iter().enumerate() {
        let dims: Vec<Dimension> = m
            .dimensions
            .iter()
            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
            .collect();
        let data: Vec<MetricDatum> = scenario::datapoints(s.seed, i, m)
            .into_iter()
            .map(|(t, v)| {
                MetricDatum::builder()
                    .metric_name(&m.name)
                    .set_dimensions(Some(dims.clone()))
                    .timestamp(DateTime::from_secs(t0 + t))
                    .value(v)
                    .set_unit(m.unit.as_deref().map(StandardUnit::from))
                    .build()
            })
            .collect();
        for chunk in data.chunks(1000) {
            cw.put_metric_data()
                .namespace(&m.namespace)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(sdk("PutMetricData"))?;
        }
    }
    Ok(())
}

async fn seed_logs(
    s: &Scenario,
    logs: &aws_sdk_cloudwatchlogs::Client,
    t0: i64,
) -> anyhow::Result<()> {
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    let mut groups = std::collections::BTreeSet::new();
    for (i, l) in s.logs.iter().enumerate() {
        if groups.insert(l.group.clone()) {
            logs.create_log_group()
                .log_group_name(&l.group)
                .send()
                .await
                .map_err(sdk("CreateLogGroup"))?;
        }
        logs.create_log_stream()
            .log_group_name(&l.group)
            .log_stream_name(&l.stream)
            .send()
            .await
            .map_err(sdk("CreateLogStream"))?;
        let events = scenario::log_events(s.seed, i, l);
        let mut batch: Vec<InputLogEvent> = Vec::new();
        let mut bytes = 0usize;
        for (t, line) in events {
            let size = line.len() + 26;
            if batch.len() == 10_000 || bytes + size > 1_000_000 {
                put_logs(logs, &l.group, &l.stream, std::mem::take(&mut batch)).await?;
                bytes = 0;
            }
            bytes += size;
            batch.push(
                InputLogEvent::builder()
                    .timestamp((t0 + t) * 1000)
                    .message(line)
                    .build()?,
            );
        }
        if !batch.is_empty() {
            put_logs(logs, &l.group, &l.stream, batch).await?;
        }
    }
    Ok(())
}

async fn put_logs(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    batch: Vec<aws_sdk_cloudwatchlogs::types::InputLogEvent>,
) -> anyhow::Result<()> {
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(batch))
        .send()
        .await
        .map_err(sdk("PutLogEvents"))?;
    Ok(())
}

async fn seed_ecs(
    s: &Scenario,
    ecs: &aws_sdk_ecs::Client,
    ec2: &aws_sdk_ec2::Client,
) -> anyhow::Result<()> {
    use aws_sdk_ecs::types::{
        Compatibility, ContainerDefinition, LaunchType, LoadBalancer, NetworkMode,
    };
    if s.ecs.is_empty() {
        return Ok(());
    }
    // awsvpc tasks need a subnet; the emulator's default VPC has some.
    let subnets = ec2
        .describe_subnets()
        .send()
        .await
        .map_err(sdk("DescribeSubnets"))?;
    let subnet = subnets
        .subnets()
        .iter()
        .find_map(|s| s.subnet_id())
        .context("the emulator has no default subnet")?
        .to_owned();
    let groups = ec2
        .describe_security_groups()
        .send()
        .await
        .map_err(sdk("DescribeSecurityGroups"))?;
    let group = groups
        .security_groups()
        .iter()
        .find_map(|g| g.group_id())
        .context("the emulator has no default security group")?
        .to_owned();
    let net = (subnet, group);
    for c in &s.ecs {
        ecs.create_cluster()
            .cluster_name(&c.cluster)
            .send()
            .await
            .map_err(sdk("CreateCluster"))?;
        for svc in &c.services {
            let container = svc
                .load_balancers
                .iter()
                .find_map(|lb| lb.container.clone())
                .unwrap_or_else(|| "app".to_owned());
            let mut last = String::new();
            for td in &svc.task_definitions {
                let memory = td.memory.unwrap_or(512);
                let out = ecs
                    .register_task_definition()
                    .family(&td.family)
                    .network_mode(NetworkMode::Awsvpc)
                    .requires_compatibilities(Compatibility::Fargate)
                    .cpu(td.cpu.unwrap_or(256).to_string())
                    .memory(memory.to_string())
                    .container_definitions(
                        ContainerDefinition::builder()
                            .name(&container)
                            .image(&td.image)
                            .memory(memory as i32)
                            .essential(true)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(sdk("RegisterTaskDefinition"))?;
                last = out
                    .task_definition()
                    .and_then(|t| t.task_definition_arn())
                    .context("RegisterTaskDefinition returned no ARN")?
                    .to_owned();
            }
            let lbs: Vec<LoadBalancer> = svc
                .load_balancers
                .iter()
                .map(|lb| {
                    LoadBalancer::builder()
                        .target_group_arn(format!(
                            "arn:aws:elasticloadbalancing:{}:{ACCOUNT_ID}:{}",
                            s.region, lb.target_group
                        ))
                        .container_name(lb.container.clone().unwrap_or_else(|| container.clone()))
                        .container_port(lb.port.unwrap_or(8080) as i32)
                        .build()
                })
                .collect();
            ecs.create_service()
                .cluster(&c.cluster)
                .service_name(&svc.name)
                .task_definition(&last)
                .desired_count(svc.desired as i32)
                .launch_type(LaunchType::Fargate)
                .set_load_balancers(if lbs.is_empty() { None } else { Some(lbs) })
                .send()
                .await
                .map_err(sdk("CreateService"))?;
            let group = format!("service:{}", svc.name);
            run_tasks(ecs, &c.cluster, &last, &group, &net, svc.desired).await?;
            for st in &svc.stopped_tasks {
                for arn in run_tasks(ecs, &c.cluster, &last, &group, &net, st.count).await? {
                    ecs.stop_task()
                        .cluster(&c.cluster)
                        .task(&arn)
                        .reason(&st.reason)
                        .send()
                        .await
                        .map_err(sdk("StopTask"))?;
                }
            }
        }
    }
    Ok(())
}

async fn run_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    td: &str,
    group: &str,
    (subnet, security_group): &(String, String),
    count: i64,
) -> anyhow::Result<Vec<String>> {
    let mut arns = Vec::new();
    let mut left = count;
    while left > 0 {
        let n = left.min(10);
        let out = ecs
            .run_task()
            .cluster(cluster)
            .task_definition(td)
            .count(n as i32)
            .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
            .network_configuration(
                aws_sdk_ecs::types::NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                            .subnets(subnet)
                            .security_groups(security_group)
                            .build()?,
                    )
                    .build(),
            )
            .group(group)
            .send()
            .await
            .map_err(sdk("RunTask"))?;
        arns.extend(
            out.tasks()
                .iter()
                .filter_map(|t| t.task_arn().map(str::to_owned)),
        );
        left -= n;
    }
    Ok(arns)
}

async fn seed_rds(s: &Scenario, rds: &aws_sdk_rds::Client) -> anyhow::Result<()> {
    for db in &s.rds {
        rds.create_db_instance()
            .db_instance_identifier(&db.id)
            .db_instance_class(&db.class)
            .engine(&db.engine)
            .allocated_storage(db.allocated_storage as i32)
            .master_username("convops_seed")
            .master_user_password("convops-seed-password")
            .send()
            .await
            .map_err(sdk("CreateDBInstance"))?;
        if db.status == "stopped" {
            rds.stop_db_instance()
                .db_instance_identifier(&db.id)
                .send()
                .await
                .map_err(sdk("StopDBInstance"))?;
        }
    }
    Ok(())
}

async fn seed_alarm(s: &Scenario, cw: &aws_sdk_cloudwatch::Client) -> anyhow::Result<()> {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
    let a = &s.alarm;
    let mut req = cw
        .put_metric_alarm()
        .alarm_name(&a.name)
        .namespace(&a.namespace)
        .metric_name(&a.metric)
        .set_dimensions(Some(
            a.dimensions
                .iter()
                .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                .collect(),
        ))
        .period(a.period as i32)
        .evaluation_periods(a.evaluation_periods as i32)
        .threshold(a.threshold)
        .comparison_operator(ComparisonOperator::from(a.comparison.as_str()));
    req = if a.statistic.starts_with('p') {
        req.extended_statistic(&a.statistic)
    } else {
        req.statistic(Statistic::from(a.statistic.as_str()))
    };
    req.send().await.map_err(sdk("PutMetricAlarm"))?;
    cw.set_alarm_state()
        .alarm_name(&a.name)
        .state_value(StateValue::Alarm)
        .state_reason(&a.reason)
        .send()
        .await
        .map_err(sdk("SetAlarmState"))?;
    Ok(())
}
