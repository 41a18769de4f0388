//! Encryption at rest for secrets the control plane must be able to read back (webhook URLs,
//! bot tokens): AES-256-GCM with a random 96-bit nonce per value, stored as `nonce || ciphertext`.
//!
//! The 32-byte key comes from a key file (created with mode 0600 in the data directory on first
//! start when none is configured). It is never logged and never stored in the database.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
    key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Sealer {
            cipher: Aes256Gcm::new(key.into()),
            key: *key,
        }
    }

    /// Load the key file, creating it (0600) with a random key when it does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            let key: [u8; 32] = rand::random();
            write_private(path, hex::encode(key).as_bytes())?;
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading key file {}: {e}", path.display()))?;
        let bytes = hex::decode(text.trim())
            .map_err(|_| anyhow::anyhow!("key file {}: not 64 hex characters", path.display()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("key file {}: key must be 32 bytes", path.display()))?;
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

    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; 12] = rand::random();
        let mut out = nonce_bytes.to_vec();
        // Encryption with a valid key and in-memory buffers does not fail.
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce_bytes), plaintext)
            .unwrap_or_default();
        out.extend(ct);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < 12 + 16 {
            anyhow::bail!("sealed value too short");
        }
        let (nonce, ct) = sealed.split_at(12);
        self.cipher
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
        let sealed = s.seal(b"https://hooks.slack.com/services/T/B/x");
        assert!(
            !sealed.windows(5).any(|w| w == b"hooks"),
            "ciphertext must not contain plaintext"
        );
        assert_eq!(
            s.open(&sealed).expect("open"),
            b"https://hooks.slack.com/services/T/B/x"
        );
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(s.open(&bad).is_err());
        assert!(Sealer::from_key(&[8u8; 32]).open(&sealed).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("master.key");
        let a = Sealer::load_or_create(&p).expect("create");
        let b = Sealer::load_or_create(&p).expect("load");
        assert_eq!(b.open(&a.seal(b"x")).expect("open"), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
