//! Property: a secret of any supported kind, planted anywhere in any line, never survives
//! redaction, and redaction is idempotent and never panics.

use std::sync::LazyLock;

use convops_shared::redact::Redactor;
use proptest::prelude::*;

/// Compiled once: building a redactor compiles every rule.
static R: LazyLock<Redactor> = LazyLock::new(|| Redactor::new(b"prop"));

fn alnum(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![b'a'..=b'z', b'A'..=b'Z', b'0'..=b'9'], n)
        .prop_map(|v| String::from_utf8(v).unwrap_or_default())
}

fn hexs(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![b'0'..=b'9', b'a'..=b'f'], n)
        .prop_map(|v| String::from_utf8(v).unwrap_or_default())
}

/// `(secret, line fragment carrying it)`.
fn planted() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        alnum(16).prop_map(|s| {
            let k = format!("AKIA{}", s.to_uppercase());
            (k.clone(), format!("key {k} used"))
        }),
        alnum(36).prop_map(|s| {
            let k = format!("ghp_{s}");
            (k.clone(), format!("token {k}"))
        }),
        alnum(24).prop_map(|s| {
            let k = format!("sk_live_{s}");
            (k.clone(), format!("stripe {k}"))
        }),
        alnum(14).prop_map(|s| (format!("P{s}"), format!("db password=P{s} host=db"))),
        alnum(14).prop_map(|s| (format!("Q{s}"), format!(r#"{{"client_secret": "Q{s}"}}"#))),
        alnum(12).prop_map(|s| (
            format!("pw{s}"),
            format!("postgres://app:pw{s}@db.internal:5432/x")
        )),
        alnum(30).prop_map(|s| (format!("T{s}"), format!("Authorization: Bearer T{s}"))),
        (alnum(6), alnum(5)).prop_map(|(u, d)| {
            let e = format!("{}@{}.example.com", u.to_lowercase(), d.to_lowercase());
            (e.clone(), format!("mail to {e} failed"))
        }),
        (1u8..=223, 0u8..=255, 0u8..=255, 1u8..=254).prop_map(|(a, b, c, d)| {
            let ip = format!("{a}.{b}.{c}.{d}");
            (ip.clone(), format!("from {ip} port 443"))
        }),
        hexs(32).prop_map(|s| (s.clone(), format!("DD_API_KEY={s}"))),
        (100_000_000_000u64..999_999_999_999).prop_map(|n| {
            let a = format!("{n:012}");
            (a.clone(), format!("arn:aws:iam::{a}:role/x"))
        }),
        alnum(20).prop_map(|s| {
            let k = format!("glpat-{s}");
            (k.clone(), format!("push {k}"))
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn planted_secrets_never_survive(
        (secret, fragment) in planted(),
        prefix in "[ -~]{0,40}",
        suffix in "[ -~]{0,40}",
    ) {
        let r = &*R;
        let line = format!("{prefix} {fragment} {suffix}");
        let out = r.redact(&line);
        prop_assert!(!out.contains(&secret), "{secret:?} survived: {out}");
        prop_assert_eq!(r.redact(&out).into_owned(), out.clone().into_owned(), "not idempotent");
    }

    #[test]
    fn arbitrary_text_never_panics_and_is_idempotent(line in "\\PC{0,120}") {
        let r = &*R;
        let once = r.redact(&line).into_owned();
        prop_assert_eq!(r.redact(&once).into_owned(), once);
    }
}
