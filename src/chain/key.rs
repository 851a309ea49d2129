//! The anchoring key: a secp256k1 private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`,
//! readable by `openssl pkey`), mode 0600, refused when group or others can read it. Its
//! address is the contract's `anchorer`. Never logged: only the address is printed.

use std::path::Path;

use alloy::signers::local::PrivateKeySigner;
use k256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use k256::SecretKey;

use crate::keys::{read_secret_file, write_secret_file};

/// Creates a new anchoring key file (fails if it exists).
pub fn generate(path: &Path) -> Result<PrivateKeySigner, String> {
    let secret = SecretKey::random(&mut rand_core::OsRng);
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("encoding the anchoring key: {e}"))?;
    write_secret_file(path, pem.as_bytes()).map_err(|e| e.to_string())?;
    Ok(PrivateKeySigner::from_signing_key(secret.into()))
}

/// Reads an anchoring key file (checks its mode).
pub fn load(path: &Path) -> Result<PrivateKeySigner, String> {
    let bytes = read_secret_file(path).map_err(|e| e.to_string())?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| format!("{}: not a PEM file", path.display()))?;
    let secret = SecretKey::from_pkcs8_pem(text).map_err(|e| {
        format!(
            "{} is not a secp256k1 PKCS#8 PEM private key: {e}",
            path.display()
        )
    })?;
    Ok(PrivateKeySigner::from_signing_key(secret.into()))
}

/// Loads the key, creating it first when `create` is set and the file does not exist.
pub fn load_or_generate(path: &Path, create: bool) -> Result<PrivateKeySigner, String> {
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
        assert!(load(&p).unwrap_err().contains("chmod 600"));
    }

    #[test]
    fn rejects_an_ed25519_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ed.pem");
        crate::keys::write_private_pem(&p, &crate::keys::generate()).unwrap();
        assert!(load(&p).unwrap_err().contains("secp256k1"));
    }
}
