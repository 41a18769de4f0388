//! Evidence sources against the emulator, and sources that fail: a throttled CloudTrail and an
//! access-denied ECS come back partial with the reason, throttling is retried (honouring
//! `Retry-After`, within the per-action rate) and denial is not, and the investigation still
//! delivers, saying what could not be checked.

use std::time::Duration;

use convops_tests::cbor::CborAdapter;
use convops_tests::chat::SlackReceiver;
use convops_tests::failing::FailingAws;
use convops_tests::moto::Moto;
use convops_tests::procs::{self, AwsEndpoints, ControlPlaneSetup};
use convops_tests::runner::contains_secret;
use convops_tests::scenario;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_and_denied_sources_are_reported_not_fatal() -> anyhow::Result<()> {
    let moto = Moto::start().await?;
    let adapter = CborAdapter::start(&moto.endpoint()).await?;
    let slack = SlackReceiver::start().await?;
    let throttled =
        FailingAws::start_with_retry_after(400, "ThrottlingException", "Rate exceeded", Some("1"))
            .await?;
    let denied = FailingAws::start(
        400,
        "AccessDeniedException",
        "User is not authorized to perform: ecs:ListTasks",
    )
    .await?;
    let Some(file) =
        convops_tests::shared_path("scenarios/public/ecs-oom-after-memory-limit-cut.json")
    else {
        return Ok(());
    };
    let s = scenario::load(&file)?;
    let aws = AwsEndpoints {
        region: s.region.clone(),
        default: moto.endpoint(),
        cloudwatch: adapter.endpoint(),
        cloudtrail: Some(throttled.endpoint()),
        overrides: vec![("AWS_ENDPOINT_URL_ECS".into(), denied.endpoint())],
    };
    let s = convops_tests::seed::seed(
        &s,
        &aws,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64,
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let cp = ControlPlaneSetup::create(dir.path(), &slack.webhook_url())?;
    let _cp = cp.start().await?;
    let clusters: Vec<String> = s.ecs.iter().map(|c| c.cluster.clone()).collect();
    let _agent = procs::start_agent_watching(
        &cp,
        &aws,
        &dir.path().join("spool"),
        dir.path().join("agent.log"),
        &clusters,
    )?;

    let msg = slack.wait_for(1, Duration::from_secs(90)).await?.remove(0);
    let text = msg.text();
    assert!(text.contains("Could not check"), "{text}");
    assert!(text.contains("cloudtrail partial: throttled"), "{text}");
    assert!(
        text.contains("ecs partial: cluster shop-prod: access denied"),
        "{text}"
    );
    // The rest of the evidence still arrived: the alarm's metric. (Without ECS and CloudTrail the
    // agent cannot tell which log groups belong to the alarm, so it reads none.)
    assert!(text.contains("HTTPCode_ELB_502_Count"), "{text}");
    // Throttling was retried by the agent's classifier, as many times as it allows and each
    // time after the server's Retry-After (1 s), so never faster than LookupEvents' 2/s quota;
    // denial was not retried.
    let times = throttled.request_times();
    assert_eq!(
        times.len() as u32,
        convops_agent::aws::MAX_ATTEMPTS,
        "throttled calls retried up to the limit"
    );
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(
            gap >= Duration::from_millis(950),
            "Retry-After not honoured: {gap:?}"
        );
    }
    assert_eq!(denied.requests(), 1, "an access-denied call is not retried");
    for secret in &s.expect.secrets {
        assert!(
            !contains_secret(msg.raw.as_bytes(), secret),
            "{secret} leaked into chat"
        );
    }
    Ok(())
}
