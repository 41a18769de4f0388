//! Lose nothing: the faults real deployments see, injected into the real binaries (agent with its
//! sled spool, control plane with SQLite, TLS websocket between them, moto for AWS, a local Slack
//! receiver). Every test fires alarms on distinct resources (one incident each) and asserts that
//! each alarm ends as exactly one incident and one Slack message — or, where the fault destroys
//! evidence by design (a corrupt or full spool), as a loss record the control plane shows.

use std::collections::BTreeMap;
use std::time::Duration;

use convops_tests::procs::{self, Proc};
use convops_tests::proxy::Proxy;
use convops_tests::world::{fire_alarm, world, World};

const WAIT: Duration = Duration::from_secs(90);

/// Fire `alarm-<tag>-<i>` for each `i` in `range`, each on its own load balancer.
async fn fire(w: &World, tag: &str, range: std::ops::Range<usize>) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for i in range {
        let name = format!("alarm-{tag}-{i}");
        fire_alarm(
            w,
            &name,
            &format!("app/{tag}{i}/{i}"),
            &format!("Threshold Crossed: {name}"),
        )
        .await?;
        names.push(name);
    }
    Ok(names)
}

/// How many Slack messages name each alarm of `names` (a message names one alarm).
fn messages_per_alarm(w: &World, names: &[String]) -> BTreeMap<String, usize> {
    let texts: Vec<String> = w
        .slack
        .messages()
        .iter()
        .map(|m| m.text().to_owned())
        .collect();
    names
        .iter()
        .map(|n| {
            // `alarm-x-1` must not count `alarm-x-10`: the name ends at a non-name character.
            let count = texts
                .iter()
                .filter(|t| {
                    t.match_indices(n.as_str()).any(|(i, _)| {
                        !t[i + n.len()..]
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
                    })
                })
                .count();
            (n.clone(), count)
        })
        .collect()
}

/// Wait for the messages of `names`, let deliveries settle, wait a little longer for any
/// duplicate, and assert exactly one message and one incident per alarm.
async fn assert_once_each(w: &World, names: &[String], logs: &[&Proc]) -> anyhow::Result<()> {
    let total = w.slack.messages().len();
    let want = total.max(names.len());
    if let Err(e) = w.slack.wait_for(want, WAIT).await {
        let mut report = format!("{e:#}\n");
        for p in logs {
            report += &format!("--- {}\n{}\n", p.log.display(), procs::tail(&p.log_text()));
        }
        anyhow::bail!("{report}");
    }
    w.cp.wait_deliveries_settled(WAIT).await?;
    // A duplicate would come from a redelivery after a reconnect: give it the time to.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let per_alarm = messages_per_alarm(w, names);
    assert!(
        per_alarm.values().all(|n| *n == 1),
        "one message per alarm: {per_alarm:?}"
    );
    assert_eq!(w.slack.messages().len(), names.len(), "no other message");
    let incidents = w.cp.incidents().await?;
    assert_eq!(
        incidents.len(),
        names.len(),
        "one incident per alarm: {incidents:#?}"
    );
    Ok(())
}

/// The control plane is down for two minutes while alarms fire (the agent's backoff reaches its
/// 30 s cap); when it is back, every alarm arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_down_for_minutes_while_alarms_fire() -> anyhow::Result<()> {
    let w = world().await?;
    let mut cp = w.cp.start().await?;
    let spool = w.dir.path().join("spool");
    let mut agent = procs::start_agent(&w.cp, &w.aws, &spool, w.dir.path().join("agent.log"))?;
    let mut names = fire(&w, "down", 0..1).await?;
    w.slack.wait_for(1, WAIT).await?;
    w.cp.wait_deliveries_settled(WAIT).await?;

    cp.kill();
    let down = tokio::time::Instant::now();
    names.extend(fire(&w, "down", 1..4).await?);
    agent.wait_log("evidence spooled", 4, WAIT).await?;
    tokio::time::sleep_until(down + Duration::from_secs(125)).await;
    let cp = w.cp.start().await?;
    assert_once_each(&w, &names, &[&agent, &cp]).await?;
    assert!(agent
        .log_text()
        .contains("uplink disconnected; reconnecting"));
    Ok(())
}

