//! The CloudFormation templates a customer deploys (`cloudformation/`): their IAM policies allow
//! exactly the agent's list of AWS operations (`convops_agent::aws::Action`, the one source of
//! truth) and explicitly deny everything else; the task is sized and locked down as the
//! security page promises; and the agent template, deployed into moto's CloudFormation, creates
//! the role that an agent then assumes to complete an investigation. moto evaluates neither the
//! role's policies nor its trust policy: that the policies say what they must is shown by the
//! static tests here, and that the agent works within them by `check`'s and the scenario tests'
//! use of the same 13 actions.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use convops_agent::aws::Action;
use convops_tests::procs;
use convops_tests::world::{fire_alarm, world};
use serde_yaml::Value;

fn template(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cloudformation")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn reads() -> BTreeSet<String> {
    Action::ALL
        .iter()
        .map(|a| a.iam_name().to_owned())
        .collect()
}

/// A string or list of strings, as IAM allows for `Action` and `NotAction`.
fn names(v: &Value) -> BTreeSet<String> {
    match v {
        Value::String(s) => [s.clone()].into(),
        Value::Sequence(items) => items
            .iter()
            .map(|i| i.as_str().expect("an action name").to_owned())
            .collect(),
        other => panic!("not an action list: {other:?}"),
    }
}

/// Every IAM statement under `v`, whichever `Fn::If` branch it sits in.
fn statements<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Mapping(m) => {
            if m.contains_key("Effect") && (m.contains_key("Action") || m.contains_key("NotAction"))
            {
                out.push(v);
            }
            for (_, child) in m {
                statements(child, out);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| statements(i, out)),
        _ => {}
    }
}

fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    &t["Resources"][name]
}

fn sid<'a>(all: &[&'a Value], sid: &str) -> &'a Value {
    let found: Vec<_> = all
        .iter()
        .filter(|s| s["Sid"].as_str() == Some(sid))
        .collect();
    assert_eq!(found.len(), 1, "one statement {sid}");
    found[0]
}

/// The statements of the role `role` (inline and in `AWS::IAM::Policy` resources attached to it).
fn role_statements<'a>(t: &'a Value, role: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    statements(&resource(t, role)["Properties"]["Policies"], &mut out);
    if let Value::Mapping(resources) = &t["Resources"] {
        for (_, r) in resources {
            let attached = r["Type"].as_str() == Some("AWS::IAM::Policy")
                && r["Properties"]["Roles"]
                    .as_sequence()
                    .is_some_and(|roles| roles.iter().any(|x| x["Ref"].as_str() == Some(role)));
            if attached {
                statements(&r["Properties"]["PolicyDocument"], &mut out);
            }
        }
    }
    out
}

/// The read-only statement and the explicit deny of a role: exactly the agent's reads allowed,
/// everything else (but `extra_exempt`) denied on every resource; and no other Allow but
/// `sts:AssumeRole`.
fn assert_read_only(statements: &[&Value], extra_exempt: &[&str]) {
    let allow = sid(statements, "ConvOpsReadOnly");
    assert_eq!(allow["Effect"].as_str(), Some("Allow"));
    assert_eq!(names(&allow["Action"]), reads(), "ConvOpsReadOnly");
    let deny = sid(statements, "ConvOpsDenyWrites");
    assert_eq!(deny["Effect"].as_str(), Some("Deny"));
    assert_eq!(deny["Resource"].as_str(), Some("*"));
    assert!(
        deny.get("Action").is_none(),
        "the deny is NotAction: all but the reads"
    );
    let mut exempt = reads();
    exempt.extend(extra_exempt.iter().map(|s| s.to_string()));
    assert_eq!(names(&deny["NotAction"]), exempt, "ConvOpsDenyWrites");
    assert!(deny.get("Condition").is_none(), "the deny is unconditional");
    for s in statements {
        if s["Effect"].as_str() == Some("Allow") && s["Sid"].as_str() != Some("ConvOpsReadOnly") {
            assert_eq!(
                names(&s["Action"]),
                ["sts:AssumeRole".to_owned()].into(),
                "no other allow: {s:?}"
            );
        }
    }
}

