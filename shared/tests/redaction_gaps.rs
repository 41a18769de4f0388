//! Secrets of the classes issue #18 found passing the redactor, several shapes per class, and
//! look-alike lines that must come back unchanged.

use convops_shared::redact::Redactor;

fn r() -> Redactor {
    Redactor::new(b"gaps-test-key")
}

/// Each `(line, secret)`: the secret must not survive in the redacted line.
fn assert_masked(cases: &[(&str, &str)]) {
    let r = r();
    let mut leaks = Vec::new();
    for (line, secret) in cases {
        let out = r.redact(line);
        if out.contains(secret) {
            leaks.push(format!("{secret:?} survives in {out:?}"));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

fn assert_unchanged(lines: &[&str]) {
    let r = r();
    let changed: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            let out = r.redact(l);
            (out != *l).then(|| format!("{l:?} became {out:?}"))
        })
        .collect();
    assert!(changed.is_empty(), "{}", changed.join("\n"));
}

#[test]
fn authorization_headers_of_any_scheme() {
    assert_masked(&[
        (
            "Authorization: Token 9f8e7d6c5b4a39281716",
            "9f8e7d6c5b4a39281716",
        ),
        (
            "authorization=Token token=\"ab12cd34ef56gh78\"",
            "ab12cd34ef56gh78",
        ),
        (
            "Authorization: ApiKey QmFzZTY0U2VjcmV0VmFsdWU",
            "QmFzZTY0U2VjcmV0VmFsdWU",
        ),
        (
            "\"Authorization\": \"SSWS 00aBcDeFgHiJkLmNoPqRsTuVwXyZ012345\"",
            "00aBcDeFgHiJkLmNoPqRsTuVwXyZ012345",
        ),
        (
            "Proxy-Authorization: Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1",
            "YIIGhgYJKoZIhvcSAQICAQBuggZ1",
        ),
        (
            "headers={'Authorization': 'Bot MTA5ODc2NTQzMjEw.GxYz12.abcdefghijkl'}",
            "MTA5ODc2NTQzMjEw.GxYz12.abcdefghijkl",
        ),
    ]);
}

#[test]
fn signed_urls_and_oauth_codes() {
    assert_masked(&[
        (
            "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=3b1f0c0e7d5a4c2b9e8f7a6d5c4b3a291807f6e5d4c3b2a1908f7e6d5c4b3a29",
            "3b1f0c0e7d5a4c2b9e8f7a6d5c4b3a291807f6e5d4c3b2a1908f7e6d5c4b3a29",
        ),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Security-Token=FQoDYXdzEJr1234567890abcdefXYZ&X-Amz-Signature=abc",
            "FQoDYXdzEJr1234567890abcdefXYZ",
        ),
        (
            "upload to https://acct.blob.core.windows.net/c/f.bin?sv=2022-11-02&ss=b&srt=o&sp=rw&se=2026-12-01T00:00:00Z&sig=Zx9%2FkQ1w3rT5yU7iO9pA1sD3fG5hJ7kL9zX1cV3bN5m%3D",
            "Zx9%2FkQ1w3rT5yU7iO9pA1sD3fG5hJ7kL9zX1cV3bN5m%3D",
        ),
        (
            "callback GET /oauth/callback?code=4/0AfJohXk7Rz9mQ2wP5tY8uI1oA3sD6fG9hJ2kL5&state=xyz",
            "4/0AfJohXk7Rz9mQ2wP5tY8uI1oA3sD6fG9hJ2kL5",
        ),
        (
            "https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=5d4c3b2a19087f6e5d4c3b2a19087f6e",
            "5d4c3b2a19087f6e5d4c3b2a19087f6e",
        ),
        (
            "https://d111111abcdef8.cloudfront.net/i.jpg?Expires=1735689600&Signature=Nq1Xn9p~Ab3-Cd5Ef7Gh9Ij1Kl3Mn5&Key-Pair-Id=K2JCJMDEHXQW5F",
            "Nq1Xn9p~Ab3-Cd5Ef7Gh9Ij1Kl3Mn5",
        ),
    ]);
}

