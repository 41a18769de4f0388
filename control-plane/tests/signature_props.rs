//! The webhook signature verifiers on arbitrary input: any header values (timestamps at the
//! ends of `i64`, signatures of any length, non-hex, non-ASCII), any body, any clock: an error,
//! never a panic; and a request signed right still verifies.

use axum::http::{HeaderMap, HeaderValue};
use convops_control_plane::chat::verify_slack;
use convops_control_plane::chat::whatsapp::verify_signature;
use hmac::{Hmac, Mac};
use proptest::prelude::*;

fn header(v: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(v).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn verifiers_never_panic(
        ts in prop_oneof![any::<i64>().prop_map(|t| t.to_string()), ".{0,40}"],
        sig in ".{0,200}",
        body in proptest::collection::vec(any::<u8>(), 0..300),
        now in any::<i64>(),
        secret in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut h = HeaderMap::new();
        if let Some(v) = header(&ts) {
            h.insert("x-slack-request-timestamp", v);
        }
        if let Some(v) = header(&sig) {
            h.insert("x-slack-signature", v.clone());
            h.insert("x-hub-signature-256", v);
        }
        let _ = verify_slack(&secret, &h, &body, now);
        let _ = verify_signature(&secret, &h, &body);
    }

    #[test]
    fn a_right_signature_verifies_at_any_time(
        ts in any::<i64>(),
        skew in -300i64..=300,
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let secret = b"0123456789abcdef-signing";
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).expect("key");
        mac.update(format!("v0:{ts}:").as_bytes());
        mac.update(&body);
        let mut h = HeaderMap::new();
        h.insert("x-slack-request-timestamp", header(&ts.to_string()).expect("ts"));
        h.insert(
            "x-slack-signature",
            header(&format!("v0={}", hex::encode(mac.finalize().into_bytes()))).expect("sig"),
        );
        if let Some(now) = ts.checked_add(skew) {
            prop_assert!(verify_slack(secret, &h, &body, now).is_ok());
        }
    }
}