/// A loopback proxy cuts the connection in the middle of an evidence frame; the agent
/// reconnects and resends, the control plane stores the frame once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_severed_mid_frame() -> anyhow::Result<()> {
    let w = world().await?;
    let cp = w.cp.start().await?;
    let proxy = Proxy::start(([127, 0, 0, 1], w.cp.port).into()).await?;
    let url =
        w.cp.agent_url()
            .replace(&format!(":{}/", w.cp.port), &format!(":{}/", proxy.port));
    let spool = w.dir.path().join("spool");
    let mut agent = procs::start_agent_with(
        &w.cp,
        &w.aws,
        &spool,
        w.dir.path().join("agent.log"),
        &url,
        &[],
    )?;
    agent
        .wait_log("connected to control plane", 1, WAIT)
        .await?;
    let mut names = Vec::new();
    let mut cp = cp;
    for round in 0..2 {
        // A heartbeat's or ping's TLS record is about 100 bytes; a compressed evidence frame's
        // is several hundred at least.
        proxy.sever_next(250);
        names.extend(fire(&w, "cut", round..round + 1).await?);
        agent
            .wait_log("connected to control plane", round + 2, WAIT)
            .await?;
        // The next cut is armed only once this round's frame is stored, so it cannot hit this
        // round's resend.
        cp.wait_log("evidence stored", round + 1, WAIT).await?;
    }
    assert_eq!(proxy.severed(), 2, "both evidence frames were cut");
    assert_once_each(&w, &names, &[&agent, &cp]).await
}

/// The agent is killed with SIGKILL while it streams evidence and started again on its spool:
/// what was acknowledged is not resent, what was not is, and no alarm is investigated twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_killed_mid_stream_and_restarted() -> anyhow::Result<()> {
    let w = world().await?;
    let cp = w.cp.start().await?;
    let spool = w.dir.path().join("spool");
    let mut agent = procs::start_agent(&w.cp, &w.aws, &spool, w.dir.path().join("agent.log"))?;
    agent
        .wait_log("connected to control plane", 1, WAIT)
        .await?;
    let names = fire(&w, "kill", 0..4).await?;
    agent.wait_log("evidence sent", 1, WAIT).await?;
    agent.kill();
    let agent = procs::start_agent(&w.cp, &w.aws, &spool, w.dir.path().join("agent2.log"))?;
    assert_once_each(&w, &names, &[&agent, &cp]).await
}

/// The control plane is killed with SIGKILL while it takes a backlog of evidence (Slack is
/// refusing meanwhile, so no message is in flight at the kill: the kill tests ingest, not the
/// last hop); after the restart each alarm is one incident and one message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_restarted_mid_batch() -> anyhow::Result<()> {
    let w = world().await?;
    let mut cp = w.cp.start().await?;
    let spool = w.dir.path().join("spool");
    let mut agent = procs::start_agent(&w.cp, &w.aws, &spool, w.dir.path().join("agent.log"))?;
    agent
        .wait_log("connected to control plane", 1, WAIT)
        .await?;
    cp.kill();
    let names = fire(&w, "batch", 0..12).await?;
    agent.wait_log("evidence spooled", 12, WAIT).await?;
    for _ in 0..1000 {
        w.slack.fail_next(503, None);
    }
    let mut cp = w.cp.start().await?;
    cp.wait_log("evidence stored", 1, WAIT).await?;
    cp.kill();
    let stored_before_kill = cp.log_text().matches("evidence stored").count();
    w.slack.clear_failures();
    let cp = w.cp.start().await?;
    assert_once_each(&w, &names, &[&agent, &cp]).await?;
    assert!(stored_before_kill < names.len(), "the kill came mid-batch");
    Ok(())
}

