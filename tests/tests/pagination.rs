//! Every paginated read the agent makes follows its pages to the end, against the emulator:
//! log groups past the first page of `DescribeLogGroups`, events past the first page of
//! `FilterLogEvents` (with `GetLogEvents` context around the first error), ECS tasks past a
//! `ListTasks` page and a `DescribeTasks` batch, and CloudTrail events past a `LookupEvents` page.

use std::sync::Arc;

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, NetworkConfiguration,
    NetworkMode,
};
use convops_agent::aws::{budgeted, metered, Budget, Clients, FailureKind, Meter};
use convops_agent::collect;
use convops_tests::cloudtrail::{self, CloudTrailServer};
use convops_tests::moto::Moto;
use convops_tests::scenario::{TrailEvent, TrailResource};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn base_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIAPAGINATIONTEST01",
            "not-a-real-secret",
            None,
            None,
            "test",
        ))
        .load()
        .await
}

/// Every error-like line of `group` since `start_ms`.
fn read_errors<'a>(
    clients: &'a Clients,
    group: &'a str,
    pattern: &'a regex::Regex,
    start_ms: i64,
    id: &str,
) -> impl std::future::Future<Output = Result<collect::logs::GroupRead, convops_agent::aws::CallError>>
       + 'a {
    collect::logs::group_errors(
        clients,
        group,
        &collect::logs::Scope::All,
        pattern,
        (start_ms - 1, now_ms()),
        now_ms(),
        id.to_owned(),
    )
}

