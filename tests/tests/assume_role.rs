//! Cross-account mode against moto's STS: the agent's clients sign every call with the assumed
//! role's temporary credentials (not the base credentials that authorised `AssumeRole`), and the
//! external id and session name reach STS.

use convops_agent::aws::{Action, AssumeRole, Clients};
use convops_shared::secret::SecretString;
use convops_tests::moto::Moto;

const BASE_KEY: &str = "AKIAEXAMPLEBASEKEY01";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_uses_the_assumed_role() -> anyhow::Result<()> {
    let moto = Moto::start().await?;
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_credential_types::Credentials::new(
            BASE_KEY,
            "base-secret-not-used-for-reads",
            None,
            None,
            "test",
        ))
        .load()
        .await;
    let role = AssumeRole {
        role_arn: "arn:aws:iam::123456789012:role/convops-readonly".into(),
        external_id: Some(SecretString::new("ext-7f3a-example")),
        session_name: "convops-agent".into(),
    };
    let clients = Clients::from_config(base.clone(), Some(&role)).await;

    // A read the agent makes works with the role's credentials.
    let req = clients.ec2.describe_instances();
    clients
        .call(Action::Ec2DescribeInstances, || req.clone().send())
        .await?;

    // The credentials the clients sign with are the role's temporary ones.
    let provider = clients
        .sdk_config
        .credentials_provider()
        .expect("a provider");
    let creds =
        aws_credential_types::provider::ProvideCredentials::provide_credentials(&provider).await?;
    assert_ne!(creds.access_key_id(), BASE_KEY);
    assert!(creds.session_token().is_some(), "temporary credentials");
    assert!(
        creds.expiry().is_some(),
        "with an expiry, so the cache refreshes them"
    );

    // And STS sees them as the assumed role with the session name asked for (a test-side call:
    // GetCallerIdentity is not something the agent does).
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&base)
            .credentials_provider(provider)
            .build(),
    );
    let me = sts.get_caller_identity().send().await?;
    let arn = me.arn().unwrap_or_default();
    assert!(
        arn.contains("assumed-role/convops-readonly/convops-agent"),
        "{arn}"
    );
    Ok(())
}
