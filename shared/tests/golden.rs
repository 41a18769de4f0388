//! Golden fixtures pin the wire format: a change to a frame's JSON shape fails here first.
//! Regenerate deliberately with `UPDATE_GOLDEN=1 cargo test -p convops-shared --test golden`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use convops_shared::evidence::*;
use convops_shared::protocol::*;

fn alarm() -> AlarmInfo {
    AlarmInfo {
        name: "orders-api-5xx".into(),
        arn: Some("arn:aws:cloudwatch:eu-central-1:123456789012:alarm:orders-api-5xx".into()),
        description: None,
        namespace: "AWS/ApplicationELB".into(),
        metric_name: "HTTPCode_Target_5XX_Count".into(),
        dimensions: BTreeMap::from([("LoadBalancer".into(), "app/orders/50dc6c495c0c9188".into())]),
        statistic: "Sum".into(),
        period_secs: 60,
        evaluation_periods: 3,
        threshold: 10.0,
        comparison: "GreaterThanThreshold".into(),
        state: "ALARM".into(),
        state_reason: "Threshold Crossed: 3 datapoints were greater than the threshold (10.0)."
            .into(),
        state_reason_data: None,
        transitioned_at: 1_767_225_600_000,
    }
}

fn cases() -> Vec<(&'static str, String)> {
    let evidence = AgentFrame::Evidence(Box::new(EvidenceFrame {
        seq: 7,
        investigation_id: "inv-5f0c2a".into(),
        trigger: Trigger::Alarm,
        alarm: alarm(),
        started_at: 1_767_225_601_000,
        finished_at: 1_767_225_601_900,
        items: vec![EvidenceItem::Metric(MetricEvidence {
            id: "m1".into(),
            namespace: "AWS/ApplicationELB".into(),
            metric_name: "HTTPCode_Target_5XX_Count".into(),
            dimensions: BTreeMap::from([(
                "LoadBalancer".into(),
                "app/orders/50dc6c495c0c9188".into(),
            )]),
            statistic: "Sum".into(),
            period_secs: 60,
            summary: MetricSummary {
                datapoints: 180,
                baseline: Some(0.5),
                baseline_spread: Some(0.5),
                current: Some(42.0),
                peak: Some(55.0),
                onset_at: Some(1_767_224_100_000),
            },
            points: vec![(1_767_224_040_000, 0.0), (1_767_224_100_000, 41.5)],
        })],
        sources: vec![SourceReport {
            source: "metrics".into(),
            status: SourceStatus::Ok,
            reason: None,
            raw_bytes: 5120,
            api_calls: 1,
        }],
        raw_bytes: 5120,
        omitted: Vec::new(),
    }));
    let all_kinds = AgentFrame::Evidence(Box::new(EvidenceFrame {
        seq: 8,
        investigation_id: "inv-5f0c2b".into(),
        trigger: Trigger::Command { command_id: "cmd-1".into() },
        alarm: alarm(),
        started_at: 1_767_225_601_000,
        finished_at: 1_767_225_602_000,
        items: vec![
            EvidenceItem::EcsService(EcsServiceEvidence {
                id: "e1".into(),
                cluster: "prod".into(),
                service: "orders-api".into(),
                task_definition: "orders-api:2".into(),
                desired: 3,
                running: 1,
                deployments: vec!["orders-api:2 PRIMARY IN_PROGRESS".into()],
                target_groups: vec!["arn:aws:elasticloadbalancing:eu-central-1:[aws_account_id:1a2b]:targetgroup/orders-tg/6d0e".into()],
                stopped: vec![StoppedTasks {
                    reason: "OutOfMemoryError: Container killed due to memory usage".into(),
                    count: 4,
                    task_definition: Some("orders-api:2".into()),
                    last_stopped_at: Some(1_767_225_500_000),
                }],
                events: vec!["(service orders-api) has started 1 tasks".into()],
            }),
            EvidenceItem::Change(ChangeEvidence {
                id: "c1".into(),
                at: 1_767_223_800_000,
                event_source: "ecs.amazonaws.com".into(),
                event_name: "RegisterTaskDefinition".into(),
                actor: "ci-deploy".into(),
                resources: vec!["orders-api:2".into()],
                parameters: Some(r#"{"family":"orders-api","memory":"256"}"#.into()),
            }),
            EvidenceItem::Logs(LogEvidence {
                id: "l1".into(),
                group: "/ecs/orders-api".into(),
                lines_read: 720,
                lines_matched: 100,
                templates: vec![LogTemplate {
                    template: "java.lang.OutOfMemoryError: Java heap space".into(),
                    count: 100,
                    first_seen: 1_767_224_100_000,
                    last_seen: 1_767_225_600_000,
                    examples: vec!["java.lang.OutOfMemoryError: Java heap space".into()],
                }],
                context: vec!["10:14:58 WARN GC overhead 98% of time".into()],
                grew: vec![GrownTemplate {
                    template: "POST /orders/<*> 201".into(),
                    example: "POST /orders/81 201".into(),
                    before: 120,
                    after: 540,
                    since: 1_767_224_040_000,
                    ratio: 6.4,
                }],
                streams: vec![],
                changes: vec![],
            }),
            EvidenceItem::Resource(ResourceEvidence {
                id: "r1".into(),
                resource_type: "rds_instance".into(),
                name: "orders-db".into(),
                state: "available".into(),
                details: vec!["class db.t3.medium".into()],
                resource_id: None,
            }),
        ],
        sources: vec![SourceReport {
            source: "logs".into(),
            status: SourceStatus::Partial,
            reason: Some("throttled: logs:FilterLogEvents failed: ThrottlingException: Rate exceeded".into()),
            raw_bytes: 4_600_000,
            api_calls: 12,
        }],
        raw_bytes: 4_600_000,
        omitted: vec!["m9: left out by the evidence budget (2048 bytes)".into()],
    }));
    vec![
        ("evidence_all_kinds", all_kinds.encode()),
        (
            "hello",
            AgentFrame::Hello {
                protocol_version: 1,
                agent_id: "agt-3f9a0c".into(),
                agent_version: "0.1.0".into(),
                probe: false,
            }
            .encode(),
        ),
        ("evidence", evidence.encode()),
        (
            "heartbeat",
            AgentFrame::Heartbeat {
                at: 1_767_225_600_000,
                spooled: 2,
            }
            .encode(),
        ),
        (
            "command_failed",
            AgentFrame::CommandFailed {
                command_id: "cmd-7".into(),
                reason: "no alarm is named `orders-db` or is about a resource of that name".into(),
            }
            .encode(),
        ),
        (
            "loss",
            AgentFrame::Loss(LossFrame {
                seq: 12,
                reason: LossReason::SpoolFull,
                at: 1_767_225_660_000,
                frames: Some(1),
                bytes: Some(48_213),
                investigation_id: Some("inv-5d2e".into()),
                alarm_name: Some("orders-api-5xx".into()),
                alarm_at: Some(1_767_225_600_000),
                alarms: Vec::new(),
                detail: "the spool reached its bound of 268435456 bytes; this investigation's evidence was dropped to make room".into(),
            })
            .encode(),
        ),
        (
            "welcome",
            ServerFrame::Welcome {
                protocol_version: 1,
                workspace_id: "ws-acme".into(),
                heartbeat_secs: 30,
                encodings: vec![convops_shared::wire::ENCODING.into()],
            }
            .encode(),
        ),
        ("ack", ServerFrame::Ack { seq: 7 }.encode()),
        (
            "error",
            ServerFrame::error(
                ErrorCode::UnsupportedProtocolVersion,
                "protocol version 9 is not supported; this control plane speaks 1",
            )
            .encode(),
        ),
        (
            "command",
            ServerFrame::Command {
                id: "cmd-1".into(),
                command: Command::Investigate {
                    target: "orders-api-5xx".into(),
                    context: BTreeMap::new(),
                },
            }
            .encode(),
        ),
    ]
}

#[test]
fn frames_match_golden_fixtures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, encoded) in cases() {
        let path = dir.join(format!("{name}.json"));
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(&encoded).expect("valid json"),
        )
        .expect("pretty");
        if update {
            std::fs::write(&path, format!("{pretty}\n")).expect("write fixture");
            continue;
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
        assert_eq!(
            golden.trim_end(),
            pretty,
            "frame {name} differs from {}",
            path.display()
        );
        // And the fixture decodes back to the same frame.
        let agent = AgentFrame::decode(&golden).map(|f| f.encode());
        let server = ServerFrame::decode(&golden).map(|f| f.encode());
        let round = agent.or(server).expect("fixture decodes as a frame");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&round).expect("json"),
            serde_json::from_str::<serde_json::Value>(&encoded).expect("json"),
            "round trip of {name}"
        );
    }
}

