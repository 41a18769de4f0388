//! End to end through every real hop: moto (AWS) → CBOR adapter → agent (sled spool, TLS 1.3
//! websocket) → control plane (SQLite, diagnosis, delivery outbox) → local Slack receiver, and the
//! REST API.

use std::time::Duration;

use convops_tests::procs;
use convops_tests::world::{fire_alarm, world};

const WAIT: Duration = Duration::from_secs(60);

fn assert_no_credentials(label: &str, bytes: &[u8]) {
    for secret in [
        procs::TEST_AWS_SECRET_ACCESS_KEY,
        procs::TEST_AWS_SESSION_TOKEN,
        procs::TEST_AWS_ACCESS_KEY_ID,
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "AWS credential {secret} found in {label}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fired_alarm_reaches_slack_once_and_is_listed() -> anyhow::Result<()> {
    let w = world().await?;
    let _cp = w.cp.start().await?;
    // Slack rate-limits the first attempt: the delivery must wait and retry, not give up.
    w.slack.fail_next(429, Some(1));
    let spool = w.dir.path().join("spool");
    let mut agent = procs::start_agent(&w.cp, &w.aws, &spool, w.dir.path().join("agent.log"))?;

    let reason = "Threshold Crossed: 3 datapoints [41.0, 42.0, 43.0] were greater than the threshold (10.0).";
    fire_alarm(&w, "orders-api-5xx", "app/orders/50dc6c495c0c9188", reason).await?;

    let msgs = w.slack.wait_for(1, WAIT).await?;
    let text = msgs[0].text();
    assert!(
        text.contains("orders-api-5xx"),
        "alarm name missing:\n{text}"
    );
    assert!(text.contains(reason), "reason missing:\n{text}");
    assert!(
        text.contains("HTTPCode_Target_5XX_Count"),
        "metric missing:\n{text}"
    );
    assert!(
        text.contains("went from 1 to 42"),
        "baseline vs now missing:\n{text}"
    );
    assert!(text.contains("Onset: "), "onset missing:\n{text}");
    assert!(
        w.slack.rejections().is_empty(),
        "{:?}",
        w.slack.rejections()
    );
    assert_eq!(w.slack.attempts(), 2, "one 429, then one successful retry");

    let incidents = w.cp.incidents().await?;
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0]["alarm_name"], "orders-api-5xx");
    assert_eq!(incidents[0]["status"], "open");

    // The alarm stays in ALARM: three more polls must not investigate it again.
    let polls = w.adapter.count("DescribeAlarms");
    w.adapter
        .wait_calls("DescribeAlarms", polls, 3, WAIT)
        .await?;
    assert_eq!(
        w.slack.messages().len(),
        1,
        "an alarm that stays in ALARM is not investigated again"
    );
    assert_eq!(w.adapter.count("GetMetricData"), 1);

    // The agent never called a write action (everything it sent to CloudWatch is counted).
    let agent_ops: Vec<String> = w
        .adapter
        .counts
        .lock()
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    for op in agent_ops {
        assert!(
            [
                "DescribeAlarms",
                "GetMetricData",
                "PutMetricData",
                "PutMetricAlarm",
                "SetAlarmState"
            ]
            .contains(&op.as_str()),
            "unexpected CloudWatch operation {op}"
        );
    }

    // No credential reached the spool or the logs.
    agent.kill();
    for f in convops_tests::files_under(&spool) {
        assert_no_credentials(&f.display().to_string(), &std::fs::read(&f)?);
    }
    assert_no_credentials("agent log", agent.log_text().as_bytes());
    assert!(
        agent.log_text().contains("aws call"),
        "debug logging was on, so the check above means something"
    );
    assert!(
        !agent.log_text().contains(&w.cp.agent_token),
        "agent token in the agent log"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn investigating_a_target_no_alarm_matches_is_answered_in_the_conversation(
) -> anyhow::Result<()> {
    let w = world().await?;
    let _cp = w.cp.start().await?;
    let spool = w.dir.path().join("spool");
    let mut agent = procs::start_agent(&w.cp, &w.aws, &spool, w.dir.path().join("agent.log"))?;
    agent
        .wait_log("connected to control plane", 1, WAIT)
        .await?;
    let chat =
        convops_tests::runner::investigate_from_chat(&w.cp, &w.slack, "no-such-service", WAIT)
            .await?;
    let reply = chat.reply["text"].as_str().unwrap_or_default();
    assert!(
        reply.contains("asked to investigate `no-such-service`"),
        "{reply}"
    );
    // The agent found nothing to investigate and said so; the person asking hears it.
    let answer = chat.answer["text"].as_str().unwrap_or_default();
    assert!(
        answer.starts_with("Could not investigate `no-such-service`")
            && answer.contains("no alarm is named `no-such-service`"),
        "{answer}"
    );
    assert_eq!(chat.answer["response_type"], "in_channel");
    let audit = w.cp.api_get("/api/v1/audit").await?;
    assert!(
        audit.to_string().contains("command.failed"),
        "the failure is in the action log: {audit}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_restart_loses_nothing_and_delivers_nothing_twice() -> anyhow::Result<()> {
    let w = world().await?;
    let mut cp = w.cp.start().await?;
    let spool = w.dir.path().join("spool");
    let mut agent = procs::start_agent(&w.cp, &w.aws, &spool, w.dir.path().join("agent.log"))?;

    fire_alarm(&w, "alarm-a", "app/a/1", "Threshold Crossed: a").await?;
    w.slack.wait_for(1, WAIT).await?;
    // Killed between Slack's 200 and recording it, the control plane would rightly send that
    // message again (at-least-once, documented): the kill comes after the record.
    w.cp.wait_deliveries_settled(WAIT).await?;

    // The control plane dies hard; an alarm fires meanwhile and its evidence waits in the spool.
    cp.kill();
    fire_alarm(&w, "alarm-b", "app/b/2", "Threshold Crossed: b").await?;
    agent.wait_log("evidence spooled", 2, WAIT).await?;

    let _cp = w.cp.start().await?;
    let msgs = w.slack.wait_for(2, WAIT).await?;
    assert!(msgs[1].text().contains("alarm-b"), "{}", msgs[1].text());

    // The agent dies hard too and comes back on the same spool: it must neither re-investigate
    // the alarms it handled nor re-send what was acknowledged.
    agent.kill();
    let mut agent = procs::start_agent(&w.cp, &w.aws, &spool, w.dir.path().join("agent2.log"))?;
    fire_alarm(&w, "alarm-c", "app/c/3", "Threshold Crossed: c").await?;
    w.slack.wait_for(3, WAIT).await?;
    let polls = w.adapter.count("DescribeAlarms");
    w.adapter
        .wait_calls("DescribeAlarms", polls, 3, WAIT)
        .await?;

    let texts: Vec<String> = w
        .slack
        .messages()
        .iter()
        .map(|m| m.text().to_owned())
        .collect();
    assert_eq!(texts.len(), 3, "{texts:#?}");
    for (i, name) in ["alarm-a", "alarm-b", "alarm-c"].iter().enumerate() {
        assert!(
            texts[i].contains(name),
            "message {i} should be {name}: {}",
            texts[i]
        );
    }
    let incidents = w.cp.incidents().await?;
    assert_eq!(incidents.len(), 3, "{incidents:#?}");
    assert!(agent.is_running());
    Ok(())
}

/// SIGTERM, as ECS stops a task: the agent tells the control plane it is going (a close frame)
/// and exits 0 well inside ECS's 30-second stop timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_the_session_and_exits_cleanly() -> anyhow::Result<()> {
    let w = world().await?;
    let mut cp = w.cp.start().await?;
    let spool = w.dir.path().join("spool");
    let mut agent = procs::start_agent(&w.cp, &w.aws, &spool, w.dir.path().join("agent.log"))?;
    agent
        .wait_log("connected to control plane", 1, WAIT)
        .await?;
    let status = agent.terminate(Duration::from_secs(10));
    let log = agent.log_text();
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?} after SIGTERM; log:\n{}",
        procs::tail(&log)
    );
    assert!(
        log.contains("uplink closed: agent stopping"),
        "{}",
        procs::tail(&log)
    );
    cp.wait_log("agent closed the connection", 1, WAIT).await?;
    assert!(
        cp.log_text().contains("agent stopping"),
        "the reason is heard"
    );
    Ok(())
}
