//! The agent's own ECS cluster, from the task metadata endpoint (v4), used when `ecs.clusters`
//! is not configured: an agent running as an ECS task watches the cluster it runs in.
//!
//! The endpoint is a link-local HTTP URL ECS puts in `ECS_CONTAINER_METADATA_URI_V4`; it needs no
//! AWS permission and is not an AWS API call.

use std::time::Duration;

use anyhow::Context;

pub const METADATA_ENV: &str = "ECS_CONTAINER_METADATA_URI_V4";

/// The cluster name from `{uri}/task` (its `Cluster` field, an ARN or a name).
pub async fn own_cluster(uri: &str) -> anyhow::Result<String> {
    let url = format!("{}/task", uri.trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .context("building the HTTP client")?;
    let resp = http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    anyhow::ensure!(resp.status().is_success(), "GET {url}: {}", resp.status());
    let task: serde_json::Value = resp
        .json()
        .await
        .with_context(|| format!("{url}: not JSON"))?;
    let cluster = task["Cluster"]
        .as_str()
        .with_context(|| format!("{url}: no Cluster field"))?;
    let name = cluster.rsplit_once("cluster/").map_or(cluster, |(_, n)| n);
    anyhow::ensure!(!name.is_empty(), "{url}: empty Cluster");
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server answering `body` with `status`.
    async fn serve(status: &'static str, body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).await.expect("read");
            let req = String::from_utf8_lossy(&buf[..n]);
            assert!(req.starts_with("GET /v4/abc/task "), "{req}");
            let resp = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(resp.as_bytes()).await.expect("write");
        });
        format!("http://{addr}/v4/abc")
    }

    #[tokio::test]
    async fn reads_the_cluster_name_from_the_task_metadata() {
        let uri = serve(
            "200 OK",
            r#"{"Cluster":"arn:aws:ecs:eu-west-1:123456789012:cluster/prod-core","TaskARN":"x"}"#,
        )
        .await;
        assert_eq!(own_cluster(&uri).await.expect("cluster"), "prod-core");
        let uri = serve("200 OK", r#"{"Cluster":"default"}"#).await;
        assert_eq!(own_cluster(&uri).await.expect("cluster"), "default");
    }

    #[tokio::test]
    async fn says_what_is_wrong_with_the_endpoint() {
        let uri = serve("200 OK", r#"{"TaskARN":"x"}"#).await;
        let e = own_cluster(&uri).await.expect_err("no cluster").to_string();
        assert!(e.contains("no Cluster field"), "{e}");
        let uri = serve("404 Not Found", "{}").await;
        let e = own_cluster(&uri).await.expect_err("404").to_string();
        assert!(e.contains("404"), "{e}");
    }
}
