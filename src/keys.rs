//! Key and secret files: Ed25519 private keys as PKCS#8 PEM and the operator token, all
//! created with mode 0600 and refused when readable by group or others.
//!
//! Secrets never reach logs: [`ed25519_dalek::SigningKey`]'s `Debug` prints only the public
//! half, and nothing here logs file contents.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::OsRng;

/// File mode of every secret file traceseal writes.
pub const SECRET_FILE_MODE: u32 = 0o600;

/// Errors reading or writing key and secret files.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A secret file is readable or writable by group or others.
    #[error("{path} has mode {mode:o}; secret files must not be accessible by group or others (chmod 600)")]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not a PKCS#8 / SPKI PEM Ed25519 key.
    #[error("{path} is not an Ed25519 PEM key: {reason}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A new Ed25519 key from the OS CSPRNG.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut OsRng)
}

/// Writes `contents` to a new file with mode 0600 and fsyncs it; fails if the file exists.
pub fn write_secret_file(path: &Path, contents: &[u8]) -> Result<(), KeyFileError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(SECRET_FILE_MODE)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(contents).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// Fsyncs a directory, so that a file just created in it survives a crash or power loss.
pub fn sync_dir(path: &Path) -> Result<(), KeyFileError> {
    fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_err(path))
}

/// Reads a secret file, refusing one that group or others can access.
pub fn read_secret_file(path: &Path) -> Result<Vec<u8>, KeyFileError> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    fs::read(path).map_err(io_err(path))
}

/// Writes a private key as PKCS#8 PEM (mode 0600, readable by `openssl pkey`).
pub fn write_private_pem(path: &Path, key: &SigningKey) -> Result<(), KeyFileError> {
    // PKCS#8 v1 (RFC 8410 without the optional public key): the form OpenSSL 3.0 reads.
    let bytes = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let pem = bytes
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| KeyFileError::BadKey {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    write_secret_file(path, pem.as_bytes())
}

/// Reads a PKCS#8 PEM private key, refusing a file that group or others can access.
pub fn read_private_pem(path: &Path) -> Result<SigningKey, KeyFileError> {
    let bytes = read_secret_file(path)?;
    let text = String::from_utf8(bytes).map_err(|_| KeyFileError::BadKey {
        path: path.to_path_buf(),
        reason: "not UTF-8 text".into(),
    })?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| KeyFileError::BadKey {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// PEM text that is not an Ed25519 key.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// A `PUBLIC KEY` block that is not an Ed25519 SPKI key.
    #[error("not an Ed25519 SPKI public key: {0}")]
    PublicKey(ed25519_dalek::pkcs8::spki::Error),
    /// Anything else that is not an Ed25519 PKCS#8 private key.
    #[error("not an Ed25519 PKCS#8 key: {0}")]
    PrivateKey(ed25519_dalek::pkcs8::Error),
}

/// Decodes a public key from PEM text: an SPKI `PUBLIC KEY` or a PKCS#8 `PRIVATE KEY`
/// (whose public half is used).
pub fn public_key_from_pem(text: &str) -> Result<VerifyingKey, PemError> {
    if text.contains("-----BEGIN PUBLIC KEY-----") {
        VerifyingKey::from_public_key_pem(text).map_err(PemError::PublicKey)
    } else {
        SigningKey::from_pkcs8_pem(text)
            .map(|k| k.verifying_key())
            .map_err(PemError::PrivateKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        let k = generate();
        write_private_pem(&p, &k).unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = read_private_pem(&p).unwrap();
        assert_eq!(back.to_bytes(), k.to_bytes());
        assert!(write_private_pem(&p, &k).is_err(), "never overwrites");
        let text = fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(public_key_from_pem(&text).unwrap(), k.verifying_key());
    }

    #[test]
    fn refuses_world_readable_secret() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        write_secret_file(&p, b"x").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read_secret_file(&p),
            Err(KeyFileError::TooOpen { mode: 0o644, .. })
        ));
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let k = generate();
        let dbg = format!("{k:?}");
        let secret_hex: String = k.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert!(!dbg.contains(&secret_hex));
    }
}
