//! The deployment's Ed25519 signing key: created on first use beside the
//! keyring (a file of mode 0600 holding the 32-byte seed in hex), never in
//! the catalog. It signs ledger checkpoints (and report manifests). An
//! auditor gets the public key or its fingerprint (`coffer keys public`).

use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::key_file::{io, write_new};

/// The signing key, loaded.
pub struct KeyPair {
    key: SigningKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// Loads the key at `path`, creating it first if there is none.
    ///
    /// # Errors
    /// When the file cannot be read or written, or holds no key.
    pub fn load_or_create(path: &Path) -> Result<KeyPair> {
        if !path.exists() {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut()).map_err(|e| Error::Random(e.to_string()))?;
            // Another process may create it first: then theirs is used.
            write_new(path, &seed)?;
        }
        KeyPair::load(path)
    }

    /// Loads the key at `path`.
    ///
    /// # Errors
    /// When the file cannot be read or holds no key.
    pub fn load(path: &Path) -> Result<KeyPair> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io(path))?);
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), seed.as_mut()).map_err(|_| Error::BadKey {
            path: path.to_path_buf(),
        })?;
        Ok(KeyPair {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The 32-byte seed (for an encrypted export of the home's keys).
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    /// Installs `seed` as the key at `path` (from an export). An existing
    /// different key is replaced only with `replace`: reports it signed
    /// would then verify only against its own public key.
    ///
    /// # Errors
    /// A seed that is not 32 bytes; a different key there without
    /// `replace`; IO errors.
    pub fn install(path: &Path, seed: &[u8], replace: bool) -> Result<KeyPair> {
        let seed: [u8; 32] = seed.try_into().map_err(|_| Error::BadSeed)?;
        let wanted = KeyPair {
            key: SigningKey::from_bytes(&seed),
        };
        if path.exists() {
            let present = KeyPair::load(path)?;
            if present.public() == wanted.public() {
                return Ok(present);
            }
            if !replace {
                return Err(Error::OtherKey {
                    path: path.to_path_buf(),
                    present: present.fingerprint(),
                    imported: wanted.fingerprint(),
                });
            }
            std::fs::remove_file(path).map_err(io(path))?;
        }
        write_new(path, &seed)?;
        // What is there now (another process may have written first).
        let present = KeyPair::load(path)?;
        if present.public() != wanted.public() {
            return Err(Error::OtherKey {
                path: path.to_path_buf(),
                present: present.fingerprint(),
                imported: wanted.fingerprint(),
            });
        }
        Ok(present)
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }

    pub fn fingerprint(&self) -> String {
        self.public().fingerprint()
    }

    /// Signs `message`; the raw 64-byte signature.
    pub fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Signs `message`; the signature in hex.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.key.sign(message).to_bytes())
    }
}

/// The DER header of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4).
const SPKI_PREFIX: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A public key, as handed to auditors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// The key from its 64 hex digits.
    ///
    /// # Errors
    /// When the text is not an Ed25519 public key.
    pub fn from_hex(text: &str) -> Result<PublicKey> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| Error::BadPublicKey)?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| Error::BadPublicKey)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// The key as a PEM SubjectPublicKeyInfo (RFC 8410), for `openssl`.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.0.as_bytes());
        let body = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
        format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")
    }

    /// The key from [`PublicKey::to_pem`]'s form.
    ///
    /// # Errors
    /// When the text is not an Ed25519 public key in PEM.
    pub fn from_pem(text: &str) -> Result<PublicKey> {
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body.trim())
            .map_err(|_| Error::BadPublicKey)?;
        let key = der.strip_prefix(SPKI_PREFIX).ok_or(Error::BadPublicKey)?;
        PublicKey::from_hex(&hex::encode(key))
    }

    /// Whether the raw 64-byte `signature` signs `message`.
    pub fn verifies_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.0
            .verify(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }

    /// `SHA256:` and the hex SHA-256 of the 32 key bytes.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", hex::encode(Sha256::digest(self.0.as_bytes())))
    }

    /// Whether `signature` (hex) signs `message` with this key.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let mut bytes = [0u8; 64];
        if hex::decode_to_slice(signature.trim(), &mut bytes).is_err() {
            return false;
        }
        self.0
            .verify(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_private_and_signs_what_it_verifies() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("signing.key");
        let key = KeyPair::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
        let again = KeyPair::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.public(), again.public(), "created once");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{e}"))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let signature = key.sign(b"tree 3");
        let public = PublicKey::from_hex(&key.public().to_hex()).unwrap_or_else(|e| panic!("{e}"));
        assert!(public.verifies(b"tree 3", &signature));
        assert!(!public.verifies(b"tree 4", &signature));
        assert!(
            format!("{key:?}").contains("SHA256:"),
            "Debug shows only the fingerprint"
        );
    }
}
