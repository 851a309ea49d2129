//! The anchoring key: a secp256k1 private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`,
//! readable by `openssl pkey`), mode 0600, refused when group or others can read it. Its
//! address is the contract's `anchorer`. Never logged: only the address is printed.

use std::path::Path;

use alloy::signers::local::PrivateKeySigner;
use k256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use k256::SecretKey;

use crate::keys::{read_secret_file, write_secret_file};

/// Why the anchoring key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum AnchorKeyError {
    /// The file could not be read or written, or its mode is too open.
    #[error(transparent)]
    File(#[from] crate::keys::KeyFileError),
    /// A new key could not be encoded.
    #[error("encoding the anchoring key: {0}")]
    Encode(k256::pkcs8::Error),
    /// The file is not UTF-8 PEM.
    #[error("{0}: not a PEM file")]
    NotPem(std::path::PathBuf),
    /// The PEM is not a secp256k1 PKCS#8 private key.
    #[error("{path} is not a secp256k1 PKCS#8 PEM private key: {source}")]
    NotSecp256k1 {
        /// The file.
        path: std::path::PathBuf,
        /// What the decoder said.
        source: k256::pkcs8::Error,
    },
}

/// Creates a new anchoring key file (fails if it exists).
pub fn generate(path: &Path) -> Result<PrivateKeySigner, AnchorKeyError> {
    let secret = SecretKey::random(&mut rand_core::OsRng);
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(AnchorKeyError::Encode)?;
    write_secret_file(path, pem.as_bytes())?;
    Ok(PrivateKeySigner::from_signing_key(secret.into()))
}

/// Reads an anchoring key file (checks its mode).
pub fn load(path: &Path) -> Result<PrivateKeySigner, AnchorKeyError> {
    let bytes = read_secret_file(path)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| AnchorKeyError::NotPem(path.to_path_buf()))?;
    let secret =
        SecretKey::from_pkcs8_pem(text).map_err(|source| AnchorKeyError::NotSecp256k1 {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(PrivateKeySigner::from_signing_key(secret.into()))
}

/// Loads the key, creating it first when `create` is set and the file does not exist.
pub fn load_or_generate(path: &Path, create: bool) -> Result<PrivateKeySigner, AnchorKeyError> {
    if create && !path.exists() {
        generate(path)
    } else {
        load(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trip_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("anchor.pem");
        let a = generate(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = load(&p).unwrap();
        assert_eq!(a.address(), b.address());
        assert!(std::fs::read_to_string(&p)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(generate(&p).is_err(), "never overwrites a key");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(&p).unwrap_err();
        assert!(matches!(
            e,
            AnchorKeyError::File(crate::keys::KeyFileError::TooOpen { mode: 0o644, .. })
        ));
        assert!(e.to_string().contains("chmod 600"));
    }

    #[test]
    fn rejects_an_ed25519_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ed.pem");
        crate::keys::write_private_pem(&p, &crate::keys::generate()).unwrap();
        let e = load(&p).unwrap_err();
        assert!(matches!(e, AnchorKeyError::NotSecp256k1 { .. }));
        assert!(e.to_string().contains("secp256k1"));
    }
}
