//! `convops-agent check` against moto (and the CloudTrail stand-in) and a real control plane: it prints one row per AWS read
//! action and fails, naming the fix, when a permission is missing (CloudWatch Logs answered by a
//! stand-in that denies everything), when a write is not refused (moto enforces no IAM, so its
//! answer to the DryRun is "would have succeeded"), and when the control plane refuses the token.

use convops_agent::aws::Action;
use convops_tests::cloudtrail::CloudTrailServer;
use convops_tests::failing::FailingAws;
use convops_tests::procs;
use convops_tests::world::world;

fn row<'a>(table: &'a str, check: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(check))
        .unwrap_or_else(|| panic!("no row {check}:\n{table}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_its_table_and_names_what_to_fix() -> anyhow::Result<()> {
    let mut w = world().await?;
    // moto has no LookupEvents: the project's CloudTrail stand-in answers it (with no events).
    let trail = CloudTrailServer::start(Vec::new()).await?;
    w.aws.cloudtrail = Some(trail.endpoint());
    let denied = FailingAws::start(400, "AccessDeniedException", "User is not authorized").await?;
    w.aws
        .overrides
        .push(("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS".into(), denied.endpoint()));
    let mut cp = w.cp.start().await?;
    let spool = w.dir.path().join("spool");

    let out = procs::agent_command(&w.cp, &w.aws, &spool, "check")?.output()?;
    let table = String::from_utf8(out.stdout)?;
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(row(&table, "configuration").contains(" ok "), "{table}");
    let cp_row = row(&table, "control plane");
    assert!(
        cp_row.contains(" ok ") && cp_row.contains("token accepted"),
        "{table}"
    );
    for action in Action::ALL {
        let name = action.iam_name();
        let line = row(&table, name);
        if name.starts_with("logs:") {
            assert!(
                line.contains("DENIED") && line.contains(&format!("allow {name}")),
                "{line}"
            );
        } else {
            assert!(line.contains("allowed"), "{line}");
        }
    }
    assert!(
        row(&table, "ec2:StopInstances (dry run)").contains("ALLOWED"),
        "{table}"
    );
    assert!(table.trim_end().ends_with("5 check(s) failed"), "{table}");
    assert!(denied.requests() >= 4, "each logs action was asked");
    assert!(
        !table.contains(&w.cp.agent_token),
        "the token is in the report"
    );

    // A token the control plane does not know.
    let out = procs::agent_command(&w.cp, &w.aws, &spool, "check")?
        .env(
            "CONVOPS_AGENT__CONTROL_PLANE__TOKEN",
            "cvo_agt_not-a-real-token",
        )
        .output()?;
    let table = String::from_utf8(out.stdout)?;
    assert_eq!(out.status.code(), Some(1), "{table}");
    let cp_row = row(&table, "control plane");
    assert!(
        cp_row.contains("FAILED") && cp_row.contains("control_plane.token"),
        "{table}"
    );

    // An invalid configuration: exit 2 and one line naming the key, before any call.
    let out = procs::agent_command(&w.cp, &w.aws, &spool, "check")?
        .env(
            "CONVOPS_AGENT__CONTROL_PLANE__URL",
            "https://not-a-websocket",
        )
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)?.contains("control_plane.url"));
    cp.kill();
    Ok(())
}
