//! Hostile input at the agent endpoint, over real TLS 1.3 websockets: wrong tokens are refused
//! in the handshake, a wrong protocol version gets an error frame and a clean close, malformed,
//! invalid and oversized frames get error frames, and through all of it the control plane keeps
//! serving other agents.

use convops_control_plane::store::Store;
use convops_shared::protocol::{
    AgentFrame, ErrorCode, LossFrame, LossReason, ServerFrame, MAX_FRAME_BYTES,
};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

mod common;
use common::{api_get, connect, evidence, expect_error, hello, recv, server, session, wait_up};

#[tokio::test]
async fn handshake_refuses_missing_and_wrong_tokens() {
    let s = server().await;
    wait_up(&s).await;
    for token in [None, Some("cvo_agt_wrong"), Some("")] {
        match connect(&s, token).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 401, "{token:?}")
            }
            other => panic!(
                "token {token:?} must be refused with 401, got {:?}",
                other.map(|_| "a session")
            ),
        }
    }
}

#[tokio::test]
async fn wrong_version_or_missing_hello_is_refused_cleanly() {
    let s = server().await;
    wait_up(&s).await;
    let mut ws = connect(&s, Some(&s.token)).await.expect("connect");
    ws.send(hello(99, "agt-v99")).await.expect("send");
    expect_error(&mut ws, ErrorCode::UnsupportedProtocolVersion).await;
    assert!(
        recv(&mut ws).await.is_none(),
        "the connection is closed after the error"
    );

    let mut ws = connect(&s, Some(&s.token)).await.expect("connect");
    ws.send(Message::text(evidence(1))).await.expect("send");
    expect_error(&mut ws, ErrorCode::ExpectedHello).await;
    assert!(recv(&mut ws).await.is_none());
}

#[tokio::test]
async fn an_installation_check_is_welcomed_then_closed_and_never_recorded() {
    let s = server().await;
    wait_up(&s).await;
    let mut ws = connect(&s, Some(&s.token)).await.expect("connect");
    let probe = AgentFrame::Hello {
        protocol_version: convops_shared::protocol::PROTOCOL_VERSION,
        agent_id: "check-0001".into(),
        agent_version: "test".into(),
        probe: true,
    };
    ws.send(Message::text(probe.encode())).await.expect("send");
    assert!(matches!(
        recv(&mut ws).await,
        Some(ServerFrame::Welcome { .. })
    ));
    assert!(
        recv(&mut ws).await.is_none(),
        "the control plane closes a check after its welcome"
    );
    // A real agent in the same workspace is recorded; the check is not.
    let _agent = session(&s, "agt-real").await;
    let store = Store::open_sqlite(&s._dir.path().join("data/convops.db"))
        .await
        .expect("open");
    assert_eq!(
        store.agent_ids(&s.workspace_id).await.expect("agents"),
        ["agt-real"]
    );
}