#[test]
fn command_line_passwords() {
    assert_masked(&[
        (
            "exec: pg_dump --password hunter2secret -h db",
            "hunter2secret",
        ),
        (
            "running mysqldump -u backup -pS3cr3tPass orders",
            "S3cr3tPass",
        ),
        (
            "cmd=[\"mysql\", \"-h\", \"db\", \"-uroot\", \"-pR00tPw!\"]",
            "R00tPw!",
        ),
        ("sshpass -p 'Wint3r!2026' ssh deploy@host", "Wint3r!2026"),
        ("redis-cli -h cache -a Redis#Pass99 PING", "Redis#Pass99"),
        (
            "vault login -method=userpass username=ops password=Vlt-pass-123",
            "Vlt-pass-123",
        ),
        (
            "aws-cli --secret-key wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY --region x",
            "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
        ),
        (
            "deploy.sh --api-token tok_8a7b6c5d4e3f --env prod",
            "tok_8a7b6c5d4e3f",
        ),
        (
            "curl -u admin:Adm1nPass! https://jenkins.local/api",
            "Adm1nPass!",
        ),
    ]);
    assert_unchanged(&[
        "java -jar app.jar -p 8080 --password-file /run/secrets/db",
        "tar -pczf backup.tgz /var/lib/data",
        "ssh -p 2222 deploy@bastion",
        "mysql -h db -u app -p orders < schema.sql",
        "vault token lookup --token-ttl 3600",
    ]);
}

#[test]
fn pem_bodies_logged_line_by_line() {
    assert_masked(&[
        (
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
        ),
        (
            "2026-11-29T10:00:00Z app[7]: MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8DfmAhr9eA+lVWtB0Mz0Qw8Nx",
            "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8DfmAhr9eA+lVWtB0Mz0Qw8Nx",
        ),
        (
            "key line: 3Tz2mr7SZiAMfQyuvBjM9Oi8DfmAhr9eA/lVWtB0Mz0Qw8NxZq1Wd3Ep5Gs7Ht9J",
            "3Tz2mr7SZiAMfQyuvBjM9Oi8DfmAhr9eA/lVWtB0Mz0Qw8NxZq1Wd3Ep5Gs7Ht9J",
        ),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----"),
        ("Kq8Zp3VnR5tW7yB9dF1hJ3lN5pR7tV9xZ2cE4gI6kM8oQ0s==", "Kq8Zp3VnR5tW7yB9dF1hJ3lN5pR7tV9xZ2cE4gI6kM8oQ0s=="),
    ]);
    assert_unchanged(&[
        // A SHA-256 digest and a git SHA are not key material.
        "image digest sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "commit 3e00f3b21ea4ff07fe1e33fbc729109a6cb24f35 merged",
        "-----BEGIN CERTIFICATE-----",
        "status=ok",
        "checksum dGVzdA==",
    ]);
}