/// The spool directory is damaged while the agent is stopped, with evidence in it that never
/// reached the control plane. The agent starts on a fresh spool (no crash loop), the control
/// plane shows the loss, and the alarm, still firing, is investigated again and delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_corrupted_between_runs() -> anyhow::Result<()> {
    let w = world().await?;
    let spool = w.dir.path().join("spool");
    let mut agent = procs::start_agent(&w.cp, &w.aws, &spool, w.dir.path().join("agent.log"))?;
    let names = fire(&w, "corrupt", 0..1).await?;
    agent.wait_log("evidence spooled", 1, WAIT).await?;
    agent.kill();
    let db = spool.join("db");
    let mut bytes = std::fs::read(&db)?;
    for b in bytes.iter_mut().skip(100).step_by(7) {
        *b ^= 0x5a;
    }
    std::fs::write(&db, bytes)?;

    let cp = w.cp.start().await?;
    let mut agent = procs::start_agent(&w.cp, &w.aws, &spool, w.dir.path().join("agent2.log"))?;
    agent.wait_log("the spool was unreadable", 1, WAIT).await?;
    assert_once_each(&w, &names, &[&agent, &cp]).await?;
    let losses = w.cp.api_get("/api/v1/data-loss").await?;
    let losses = losses["data_loss"].as_array().cloned().unwrap_or_default();
    assert_eq!(losses.len(), 1, "{losses:#?}");
    assert_eq!(losses[0]["reason"], "spool_corrupt");
    assert!(
        losses[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("spool.corrupt-")),
        "{losses:#?}"
    );
    Ok(())
}

/// A size-limited spool fills while the control plane is down. Nothing is lost silently: every
/// alarm is either delivered once or named by a loss record the control plane keeps, never both,
/// and some were dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_full_while_the_control_plane_is_down() -> anyhow::Result<()> {
    let w = world().await?;
    let spool = w.dir.path().join("spool");
    let mut agent = procs::start_agent_with(
        &w.cp,
        &w.aws,
        &spool,
        w.dir.path().join("agent.log"),
        &w.cp.agent_url(),
        &[
            ("CONVOPS_AGENT__SPOOL__MAX_KIB", "16"),
            ("CONVOPS_AGENT__INVESTIGATION__EVIDENCE_BUDGET_KIB", "8"),
        ],
    )?;
    let names = fire(&w, "full", 0..10).await?;
    agent.wait_log("evidence spooled", 10, WAIT).await?;
    let dropped = agent
        .log_text()
        .matches("spool full: evidence dropped")
        .count();
    assert!(
        dropped > 0,
        "the spool never filled: {}",
        procs::tail(&agent.log_text())
    );

    let cp = w.cp.start().await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    // Records may have been merged into a summary (frames > 1, names in `alarms`).
    let (frames, lost) = loop {
        let losses = w.cp.api_get("/api/v1/data-loss").await?;
        let losses = losses["data_loss"].as_array().cloned().unwrap_or_default();
        let frames: u64 = losses.iter().filter_map(|l| l["frames"].as_u64()).sum();
        let mut lost: Vec<String> = losses
            .iter()
            .flat_map(|l| {
                let merged = l["alarms"].as_array().cloned().unwrap_or_default();
                l["alarm_name"]
                    .as_str()
                    .map(str::to_owned)
                    .into_iter()
                    .chain(
                        merged
                            .into_iter()
                            .filter_map(|a| a.as_str().map(str::to_owned)),
                    )
            })
            .collect();
        lost.sort();
        lost.dedup();
        if frames >= dropped as u64 || tokio::time::Instant::now() > deadline {
            break (frames, lost);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        frames, dropped as u64,
        "each dropped frame is counted: {lost:?}"
    );
    assert_eq!(
        lost.len(),
        dropped,
        "each dropped frame's alarm is named: {lost:?}"
    );
    let delivered: Vec<String> = names
        .iter()
        .filter(|n| !lost.contains(n))
        .cloned()
        .collect();
    assert_once_each(&w, &delivered, &[&agent, &cp]).await?;
    for name in &lost {
        assert_eq!(
            messages_per_alarm(&w, std::slice::from_ref(name))[name],
            0,
            "{name} is both lost and delivered"
        );
    }
    Ok(())
}