#[tokio::test]
async fn bad_frames_get_errors_and_other_agents_keep_being_served() {
    let s = server().await;
    wait_up(&s).await;
    let mut a = session(&s, "agt-a").await;
    let mut b = session(&s, "agt-b").await;

    // Frames that name no sequence number cannot be set aside: an error frame, then the
    // session is closed (the agent reconnects; its spool still holds the frame).
    let mut other = flate2::Compress::new(flate2::Compression::best(), true);
    other
        .set_dictionary(b"not the ConvOps dictionary")
        .expect("dict");
    let mut z = Vec::with_capacity(8192);
    other
        .compress_vec(
            evidence(9).as_bytes(),
            &mut z,
            flate2::FlushCompress::Finish,
        )
        .expect("compress");
    let bomb = convops_shared::wire::compress(&vec![b' '; MAX_FRAME_BYTES * 4]);
    for (what, garbage, code) in [
        (
            "not JSON",
            Message::text("{not json"),
            ErrorCode::MalformedFrame,
        ),
        (
            "a seq that is not a number",
            Message::text(r#"{"type":"evidence","seq":"seven"}"#),
            ErrorCode::MalformedFrame,
        ),
        // Binary frames are evidence in the compressed encoding: junk, another dictionary and
        // a frame that inflates beyond the limit.
        (
            "binary junk",
            Message::binary(vec![0u8; 16]),
            ErrorCode::MalformedFrame,
        ),
        (
            "another dictionary",
            Message::binary(z),
            ErrorCode::MalformedFrame,
        ),
        (
            "a decompression bomb",
            Message::binary(bomb),
            ErrorCode::FrameTooLarge,
        ),
    ] {
        let mut g = session(&s, "agt-garbage").await;
        g.send(garbage).await.expect("send");
        assert_eq!(expect_error(&mut g, code).await, None, "{what}");
        assert!(
            recv(&mut g).await.is_none(),
            "{what}: the session is closed"
        );
    }

    // Invalid evidence names its sequence number so the agent can set it aside.
    a.send(Message::text(evidence(0))).await.expect("send");
    expect_error(&mut a, ErrorCode::InvalidEvidence).await;

    // Oversized (but within the transport limit): an error frame naming the sequence number.
    let mut big: serde_json::Value = serde_json::from_str(&evidence(5)).expect("json");
    big["alarm"]["description"] = "x".repeat(MAX_FRAME_BYTES).into();
    a.send(Message::text(big.to_string())).await.expect("send");
    assert_eq!(
        expect_error(&mut a, ErrorCode::FrameTooLarge).await,
        Some(5)
    );

    // A frame this build cannot decode but that names its seq (an unknown field from a newer
    // agent, a null metric point) is answered with that seq, so it does not hold up the queue.
    let mut newer: serde_json::Value = serde_json::from_str(&evidence(7)).expect("json");
    newer["field_from_a_newer_agent"] = true.into();
    a.send(Message::text(newer.to_string()))
        .await
        .expect("send");
    assert_eq!(
        expect_error(&mut a, ErrorCode::MalformedFrame).await,
        Some(7)
    );
    let mut nulls: serde_json::Value = serde_json::from_str(&evidence(8)).expect("json");
    if let Some(item) = nulls["items"]
        .as_array_mut()
        .and_then(|items| items.iter_mut().find(|i| i.get("points").is_some()))
    {
        item["points"] = serde_json::json!([[1, null]]);
    } else {
        nulls["alarm"]["transitioned_at"] = serde_json::Value::Null;
    }
    a.send(Message::text(nulls.to_string()))
        .await
        .expect("send");
    assert_eq!(
        expect_error(&mut a, ErrorCode::MalformedFrame).await,
        Some(8)
    );

    // The same session still works, and stores exactly once.
    a.send(Message::text(evidence(1))).await.expect("send");
    assert_eq!(recv(&mut a).await, Some(ServerFrame::Ack { seq: 1 }));
    a.send(Message::text(evidence(1))).await.expect("send");
    assert_eq!(
        recv(&mut a).await,
        Some(ServerFrame::Ack { seq: 1 }),
        "a re-send is acknowledged again"
    );

    // Beyond the transport limit the connection is dropped, and only that one.
    let huge = "y".repeat(MAX_FRAME_BYTES * 2 + 1);
    let _ = a.send(Message::text(huge)).await;
    assert!(recv(&mut a).await.is_none(), "connection closed");

    b.send(Message::text(evidence(1))).await.expect("send");
    assert_eq!(
        recv(&mut b).await,
        Some(ServerFrame::Ack { seq: 1 }),
        "other agents are unaffected"
    );
    let mut c = session(&s, "agt-c").await;
    c.send(Message::text(evidence(1))).await.expect("send");
    assert_eq!(
        recv(&mut c).await,
        Some(ServerFrame::Ack { seq: 1 }),
        "new agents are still accepted"
    );

    // Compressed as the welcome offers: stored as its JSON, with the bytes it took on the wire.
    let text = evidence(2);
    let z = convops_shared::wire::compress(text.as_bytes());
    let sent = z.len() as i64;
    c.send(Message::binary(z)).await.expect("send");
    assert_eq!(recv(&mut c).await, Some(ServerFrame::Ack { seq: 2 }));

    // Three agents, one incident (same alarm transition), evidence stored once per agent.
    let store = Store::open_sqlite(&s._dir.path().join("data/convops.db"))
        .await
        .expect("open");
    let ws = store
        .workspace_by_ref("acme")
        .await
        .expect("q")
        .expect("ws");
    let incidents = store.incidents(&ws.id, 10).await.expect("list");
    assert_eq!(incidents.len(), 1);
    let frames = store
        .evidence(&ws.id, &incidents[0].id)
        .await
        .expect("evidence");
    let compressed = frames
        .iter()
        .find(|f| f["agent_id"] == "agt-c" && f["seq"] == 2)
        .expect("the compressed frame");
    assert_eq!(compressed["wire_bytes"], sent);
    assert!(sent * 2 < compressed["bytes"].as_i64().unwrap_or(0));
    assert_eq!(compressed["frame"]["investigation_id"], "inv-5f0c2a");
}

#[tokio::test]
async fn evidence_the_agent_failed_to_redact_is_masked_before_storage_and_delivery() {
    let s = server().await;
    wait_up(&s).await;
    let mut a = session(&s, "agt-leaky").await;
    let mut v: serde_json::Value = serde_json::from_str(&evidence(1)).expect("json");
    v["alarm"]["state_reason"] =
        "Threshold Crossed; db password=hunter22secret from 203.0.113.77".into();
    a.send(Message::text(v.to_string())).await.expect("send");
    assert_eq!(recv(&mut a).await, Some(ServerFrame::Ack { seq: 1 }));

    let store = Store::open_sqlite(&s._dir.path().join("data/convops.db"))
        .await
        .expect("open");
    let incidents = store.incidents(&s.workspace_id, 10).await.expect("list");
    let stored = serde_json::to_string(&incidents).expect("json")
        + &serde_json::to_string(
            &store
                .evidence(&s.workspace_id, &incidents[0].id)
                .await
                .expect("evidence"),
        )
        .expect("json");
    // The delivery worker may already have tried (and failed) the route; the body is in the db.
    let db = std::fs::read(s._dir.path().join("data/convops.db")).unwrap_or_default();
    let wal = std::fs::read(s._dir.path().join("data/convops.db-wal")).unwrap_or_default();
    for secret in ["hunter22secret", "203.0.113.77"] {
        assert!(!stored.contains(secret), "{secret} stored: {stored}");
        for (name, bytes) in [("db", &db), ("wal", &wal)] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in the {name} file"
            );
        }
    }
    assert!(
        stored.contains("[password_or_secret:") && stored.contains("[ipv4:"),
        "{stored}"
    );
    assert_eq!(
        incidents[0].diagnosis["masked_by_control_plane"], 2,
        "the reader is told"
    );
}

