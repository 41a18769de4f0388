//! Operating the two binaries: during a real investigation (agent and control plane as
//! processes, moto for AWS, a local Slack receiver) both serve Prometheus metrics whose counters
//! move, liveness and readiness endpoints that tell the truth, and a `health` subcommand for
//! container health checks; with `CONVOPS_LOG_FORMAT=json` every log line is one JSON object,
//! the investigation's events carry its id, and no line holds the agent's token.

use std::time::{Duration, Instant};

use anyhow::Context;

use convops_shared::telemetry::sample;
use convops_tests::procs::{self, bin};
use convops_tests::world::{fire_alarm, world};

const WAIT: Duration = Duration::from_secs(90);

async fn get(url: &str) -> anyhow::Result<(u16, String)> {
    let r = reqwest::get(url).await?;
    Ok((r.status().as_u16(), r.text().await?))
}

fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(text, name, labels).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_health_tells_the_truth_and_json_logs_name_the_investigation(
) -> anyhow::Result<()> {
    let mut w = world().await?;
    let cp_metrics_port = convops_tests::free_port()?;
    w.cp.metrics_port = Some(cp_metrics_port);
    let mut cp = w.cp.start().await?;
    let agent_port = convops_tests::free_port()?;
    let agent_listen = format!("127.0.0.1:{agent_port}");
    let agent_log = w.dir.path().join("agent.log");
    let mut agent = procs::start_agent_with(
        &w.cp,
        &w.aws,
        &w.dir.path().join("spool"),
        agent_log.clone(),
        &w.cp.agent_url(),
        &[
            ("CONVOPS_AGENT__METRICS__LISTEN", &agent_listen),
            ("CONVOPS_LOG_FORMAT", "json"),
            ("CONVOPS_LOG", "info"),
        ],
    )?;
    let agent_base = format!("http://{agent_listen}");
    let cp_metrics = format!("http://127.0.0.1:{cp_metrics_port}");

    // Connected and polling: ready.
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok((200, _)) = get(&format!("{agent_base}/readyz")).await {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline && agent.is_running(),
            "agent never ready: {:?}\n{}",
            get(&format!("{agent_base}/readyz")).await.ok(),
            agent.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    fire_alarm(&w, "ops-5xx", "app/ops/1", "Threshold Crossed: ops-5xx").await?;
    w.slack
        .wait_for(1, WAIT)
        .await
        .with_context(|| agent.log_text())?;
    w.cp.wait_deliveries_settled(WAIT).await?;

    // The agent's counters moved.
    let (status, text) = get(&format!("{agent_base}/metrics")).await?;
    assert_eq!(status, 200);
    assert!(
        value(&text, "convops_agent_investigations_total", &[]) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            &text,
            "convops_agent_aws_calls_total",
            &[("action", "cloudwatch:DescribeAlarms"), ("outcome", "ok")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            &text,
            "convops_agent_aws_calls_total",
            &[("action", "cloudwatch:GetMetricData")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(&text, "convops_agent_frames_acked_total", &[]) >= 1.0,
        "{text}"
    );
    assert_eq!(
        value(&text, "convops_agent_uplink_connected", &[]),
        1.0,
        "{text}"
    );
    // Acknowledged frames leave the spool: nothing waits.
    assert_eq!(value(&text, "convops_agent_spool_frames", &[]), 0.0);

    // The control plane's too.
    let (status, text) = get(&format!("{cp_metrics}/metrics")).await?;
    assert_eq!(status, 200);
    assert!(
        value(
            &text,
            "convops_cp_agent_frames_total",
            &[("outcome", "acked")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(&text, "convops_cp_incidents_opened_total", &[]) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            &text,
            "convops_cp_deliveries_total",
            &[("kind", "slack_webhook"), ("outcome", "delivered")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            &text,
            "convops_cp_delivery_duration_seconds_count",
            &[("kind", "slack_webhook")]
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(value(&text, "convops_cp_agent_sessions", &[]), 1.0);

    // Liveness and readiness on both; readiness on the control plane's TLS listener as well.
    for url in [
        format!("{agent_base}/healthz"),
        format!("{cp_metrics}/healthz"),
        format!("{cp_metrics}/readyz"),
    ] {
        assert_eq!(get(&url).await?.0, 200, "{url}");
    }
    let tls = w.cp.https_client()?;
    let r = tls
        .get(format!("{}/readyz", w.cp.base_url()))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);

    // The `health` subcommands container health checks run.
    let agent_health = std::process::Command::new(bin("convops-agent")?)
        .arg("health")
        .env("CONVOPS_AGENT__METRICS__LISTEN", &agent_listen)
        .output()?;
    assert!(agent_health.status.success(), "{agent_health:?}");
    let cp_health = std::process::Command::new(bin("convops-control-plane")?)
        .arg("health")
        .env(
            "CONVOPS_CP__METRICS__LISTEN",
            format!("127.0.0.1:{cp_metrics_port}"),
        )
        .output()?;
    assert!(cp_health.status.success(), "{cp_health:?}");

    // JSON logs: one object per line; the investigation's events carry its id; no secret.
    let log = std::fs::read_to_string(&agent_log)?;
    let mut with_investigation = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("log line is not JSON ({e}): {line}"))?;
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
        if v["span"]["investigation_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("inv-"))
        {
            with_investigation += 1;
        }
        assert!(
            !line.contains(&w.cp.agent_token),
            "the agent token is in the log: {line}"
        );
    }
    assert!(
        with_investigation >= 1,
        "no log line names the investigation:\n{log}"
    );

    // The control plane gone: the agent is still live, but not ready; its health check passes.
    cp.kill();
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = get(&format!("{agent_base}/readyz")).await?;
        if status == 503 {
            assert!(body.contains("not connected"), "{body}");
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "agent still ready: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&format!("{agent_base}/healthz")).await?.0, 200);
    let (_, text) = get(&format!("{agent_base}/metrics")).await?;
    assert_eq!(value(&text, "convops_agent_uplink_connected", &[]), 0.0);
    agent.kill();
    Ok(())
}
