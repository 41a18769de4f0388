//! Secrets the control plane issues (API keys, agent tokens): generation and hashing.
//!
//! Issued secrets are 256 random bits, so a single SHA-256 is the right stored form (a slow
//! password hash adds nothing against brute force of 2^256 and costs every request). Lookups are
//! by hash, so comparing secrets never happens in application code.

use base64::Engine;
use sha2::{Digest, Sha256};

/// A new secret like `cvo_agt_<43 url-safe base64 chars>`.
pub fn generate_secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer(value: Option<&str>) -> Option<&str> {
    let v = value?.trim();
    let (scheme, token) = v.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_hash_stably() {
        let a = generate_secret("cvo_agt");
        let b = generate_secret("cvo_agt");
        assert_ne!(a, b);
        assert!(a.starts_with("cvo_agt_") && a.len() == 8 + 43, "{a}");
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