#[tokio::test]
async fn handshake_fields_and_strings_are_bounded_and_heartbeats_do_not_write_each_time() {
    use convops_shared::protocol::{AgentFrame, MAX_STRING_BYTES, PROTOCOL_VERSION};
    let s = server().await;
    wait_up(&s).await;
    // An agent_version too long to log, or with control characters: refused.
    for version in [
        "v".repeat(65),
        "1.0\n2026-11-29 ERROR forged log line".to_owned(),
    ] {
        let mut ws = connect(&s, Some(&s.token)).await.expect("connect");
        ws.send(Message::text(
            AgentFrame::Hello {
                protocol_version: PROTOCOL_VERSION,
                agent_id: "agt-long".into(),
                agent_version: version,
                probe: false,
            }
            .encode(),
        ))
        .await
        .expect("send");
        expect_error(&mut ws, ErrorCode::MalformedFrame).await;
    }

    // A frame within the size limit but with one pathological string: refused naming where,
    // with its seq so the agent sets it aside; the session goes on.
    let mut a = session(&s, "agt-strings").await;
    let mut v: serde_json::Value = serde_json::from_str(&evidence(1)).expect("json");
    v["alarm"]["state_reason"] = "x".repeat(MAX_STRING_BYTES + 1).into();
    a.send(Message::text(v.to_string())).await.expect("send");
    match recv(&mut a).await {
        Some(ServerFrame::Error {
            code: ErrorCode::InvalidEvidence,
            message,
            seq: Some(1),
        }) => assert!(message.contains(".alarm.state_reason"), "{message}"),
        other => panic!("expected InvalidEvidence for seq 1, got {other:?}"),
    }
    a.send(Message::text(evidence(2))).await.expect("send");
    assert_eq!(recv(&mut a).await, Some(ServerFrame::Ack { seq: 2 }));

    // Heartbeats: the hello recorded the agent; ten heartbeats in a row write nothing more.
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        s._dir.path().join("data/convops.db").display()
    ))
    .await
    .expect("pool");
    let seen = || async {
        sqlx::query_scalar::<_, i64>("SELECT last_seen FROM agents WHERE agent_id = 'agt-strings'")
            .fetch_one(&pool)
            .await
            .expect("agent row")
    };
    let first = seen().await;
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        a.send(Message::text(
            AgentFrame::Heartbeat { at: 0, spooled: 0 }.encode(),
        ))
        .await
        .expect("heartbeat");
    }
    a.send(Message::text(evidence(3))).await.expect("send");
    assert_eq!(recv(&mut a).await, Some(ServerFrame::Ack { seq: 3 }));
    assert_eq!(seen().await, first, "a heartbeat wrote to the database");
}

