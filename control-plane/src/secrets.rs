//! Encryption at rest for secrets the control plane must be able to read back (webhook URLs,
//! bot tokens): AES-256-GCM with a random 96-bit nonce per value, stored as
//! `CVS2 || nonce || ciphertext`, bound by its associated data to where it belongs (workspace,
//! table, column, route kind), so a sealed value copied to another row or workspace does not open.
//!
//! The 32-byte master key comes from a key file (created with mode 0600 in the data directory on
//! the first start of an empty data directory, or when the operator asks for a new one). It is
//! never logged, never stored in the database and never used directly: the sealing key is
//! HKDF-SHA256-Expand(master, `convops/seal/v2`) (RFC 5869; the master key is uniformly random,
//! so it is the pseudorandom key itself), and keyed hashes and per-workspace keys are
//! HMAC-SHA256(master, purpose) under purposes that never take that form.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

/// The format of sealed values: version 2, with associated data.
const MAGIC: &[u8; 4] = b"CVS2";
const SEAL_INFO: &[u8] = b"convops/seal/v2";

#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
    /// Version-1 values (sealed with the master key itself, no associated data): opened only to
    /// be sealed again ([`Sealer::open_legacy`]).
    legacy: Aes256Gcm,
    key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

/// Where a sealed value belongs: its associated data.
pub fn route_target_aad(workspace_id: &str, kind: &str) -> String {
    format!("convops/v2\0{workspace_id}\0routes.target_enc\0{kind}")
}

/// Why the master key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error(
        "secrets key file {key} is missing, but {db} exists: the routes sealed with the old key \
         cannot be opened without it. Restore the key file, or start with --new-secrets-key \
         (CONVOPS_CP__SECRETS__NEW_KEY=true) to create a new key; routes must then be added again"
    )]
    Missing { key: String, db: String },
    #[error("{0}")]
    Other(String),
}

impl Sealer {
    pub fn from_key(key: &[u8; 32]) -> Self {
        let hk = hkdf::Hkdf::<sha2::Sha256>::from_prk(key)
            .unwrap_or_else(|_| unreachable!("a 32-byte key is a valid SHA-256 PRK"));
        let mut seal_key = [0u8; 32];
        hk.expand(SEAL_INFO, &mut seal_key)
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 output length"));
        Sealer {
            cipher: Aes256Gcm::new((&seal_key).into()),
            legacy: Aes256Gcm::new(key.into()),
            key: *key,
        }
    }

    /// Load the key file. When it does not exist, create it (0600, random) only if `allow_new`:
    /// an empty data directory, or the operator asking for a new key; otherwise refuse, since the
    /// database's sealed values would no longer open.
    pub fn load(path: &Path, allow_new: bool, db: &Path) -> Result<Self, KeyFileError> {
        if !path.exists() {
            if !allow_new {
                return Err(KeyFileError::Missing {
                    key: path.display().to_string(),
                    db: db.display().to_string(),
                });
            }
            let key: [u8; 32] = rand::random();
            write_private(path, hex::encode(key).as_bytes())
                .map_err(|e| KeyFileError::Other(format!("{e:#}")))?;
        }
        let other = |m: String| KeyFileError::Other(m);
        let text = std::fs::read_to_string(path)
            .map_err(|e| other(format!("reading key file {}: {e}", path.display())))?;
        let bytes = hex::decode(text.trim()).map_err(|_| {
            other(format!(
                "key file {}: not 64 hex characters",
                path.display()
            ))
        })?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| other(format!("key file {}: key must be 32 bytes", path.display())))?;
        Ok(Self::from_key(&key))
    }

    /// A 32-byte key for `purpose`, derived from the master key (HMAC-SHA256), so per-workspace
    /// keys need no storage of their own.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Seals `plaintext` for the place `aad` names (see [`route_target_aad`]).
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Vec<u8> {
        let nonce_bytes: [u8; 12] = rand::random();
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&nonce_bytes);
        // Encryption with a valid key and in-memory buffers does not fail.
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce_bytes),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_default();
        out.extend(ct);
        out
    }

    /// Opens a value sealed for `aad`; one sealed for another place, or with another key, does
    /// not open.
    pub fn open(&self, sealed: &[u8], aad: &str) -> anyhow::Result<Vec<u8>> {
        let Some(rest) = sealed.strip_prefix(MAGIC.as_slice()) else {
            anyhow::bail!("sealed value is in the old format (not bound to its place); it is sealed again at start-up");
        };
        if rest.len() < 12 + 16 {
            anyhow::bail!("sealed value too short");
        }
        let (nonce, ct) = rest.split_at(12);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow::anyhow!(
                    "sealed value does not open here (another key, or it belongs to another row)"
                )
            })
    }

    /// Whether `sealed` is in the current format.
    pub fn is_current(sealed: &[u8]) -> bool {
        sealed.starts_with(MAGIC)
    }

    /// Opens a version-1 value (the master key itself, no associated data), to seal it again.
    pub fn open_legacy(&self, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < 12 + 16 {
            anyhow::bail!("sealed value too short");
        }
        let (nonce, ct) = sealed.split_at(12);
        self.legacy
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| anyhow::anyhow!("sealed value does not decrypt with this key"))
    }
}

