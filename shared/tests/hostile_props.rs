//! Property tests with hostile input, bounded in cases so CI's time stays fixed:
//!
//! - the frame decoders and the wire decompressor return an error, never panic, on arbitrary
//!   text and bytes and on valid frames mutated or cut anywhere;
//! - a secret of every class, planted in random JSON shapes (as a value, under a secret key, in
//!   a nested array, as an object key, inside a sentence) or in a log line, never survives
//!   redaction; nor does what is left of a `key=value` secret cut at a random point (a value
//!   whose closing quote was cut off runs to the end of the string).

use std::sync::LazyLock;

use convops_shared::protocol::{AgentFrame, ServerFrame};
use convops_shared::redact::Redactor;
use convops_shared::vendor_tokens::VENDOR_TOKENS;
use proptest::prelude::*;

static R: LazyLock<Redactor> = LazyLock::new(|| Redactor::new(b"hostile-props"));
const GOLDEN: &str = include_str!("fixtures/evidence.json");

fn alnum(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![b'a'..=b'z', b'A'..=b'Z', b'0'..=b'9'], n)
        .prop_map(|v| String::from_utf8(v).unwrap_or_default())
}

/// A secret of one class: `(kind of carrier, the secret)`. The carrier says how it is written.
#[derive(Debug, Clone)]
enum Secret {
    /// A whole-token format (vendor tokens, AWS keys, JWTs, addresses…), recognisable alone.
    Token(String),
    /// A value only a secret by its key: written as `key=value` or under the key in JSON.
    Keyed(&'static str, String),
}

fn secret() -> impl Strategy<Value = Secret> {
    prop_oneof![
        (0..VENDOR_TOKENS.len()).prop_filter_map("whole-token rows", |i| {
            let t = &VENDOR_TOKENS[i];
            // Rows whose secret is the whole example (prefix formats) stand alone.
            let re = regex::Regex::new(t.pattern).ok()?;
            let caps = re.captures(t.example)?;
            caps.name("v")
                .is_none()
                .then(|| Secret::Token(t.example.to_owned()))
        }),
        alnum(16).prop_map(|s| Secret::Token(format!("AKIA{}", s.to_uppercase()))),
        alnum(36).prop_map(|s| Secret::Token(format!("ghp_{s}"))),
        (alnum(20), alnum(30), alnum(24))
            .prop_map(|(a, b, c)| Secret::Token(format!("eyJ{a}.eyJ{b}.{c}"))),
        (1u8..=223, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| Secret::Token(format!("{a}.{b}.{c}.{d}"))),
        (10u8..=250, 0u8..=255, 1u8..=254)
            .prop_map(|(b, c, d)| Secret::Token(format!("ip-10-{b}-{c}-{d}.ec2.internal"))),
        (alnum(7), alnum(6)).prop_map(|(u, d)| Secret::Token(format!(
            "{}@{}.example.com",
            u.to_lowercase(),
            d.to_lowercase()
        ))),
        (
            prop_oneof![
                Just("password"),
                Just("db_password"),
                Just("client_secret"),
                Just("api_key"),
                Just("auth_token"),
                Just("passphrase")
            ],
            alnum(18)
        )
            .prop_map(|(k, v)| Secret::Keyed(k, format!("S{v}"))),
    ]
}

/// Where the secret goes, as JSON.
fn shape(secret: &Secret, choice: u8) -> serde_json::Value {
    use serde_json::json;
    match (secret, choice % 6) {
        (Secret::Keyed(k, v), 0) => json!({ *k: v }),
        (Secret::Keyed(k, v), 1) => json!({"env": [{"name": k.to_uppercase(), "value": v}]}),
        (Secret::Keyed(k, v), 2) => json!({ *k: [v, {"nested": [v]}] }),
        (Secret::Keyed(k, v), 3) => json!({"config": { *k: {"current": v}}}),
        (Secret::Keyed(k, v), _) => json!({"message": format!("login failed {k}={v} retrying")}),
        (Secret::Token(t), 0) => json!({"value": t}),
        (Secret::Token(t), 1) => json!({"items": [[{"detail": format!("seen {t} here")}]]}),
        (Secret::Token(t), 2) => json!({ t.as_str(): "as a key" }),
        (Secret::Token(t), 3) => json!({"line": format!("{t}.")}),
        (Secret::Token(t), _) => json!({"a": {"b": [1, 2, {"c": format!("x={t};")}]}}),
    }
}

fn text_of(secret: &Secret) -> &str {
    match secret {
        Secret::Token(t) | Secret::Keyed(_, t) => t,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn decoders_refuse_anything_without_panicking(
        text in ".{0,300}",
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        cut in 0usize..4000,
        flip in 0usize..4000,
        with in any::<u8>(),
    ) {
        let _ = AgentFrame::decode(&text);
        let _ = ServerFrame::decode(&text);
        let _ = convops_shared::wire::decompress(&bytes, 1 << 20);
        // Valid frames cut anywhere or with one byte changed.
        let cut = cut.min(GOLDEN.len());
        let mut at = cut;
        while !GOLDEN.is_char_boundary(at) {
            at -= 1;
        }
        let _ = AgentFrame::decode(&GOLDEN[..at]);
        let mut b = GOLDEN.as_bytes().to_vec();
        let i = flip % b.len();
        b[i] = with;
        if let Ok(t) = std::str::from_utf8(&b) {
            let _ = AgentFrame::decode(t);
        }
        let z = convops_shared::wire::compress(GOLDEN.as_bytes());
        let _ = convops_shared::wire::decompress(&z[..cut.min(z.len())], 1 << 20);
        let mut z2 = z.clone();
        let j = flip % z2.len();
        z2[j] ^= with | 1;
        let _ = convops_shared::wire::decompress(&z2, 1 << 20);
    }

    #[test]
    fn planted_secrets_survive_no_json_shape(s in secret(), choice in any::<u8>()) {
        let mut v = shape(&s, choice);
        R.redact_json(&mut v);
        let out = v.to_string();
        prop_assert!(!out.contains(text_of(&s)), "{:?} survived in {}", s, out);
        // And as one log line (the JSON serialised, as a log shipper writes it).
        let line = shape(&s, choice).to_string();
        let red = R.redact(&line);
        prop_assert!(!red.contains(text_of(&s)), "{:?} survived in line {}", s, red);
    }

    #[test]
    fn what_is_left_of_a_cut_keyed_secret_does_not_survive(
        key in prop_oneof![Just("password"), Just("token"), Just("secret_key"), Just("api_key")],
        value in alnum(24),
        quote in prop_oneof![Just(""), Just("\""), Just("'")],
        cut in 9usize..24,
    ) {
        let line = format!("connect {key}={quote}S{value}{quote} host=db");
        let start = line.find('=').expect("=") + 1 + quote.len();
        // Cut inside the value: what an upstream truncation leaves.
        let cut_line = &line[..start + cut];
        let left = &cut_line[start..];
        let red = R.redact(cut_line);
        prop_assert!(!red.contains(left), "{left:?} survived in {red}");
    }
}