fn loss(seq: u64, alarm: Option<(&str, i64)>, detail: &str) -> Message {
    Message::text(
        AgentFrame::Loss(LossFrame {
            seq,
            reason: if alarm.is_some() {
                LossReason::SpoolFull
            } else {
                LossReason::SpoolCorrupt
            },
            at: 1_767_225_700_000,
            frames: alarm.map(|_| 1),
            bytes: alarm.map(|_| 51_200),
            investigation_id: alarm.map(|_| format!("inv-{seq}")),
            alarm_name: alarm.map(|(name, _)| name.to_owned()),
            alarm_at: alarm.map(|(_, at)| at),
            alarms: Vec::new(),
            detail: detail.into(),
        })
        .encode(),
    )
}

/// A loss the agent reports is acknowledged, stored once (a redelivery is a duplicate, a loss
/// for a seq whose evidence arrived is no loss), re-redacted, and shown on the incident it
/// concerns: in `data_loss` and on the timeline.
#[tokio::test]
async fn losses_are_stored_once_redacted_and_shown_on_the_incident() {
    let s = server().await;
    wait_up(&s).await;
    let mut a = session(&s, "agt-lossy").await;
    a.send(Message::text(evidence(1))).await.expect("send");
    assert_eq!(recv(&mut a).await, Some(ServerFrame::Ack { seq: 1 }));
    // An earlier transition of the same alarm whose evidence the spool dropped.
    let earlier = 1_767_225_600_000 - 600_000;
    let dropped = loss(
        2,
        Some(("orders-api-5xx", earlier)),
        "dropped to make room; db password=hunter22secret",
    );
    for _ in 0..2 {
        a.send(dropped.clone()).await.expect("send");
        assert_eq!(recv(&mut a).await, Some(ServerFrame::Ack { seq: 2 }));
    }
    // Seq 1's evidence is stored: a loss record for it (sent before the ack was seen) is moot.
    a.send(loss(1, Some(("orders-api-5xx", 1_767_225_600_000)), "x"))
        .await
        .expect("send");
    assert_eq!(recv(&mut a).await, Some(ServerFrame::Ack { seq: 1 }));
    a.send(loss(3, None, "the spool could not be read"))
        .await
        .expect("send");
    assert_eq!(recv(&mut a).await, Some(ServerFrame::Ack { seq: 3 }));
    // Another alarm's loss concerns another incident.
    a.send(loss(4, Some(("other-alarm", earlier)), "other"))
        .await
        .expect("send");
    assert_eq!(recv(&mut a).await, Some(ServerFrame::Ack { seq: 4 }));
    // The agent replaced seq 5 by a loss record and sent it on a newer session while an older
    // one was still storing the evidence: once the evidence is stored, the record goes.
    a.send(loss(5, Some(("orders-api-5xx", earlier)), "raced"))
        .await
        .expect("send");
    assert_eq!(recv(&mut a).await, Some(ServerFrame::Ack { seq: 5 }));
    a.send(Message::text(evidence(5))).await.expect("send");
    assert_eq!(recv(&mut a).await, Some(ServerFrame::Ack { seq: 5 }));
    // A loss with a seq of 0 is refused with its seq, like evidence.
    a.send(loss(0, None, "zero")).await.expect("send");
    assert_eq!(
        expect_error(&mut a, ErrorCode::InvalidEvidence).await,
        Some(0)
    );

    let all = api_get(&s, "/api/v1/data-loss").await;
    let seqs: Vec<i64> = all["data_loss"]
        .as_array()
        .expect("list")
        .iter()
        .map(|l| l["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs.len(), 3, "seqs 2, 3 and 4 once each: {all}");
    assert!(!all.to_string().contains("hunter22secret"), "{all}");

    let incidents = api_get(&s, "/api/v1/incidents").await;
    let id = incidents["incidents"][0]["id"]
        .as_str()
        .expect("an incident")
        .to_owned();
    let detail = api_get(&s, &format!("/api/v1/incidents/{id}")).await;
    let on_incident: Vec<i64> = detail["data_loss"]
        .as_array()
        .expect("data_loss")
        .iter()
        .map(|l| l["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(on_incident, [2, 3], "{detail}");
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds[0], "alarm", "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "evidence_lost").count(),
        2,
        "{kinds:?}"
    );
    let text = detail["timeline"].to_string();
    assert!(text.contains("[password_or_secret:"), "masked: {text}");
}