/// Write a file readable only by its owner.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let s = Sealer::from_key(&[7u8; 32]);
        let aad = route_target_aad("ws_1", "slack_webhook");
        let sealed = s.seal(b"https://hooks.slack.com/services/T/B/x", &aad);
        assert!(
            !sealed.windows(5).any(|w| w == b"hooks"),
            "ciphertext must not contain plaintext"
        );
        assert_eq!(
            s.open(&sealed, &aad).expect("open"),
            b"https://hooks.slack.com/services/T/B/x"
        );
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(s.open(&bad, &aad).is_err());
        assert!(Sealer::from_key(&[8u8; 32]).open(&sealed, &aad).is_err());
    }

    #[test]
    fn a_sealed_value_opens_only_where_it_was_sealed() {
        let s = Sealer::from_key(&[7u8; 32]);
        let sealed = s.seal(b"secret target", &route_target_aad("ws_1", "webhook"));
        // Copied to another workspace's row, or read as another kind of route: refused.
        assert!(s
            .open(&sealed, &route_target_aad("ws_2", "webhook"))
            .is_err());
        assert!(s
            .open(&sealed, &route_target_aad("ws_1", "slack_webhook"))
            .is_err());
        assert!(s
            .open(&sealed, &route_target_aad("ws_1", "webhook"))
            .is_ok());
    }

    #[test]
    fn the_master_key_is_not_the_sealing_key() {
        // A value sealed with the master key itself (the old format, no binding) does not open
        // as a current value, only through the one-time re-sealing path.
        let key = [7u8; 32];
        let s = Sealer::from_key(&key);
        let nonce = [1u8; 12];
        let old = Aes256Gcm::new((&key).into())
            .encrypt(Nonce::from_slice(&nonce), b"legacy".as_slice())
            .expect("encrypt");
        let mut legacy = nonce.to_vec();
        legacy.extend(old);
        assert!(!Sealer::is_current(&legacy));
        assert!(s
            .open(&legacy, &route_target_aad("ws_1", "webhook"))
            .is_err());
        assert_eq!(s.open_legacy(&legacy).expect("legacy"), b"legacy");
        let mut forged = MAGIC.to_vec();
        forged.extend(&legacy);
        assert!(
            s.open(&forged, "").is_err(),
            "the master key must not open v2 values"
        );
    }

    #[test]
    fn key_file_is_created_private_and_reused_and_never_silently_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("master.key");
        let db = dir.path().join("convops.db");
        let a = Sealer::load(&p, true, &db).expect("create");
        let b = Sealer::load(&p, false, &db).expect("load");
        assert_eq!(b.open(&a.seal(b"x", "here"), "here").expect("open"), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_file(&p).expect("rm");
        let err = Sealer::load(&p, false, &db).expect_err("a missing key is refused");
        let text = err.to_string();
        assert!(
            text.contains("master.key") && text.contains("--new-secrets-key"),
            "{text}"
        );
        assert!(!p.exists(), "no key was created");
    }
}