#[test]
fn the_agent_task_role_allows_exactly_the_agents_reads_and_denies_the_rest() {
    let t = template("agent.yaml");
    let role = role_statements(&t, "TaskRole");
    assert_read_only(&role, &["sts:AssumeRole"]);
    // sts:AssumeRole, exempt from the deny above, is denied but for the cross-account role.
    let assume = sid(&role, "ConvOpsAssumeCrossAccountRole");
    assert_eq!(
        assume["Resource"]["Ref"].as_str(),
        Some("CrossAccountRoleArn")
    );
    for s in ["ConvOpsDenyOtherRoles", "ConvOpsDenyAssumeRole"] {
        let d = sid(&role, s);
        assert_eq!(d["Effect"].as_str(), Some("Deny"));
        assert_eq!(names(&d["Action"]), ["sts:AssumeRole".to_owned()].into());
    }
    assert!(
        resource(&t, "TaskRole")["Properties"]
            .get("ManagedPolicyArns")
            .is_none(),
        "no managed policy widens the task role"
    );
}

#[test]
fn the_cross_account_role_allows_exactly_the_agents_reads_with_an_external_id() {
    let t = template("cross-account-role.yaml");
    let (name, role) = match &t["Resources"] {
        Value::Mapping(m) => m
            .iter()
            .find(|(_, r)| r["Type"].as_str() == Some("AWS::IAM::Role"))
            .map(|(k, r)| (k.as_str().expect("name").to_owned(), r))
            .expect("a role"),
        _ => panic!("no resources"),
    };
    assert_read_only(&role_statements(&t, &name), &[]);
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(
        names(&trust["Action"]),
        ["sts:AssumeRole".to_owned()].into()
    );
    assert_eq!(
        trust["Condition"]["StringEquals"]["sts:ExternalId"]["Ref"].as_str(),
        Some("ExternalId"),
        "trust requires the ExternalId"
    );
    assert_eq!(
        role["Properties"]["MaxSessionDuration"].as_u64(),
        Some(3600)
    );
    assert_eq!(
        t["Parameters"]["ExternalId"]["NoEcho"].as_bool(),
        Some(true)
    );
}

#[test]
fn the_agent_task_is_small_locked_down_and_given_its_token_as_a_secret() {
    let t = template("agent.yaml");
    let td = &resource(&t, "TaskDefinition")["Properties"];
    assert_eq!(td["Cpu"].as_str(), Some("256"));
    assert_eq!(td["Memory"].as_str(), Some("512"));
    assert_eq!(
        names(&td["RequiresCompatibilities"]),
        ["FARGATE".to_owned()].into()
    );
    let c = &td["ContainerDefinitions"][0];
    assert_eq!(c["ReadonlyRootFilesystem"].as_bool(), Some(true));
    assert!(
        c["User"].as_str().is_some_and(|u| !u.starts_with('0')),
        "non-root"
    );
    assert!(c["StopTimeout"].as_u64().is_some());
    let health = serde_yaml::to_string(&c["HealthCheck"]["Command"]).expect("yaml");
    assert!(health.contains("health"), "health check: {health}");
    assert!(c.get("PortMappings").is_none(), "no inbound port");
    let env = serde_yaml::to_string(&c["Environment"]).expect("yaml");
    assert!(
        !env.contains("TOKEN"),
        "the token is not a plain variable: {env}"
    );
    let secrets = serde_yaml::to_string(&c["Secrets"]).expect("yaml");
    assert!(
        secrets.contains("CONVOPS_AGENT__CONTROL_PLANE__TOKEN"),
        "{secrets}"
    );
    assert_eq!(
        t["Parameters"]["RegistrationToken"]["NoEcho"].as_bool(),
        Some(true)
    );
    let service = &resource(&t, "Service")["Properties"];
    assert_eq!(service["DesiredCount"].as_u64(), Some(1));
    assert!(service.get("LoadBalancers").is_none());
    // The execution role may pull, read its own secrets and write its own logs: nothing else.
    let mut exec = Vec::new();
    statements(
        &resource(&t, "ExecutionRole")["Properties"]["Policies"],
        &mut exec,
    );
    for s in exec {
        for a in names(&s["Action"]) {
            assert!(
                a.starts_with("ecr:")
                    || a == "secretsmanager:GetSecretValue"
                    || a == "kms:Decrypt"
                    || a == "logs:CreateLogStream"
                    || a == "logs:PutLogEvents",
                "execution role action {a}"
            );
        }
    }
    assert!(resource(&t, "AgentLogGroup")["Properties"]["RetentionInDays"].is_mapping());
}