#[test]
fn quoted_values_with_escapes_or_no_end() {
    assert_masked(&[
        (r#"{"password": "ab\"cdSECRETef"}"#, "SECRETef"),
        (r#"password='it\'sSECRET123'"#, "sSECRET123"),
        (r#"{"api_key": "k3yV4lueCutOffHere"#, "k3yV4lueCutOffHere"),
        (
            r#"token="unterminated-tok3n-value"#,
            "unterminated-tok3n-value",
        ),
    ]);
}

#[test]
fn json_walk_masks_keys_and_whole_secret_values() {
    let r = r();
    let mut v = serde_json::json!({
        "password": ["first-Secret-1", "second-Secret-2"],
        "credentials": {"user": "svc", "pin": 4321, "nested": ["deep-Secret-3"]},
        "client_secret": 987654321,
        "env": {"203.0.113.77": "host key", "alice@example.rs": "owner"},
        "apiKey": {"v": "objVal-Secret-4"},
        "name": "ok"
    });
    r.redact_json(&mut v);
    let out = v.to_string();
    for s in [
        "first-Secret-1",
        "second-Secret-2",
        "deep-Secret-3",
        "4321",
        "987654321",
        "203.0.113.77",
        "alice@example.rs",
        "objVal-Secret-4",
    ] {
        assert!(!out.contains(s), "{s} survives in {out}");
    }
    assert!(out.contains("\"name\":\"ok\""), "{out}");
    assert!(
        out.contains("\"user\""),
        "keys that are not secret stay: {out}"
    );
}

#[test]
fn addresses_at_sentence_ends_and_after_words() {
    assert_masked(&[
        ("connection refused by 10.20.30.40.", "10.20.30.40"),
        ("build agent 172.16.4.22 lost heartbeat", "172.16.4.22"),
        ("agent 192.168.7.9 registered", "192.168.7.9"),
        ("failover to 10.0.3.17; retrying", "10.0.3.17"),
    ]);
    assert_unchanged(&[
        "upgraded to version 1.2.3.4",
        "chrome 120.0.6099.109 on windows",
        "firmware 2.10.4.1 installed",
        "build 10.0.19041.1 detected",
    ]);
}

#[test]
fn ec2_host_names_carry_addresses() {
    assert_masked(&[
        ("host ip-10-0-1-23.ec2.internal is unhealthy", "10-0-1-23"),
        (
            "ip-172-31-44-9.eu-west-1.compute.internal kernel: oom",
            "172-31-44-9",
        ),
        (
            "Nov 29 10:00:01 ip-10-1-2-3 sshd[42]: Accepted key",
            "10-1-2-3",
        ),
        (
            "resolved ec2-54-210-33-7.compute-1.amazonaws.com",
            "54-210-33-7",
        ),
    ]);
    let r = r();
    // The name and its address get one pseudonym, so a host seen by name and by address is one.
    let by_name = r.redact("ip-10-0-1-23.ec2.internal");
    let by_addr = r.redact("10.0.1.23");
    assert_eq!(by_name, by_addr);
}

#[test]
fn emails_whose_top_level_domain_is_a_file_extension() {
    assert_masked(&[
        ("owner dragana@firma.rs notified", "dragana@firma.rs"),
        ("contact: soporte@empresa.com.py", "soporte@empresa.com.py"),
        ("sent to ali@shop.so", "ali@shop.so"),
        ("reply-to promo@deals.zip", "promo@deals.zip"),
        ("billing ion@magazin.md", "ion@magazin.md"),
    ]);
    assert_unchanged(&[
        "GET /img/logo@2x.png 200",
        "loaded icon@3x.webp",
        "dep lodash@4.17.21.tgz",
    ]);
}

#[test]
fn phone_numbers_without_plus_or_brackets() {
    assert_masked(&[
        ("customer phone 312-555-0172 called", "312-555-0172"),
        ("tel: 312.555.0172", "312.555.0172"),
        ("\"phone\": \"020 7946 0958\"", "020 7946 0958"),
        ("mobile=06 12 34 56 78", "06 12 34 56 78"),
        ("sms to 4155550123 failed", "4155550123"),
    ]);
    assert_unchanged(&[
        "order 2026-11-29 total 1234",
        "request_id=1732838400123 took 45ms",
        "port 8080 pid 31337",
    ]);
}

/// Every row of the vendor table: its example is masked whole (or its secret group is), its gate
/// is a literal of the example, and the row's pattern compiles.
#[test]
fn every_vendor_format_masks_its_example() {
    use convops_shared::vendor_tokens::VENDOR_TOKENS;
    let r = r();
    let mut failures = Vec::new();
    for t in VENDOR_TOKENS {
        let re = regex::Regex::new(t.pattern).unwrap_or_else(|e| panic!("{}: {e}", t.kind));
        let caps = re
            .captures(t.example)
            .unwrap_or_else(|| panic!("{}: the pattern does not match its example", t.kind));
        let secret = caps
            .name("v")
            .unwrap_or_else(|| caps.get(0).expect("match"))
            .as_str();
        let lower = t.example.to_ascii_lowercase();
        assert!(
            t.gate
                .iter()
                .any(|g| lower.contains(&g.to_ascii_lowercase())),
            "{}: no gate literal in the example",
            t.kind
        );
        let line = format!(
            "2026-11-29T10:00:00Z worker[7]: config loaded {}",
            t.example
        );
        let out = r.redact(&line);
        if out.contains(secret) {
            failures.push(format!("{}: {secret:?} survives in {out}", t.kind));
        }
        assert!(t.doc.starts_with("https://"), "{}: doc link", t.kind);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Redacting again changes nothing, also where a mask follows a secret key
/// (`api_key=[password_or_secret:1a2b]`) in a line full of numbers and quotes.
#[test]
fn a_redacted_line_redacts_to_itself() {
    let r = r();
    for line in [
        r#"2026/11/29 11:20:01 [error] 1123#1123: *7977 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.4.17, server: api.example, request: "POST /v1/items?api_key=k3yS3cr3tV4lue HTTP/1.1", upstream: "uwsgi://unix:/run/uwsgi/ingest.sock""#,
        r#"{"password": ["a-Secret-1", "b-Secret-2"], "count": 3, "at": "2026-11-29"}"#,
        r#"token=[unbalanced "quoted" 2026 text and more 1234"#,
        // A mask cut short by an excerpt, then more quoted text on the next lines.
        "request: \"POST /v1/items?api_key=[password_or_secret:…\" in group (first 2026-11-29)\n• what fails: 54× \"*** HARAKIRI ON WORKER 3 ***\" in 2026",
    ] {
        let once = r.redact(line).into_owned();
        let twice = r.redact(&once).into_owned();
        assert_eq!(once, twice, "not idempotent on {line}");
        assert!(once.contains("2026"), "dates are not secrets: {once}");
        assert!(!line.contains("HARAKIRI") || once.contains("HARAKIRI"), "{once}");
    }
}
