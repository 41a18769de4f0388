//! One account in moto with a CBOR adapter in front of CloudWatch, a local Slack receiver and a
//! control plane set up (not started) in a temporary directory: the world the end-to-end tests
//! run the agent in.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDatum, StandardUnit, StateValue, Statistic,
};

use crate::cbor::CborAdapter;
use crate::chat::SlackReceiver;
use crate::moto::Moto;
use crate::procs::{self, AwsEndpoints, ControlPlaneSetup};

const REGION: &str = "eu-central-1";
/// moto, the CloudWatch adapter, the Slack receiver and a control plane set up in `dir`.
pub struct World {
    pub moto: Moto,
    pub adapter: CborAdapter,
    pub slack: SlackReceiver,
    pub aws: AwsEndpoints,
    pub cw: aws_sdk_cloudwatch::Client,
    pub cp: ControlPlaneSetup,
    pub dir: tempfile::TempDir,
}

/// A fresh [`World`].
pub async fn world() -> anyhow::Result<World> {
    let moto = Moto::start().await?;
    let adapter = CborAdapter::start(&moto.endpoint()).await?;
    let slack = SlackReceiver::start().await?;
    let aws = AwsEndpoints {
        region: REGION.into(),
        default: moto.endpoint(),
        cloudwatch: adapter.endpoint(),
        cloudtrail: None,
        overrides: Vec::new(),
    };
    let shared = procs::seed_config(&aws).await;
    let cw = procs::cloudwatch_client(&shared, &aws);
    let dir = tempfile::tempdir()?;
    let cp = ControlPlaneSetup::create(dir.path(), &slack.webhook_url())?;
    Ok(World {
        moto,
        adapter,
        slack,
        aws,
        cw,
        cp,
        dir,
    })
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Put an hour of a service's 5xx count (flat, then a jump 10 minutes ago), an alarm on it, and
/// set the alarm to ALARM with `reason`.
pub async fn fire_alarm(w: &World, name: &str, lb: &str, reason: &str) -> anyhow::Result<()> {
    let now = now_secs();
    let dim = Dimension::builder().name("LoadBalancer").value(lb).build();
    let data: Vec<MetricDatum> = (0..60)
        .map(|i| {
            let t = now - 3600 + i * 60;
            let v = if t >= now - 600 {
                40.0 + (i % 5) as f64
            } else {
                (i % 3) as f64
            };
            MetricDatum::builder()
                .metric_name("HTTPCode_Target_5XX_Count")
                .dimensions(dim.clone())
                .timestamp(DateTime::from_secs(t))
                .value(v)
                .unit(StandardUnit::Count)
                .build()
        })
        .collect();
    w.cw.put_metric_data()
        .namespace("AWS/ApplicationELB")
        .set_metric_data(Some(data))
        .send()
        .await?;
    w.cw.put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .dimensions(dim)
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(3)
        .threshold(10.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await?;
    w.cw.set_alarm_state()
        .alarm_name(name)
        .state_value(StateValue::Alarm)
        .state_reason(reason)
        .send()
        .await?;
    Ok(())
}