/// moto's query API (CloudFormation, IAM): form-encoded POST, XML answer. moto reads the region
/// from the credential scope and does not check the signature.
async fn query(endpoint: &str, service: &str, params: &[(&str, &str)]) -> anyhow::Result<String> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let r = reqwest::Client::new()
        .post(endpoint)
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=testing/20260101/eu-central-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
            ),
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await?;
    let action = params.iter().find(|(k, _)| *k == "Action").map(|(_, v)| *v);
    anyhow::ensure!(
        status.is_success(),
        "{service} {action:?}: {status}: {text}"
    );
    Ok(text)
}

/// The text of each `<tag>…</tag>` in `xml`, in order.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.match_indices(&open)
        .filter_map(|(i, _)| {
            let rest = &xml[i + open.len()..];
            rest.find(&close).map(|j| rest[..j].to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_template_creates_the_role_an_agent_investigates_with() -> anyhow::Result<()> {
    let w = world().await?;
    let moto = w.moto.endpoint();
    let body = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cloudformation/agent.yaml"),
    )?;
    let params = [
        ("ControlPlaneUrl", w.cp.agent_url()),
        ("RegistrationToken", w.cp.agent_token.clone()),
        ("Subnets", "subnet-0123456789abcdef0".to_owned()),
        ("SecurityGroup", "sg-0123456789abcdef0".to_owned()),
        (
            "Image",
            "123456789012.dkr.ecr.eu-central-1.amazonaws.com/convops-agent:0.1.0".to_owned(),
        ),
    ];
    let mut form: Vec<(String, String)> = vec![
        ("Action".into(), "CreateStack".into()),
        ("StackName".into(), "convops-agent".into()),
        ("TemplateBody".into(), body),
        ("Capabilities.member.1".into(), "CAPABILITY_IAM".into()),
    ];
    for (i, (k, v)) in params.iter().enumerate() {
        form.push((
            format!("Parameters.member.{}.ParameterKey", i + 1),
            (*k).into(),
        ));
        form.push((
            format!("Parameters.member.{}.ParameterValue", i + 1),
            v.clone(),
        ));
    }
    let form_ref: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    query(&moto, "cloudformation", &form_ref).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let outputs = loop {
        let xml = query(
            &moto,
            "cloudformation",
            &[("Action", "DescribeStacks"), ("StackName", "convops-agent")],
        )
        .await?;
        let status = xml_values(&xml, "StackStatus").join(",");
        if status == "CREATE_COMPLETE" {
            break xml;
        }
        anyhow::ensure!(
            status.ends_with("IN_PROGRESS") && Instant::now() < deadline,
            "stack status {status}: {xml}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let keys = xml_values(&outputs, "OutputKey");
    let values = xml_values(&outputs, "OutputValue");
    let role_arn = keys
        .iter()
        .zip(&values)
        .find(|(k, _)| k.as_str() == "TaskRoleArn")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| anyhow::anyhow!("no TaskRoleArn output: {outputs}"))?;
    let role_name = role_arn.rsplit('/').next().unwrap_or_default();
    let role = query(
        &moto,
        "iam",
        &[("Action", "GetRole"), ("RoleName", role_name)],
    )
    .await?;
    assert_eq!(xml_values(&role, "Arn").first(), Some(&role_arn), "{role}");
    let policies = query(
        &moto,
        "iam",
        &[("Action", "ListRolePolicies"), ("RoleName", role_name)],
    )
    .await?;
    assert!(
        xml_values(&policies, "member").contains(&"convops-agent-read-only".to_owned()),
        "{policies}"
    );

    // The agent takes the role the stack made (as ECS does for a task role) and investigates.
    let mut cp = w.cp.start().await?;
    let mut agent = procs::start_agent_with(
        &w.cp,
        &w.aws,
        &w.dir.path().join("spool"),
        w.dir.path().join("agent.log"),
        &w.cp.agent_url(),
        &[("CONVOPS_AGENT__AWS__ROLE_ARN", &role_arn)],
    )?;
    fire_alarm(&w, "cfn-5xx", "app/cfn/1", "Threshold Crossed: cfn-5xx").await?;
    w.slack
        .wait_for(1, Duration::from_secs(90))
        .await
        .with_context(|| agent.log_text())?;
    let incidents = w.cp.incidents().await?;
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0]["alarm_name"].as_str(), Some("cfn-5xx"));
    agent.kill();
    cp.kill();
    Ok(())
}