fn ids(prefix: &'static str) -> impl FnMut() -> String + Send {
    let mut n = 0;
    move || {
        n += 1;
        format!("{prefix}{n}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_read_past_every_page() -> anyhow::Result<()> {
    let moto = Moto::start().await?;
    let base = base_config(&moto.endpoint()).await;
    let clients = Clients::from_config(base.clone(), None).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&base);
    // 70 other groups sort before the service's: its group is on the second page.
    for i in 0..70 {
        logs.create_log_group()
            .log_group_name(format!("/aws/noise/{i:03}"))
            .send()
            .await?;
    }
    let group = "/ecs/zz-target";
    logs.create_log_group().log_group_name(group).send().await?;
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name("task/1")
        .send()
        .await?;
    let start = now_ms() - 20 * 60_000;
    let total = 12_000;
    for batch in 0..2 {
        let events: Vec<InputLogEvent> = (batch * total / 2..(batch + 1) * total / 2)
            .map(|i| {
                let message = if i % 100 == 99 {
                    format!("ERROR payment {i} failed: upstream timed out")
                } else {
                    format!("INFO request {i} ok in 12ms")
                };
                InputLogEvent::builder()
                    .timestamp(start + i64::from(i) * 50)
                    .message(message)
                    .build()
            })
            .collect::<Result<_, _>>()?;
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name("task/1")
            .set_log_events(Some(events))
            .send()
            .await?;
    }

    let meter = Arc::new(Meter::default());
    let groups = metered(
        meter.clone(),
        collect::logs::relevant_groups(
            &clients,
            &collect::logs::Involved {
                names: vec!["zz-target".into()],
                ..Default::default()
            },
            &Default::default(),
        ),
    )
    .await?;
    // The service's group first, found on the second page; the other 70 follow as groups read
    // whole only when written in the window (`Scope::Any`).
    assert_eq!(groups[0], (group.to_owned(), collect::logs::Scope::All));
    assert_eq!(groups.len(), 71);
    assert!(groups[1..]
        .iter()
        .all(|g| g.0.starts_with("/aws/noise/") && g.1 == collect::logs::Scope::Any));
    assert!(
        meter.calls() >= 2,
        "DescribeLogGroups pages: {}",
        meter.calls()
    );

    let meter = Arc::new(Meter::default());
    let pattern = regex::Regex::new(collect::logs::DEFAULT_ERROR_PATTERN)?;
    let full = meter.clone();
    let read = metered(
        meter.clone(),
        read_errors(&clients, group, &pattern, start, "l1"),
    )
    .await?;
    assert_eq!(read.evidence.lines_read, total as u64, "every event read");
    let read_bytes = full.raw_bytes();
    assert_eq!(read.evidence.lines_matched, 120);
    assert!(!read.truncated);
    assert!(
        meter.calls() >= 3,
        "FilterLogEvents pages + GetLogEvents: {}",
        meter.calls()
    );
    let context = &read.evidence.context;
    assert!(
        context.len() > 1
            && context
                .last()
                .is_some_and(|l| l.ends_with("ERROR payment 99 failed: upstream timed out")),
        "context ends at the first error: {context:?}"
    );
    assert!(context[0].contains("INFO request"), "{context:?}");

    // A group whose streams took nothing in the window is ruled out by DescribeLogStreams alone.
    logs.create_log_group()
        .log_group_name("/ecs/idle")
        .send()
        .await?;
    logs.create_log_stream()
        .log_group_name("/ecs/idle")
        .log_stream_name("task/never-wrote")
        .send()
        .await?;
    let meter = Arc::new(Meter::default());
    let idle = metered(
        meter.clone(),
        read_errors(&clients, "/ecs/idle", &pattern, start, "l2"),
    )
    .await?;
    assert_eq!(idle.evidence.lines_read, 0);
    assert_eq!(meter.calls(), 1, "only DescribeLogStreams");

    // Under a raw-byte budget smaller than the group, reading stops at the budget and says so.
    let meter = Arc::new(Meter::default());
    let budget = Budget::new(100 * 1024);
    let over = budgeted(
        budget.clone(),
        metered(
            meter.clone(),
            read_errors(&clients, group, &pattern, start, "l1"),
        ),
    )
    .await
    .expect_err("the budget stops the read");
    assert_eq!(over.kind, FailureKind::OverBudget);
    assert!(over.message.contains("budget"), "{over}");
    assert!(budget.used() >= 100 * 1024, "{}", budget.used());
    assert!(
        meter.raw_bytes() < read_bytes,
        "stopped before reading everything: {} of {read_bytes}",
        meter.raw_bytes()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_tasks_are_read_past_a_page_and_a_batch() -> anyhow::Result<()> {
    let moto = Moto::start().await?;
    let base = base_config(&moto.endpoint()).await;
    let clients = Clients::from_config(base.clone(), None).await;
    let ecs = aws_sdk_ecs::Client::new(&base);
    let ec2 = aws_sdk_ec2::Client::new(&base);
    let subnet = ec2
        .describe_subnets()
        .send()
        .await?
        .subnets()
        .iter()
        .find_map(|s| s.subnet_id().map(str::to_owned))
        .expect("a default subnet");
    let security_group = ec2
        .describe_security_groups()
        .send()
        .await?
        .security_groups()
        .iter()
        .find_map(|g| g.group_id().map(str::to_owned))
        .expect("a default security group");
    ecs.create_cluster().cluster_name("pager").send().await?;
    ecs.register_task_definition()
        .family("api")
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("api")
                .image("example/api:1")
                .memory(512)
                .essential(true)
                .build(),
        )
        .send()
        .await?;
    ecs.create_service()
        .cluster("pager")
        .service_name("api")
        .task_definition("api:1")
        .desired_count(130)
        .launch_type(LaunchType::Fargate)
        .send()
        .await?;
    let net = NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets(&subnet)
                .security_groups(&security_group)
                .build()?,
        )
        .build();
    let mut stopped = Vec::new();
    for _ in 0..13 {
        let out = ecs
            .run_task()
            .cluster("pager")
            .task_definition("api:1")
            .count(10)
            .launch_type(LaunchType::Fargate)
            .network_configuration(net.clone())
            .group("service:api")
            .send()
            .await?;
        stopped.extend(
            out.tasks()
                .iter()
                .filter_map(|t| t.task_arn().map(str::to_owned)),
        );
    }
    // 105 of them stop: the stopped list spans more than one DescribeTasks batch of 100.
    for arn in stopped.iter().take(105) {
        ecs.stop_task()
            .cluster("pager")
            .task(arn)
            .reason("Essential container in task exited")
            .send()
            .await?;
    }

    let meter = Arc::new(Meter::default());
    let mut next = ids("e");
    let services = metered(
        meter.clone(),
        collect::ecs::cluster_services(&clients, "pager", &mut next),
    )
    .await?;
    assert_eq!(services.len(), 1, "{services:?}");
    let counted: u32 = services[0].stopped.iter().map(|s| s.count).sum();
    assert_eq!(counted, 105, "{:?}", services[0].stopped);
    assert!(
        meter.calls() >= 5,
        "ListTasks pages + DescribeTasks batches: {}",
        meter.calls()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_instances_are_read_past_a_page() -> anyhow::Result<()> {
    let moto = Moto::start().await?;
    let base = base_config(&moto.endpoint()).await;
    let clients = Clients::from_config(base.clone(), None).await;
    let rds = aws_sdk_rds::Client::new(&base);
    // DescribeDBInstances pages hold 100 instances.
    for i in 0..105 {
        rds.create_db_instance()
            .db_instance_identifier(format!("db-{i:03}"))
            .db_instance_class("db.t3.micro")
            .engine("postgres")
            .allocated_storage(20)
            .master_username("admin")
            .master_user_password("not-a-real-password-1")
            .send()
            .await?;
    }
    let meter = Arc::new(Meter::default());
    let mut next = ids("r");
    let (dbs, truncated) = metered(
        meter.clone(),
        collect::resources::db_instances(&clients, &mut next),
    )
    .await?;
    assert!(!truncated);
    assert_eq!(dbs.len(), 105);
    assert!(dbs.iter().any(|d| d.name == "db-104"));
    assert!(
        meter.calls() >= 2,
        "DescribeDBInstances pages: {}",
        meter.calls()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudtrail_is_read_past_a_page() -> anyhow::Result<()> {
    let trail: Vec<TrailEvent> = (0..120)
        .map(|i| TrailEvent {
            t: -3000 + i * 20,
            event_source: "ecs.amazonaws.com".into(),
            event_name: "UpdateService".into(),
            username: Some(format!("user-{i}")),
            read_only: false,
            resources: vec![TrailResource {
                kind: "AWS::ECS::Service".into(),
                name: format!("svc-{i}"),
            }],
            request_parameters: serde_json::json!({"service": format!("svc-{i}"), "desiredCount": 2}),
        })
        .collect();
    let t0 = now_ms() / 1000;
    let server =
        CloudTrailServer::start(cloudtrail::events(&trail, t0, "us-east-1", "pagination")).await?;
    let base = base_config(&server.endpoint()).await;
    let clients = Clients::from_config(base, None).await;
    let mut next = ids("c");
    let (changes, truncated) =
        collect::cloudtrail::changes(&clients, (t0 - 3600) * 1000, (t0 + 60) * 1000, &mut next)
            .await?;
    assert_eq!(changes.len(), 120);
    assert!(!truncated);
    assert!(
        server.calls() >= 3,
        "LookupEvents pages of 50: {}",
        server.calls()
    );
    assert!(
        changes.windows(2).all(|w| w[0].at >= w[1].at),
        "newest first"
    );
    Ok(())
}