#[test]
fn unknown_fields_and_types_are_malformed() {
    let bad = [
        r#"{"type":"hello","protocol_version":1,"agent_id":"a","agent_version":"1","extra":1}"#,
        r#"{"type":"launch_missiles"}"#,
        r#"{"type":"ack"}"#,
        "not json",
        "",
    ];
    for text in bad {
        let err = AgentFrame::decode(text).expect_err(text);
        assert_eq!(err.code(), ErrorCode::MalformedFrame, "{text}");
    }
}

#[test]
fn oversized_frames_are_refused_before_parsing() {
    let text = format!(
        "{{\"type\":\"heartbeat\",\"pad\":\"{}\"}}",
        "x".repeat(MAX_FRAME_BYTES)
    );
    assert!(matches!(
        AgentFrame::decode(&text),
        Err(DecodeError::TooLarge { .. })
    ));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn heartbeat_and_ack_round_trip(at in any::<i64>(), spooled in any::<u64>(), seq in any::<u64>()) {
            let f = AgentFrame::Heartbeat { at, spooled };
            prop_assert_eq!(AgentFrame::decode(&f.encode()).expect("decode"), f);
            let a = ServerFrame::Ack { seq };
            prop_assert_eq!(ServerFrame::decode(&a.encode()).expect("decode"), a);
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,200}") {
            let _ = AgentFrame::decode(&s);
            let _ = ServerFrame::decode(&s);
        }
    }
}
