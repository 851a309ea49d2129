//! Published certificates: the files (PDF, PNG, JPEG) behind the documents of an origin
//! attestation, which the inspector who signed it chose to publish.
//!
//! Content-addressed: a file is stored under the SHA-256 its signed record already names, so
//! the record is the file's proof and anyone holding the file can check it against the log.
//! Only the record's signer may publish (a signed actor request, authenticated at the edge by
//! custody), only a file whose hash is among that record's documents, at most
//! [`MAX_CERTIFICATE_BYTES`], and only PDF, PNG or JPEG by the file's first bytes: the store
//! holds nothing but what registered inspectors signed for. Publishing again is harmless
//! (the same bytes under the same key).
//!
//! Schema: `certificates` (SHA-256, 32 bytes → the file's bytes); `certificate_records`
//! (SHA-256 ‖ leaf index u64 BE → JSON [`Publication`]). Both rows go in one synced write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::base::Result;
use super::errors::rfc3339;
use super::errors::CertificateError;
use super::log::LogBook;
use crate::custody::event::Event;
use crate::custody::record::{hex, SignedStatement, CUSTODY_V2};
use crate::store::schema::{certificate_record_key, decode_json, encode_json};
use crate::store::{prefix_end, Cf, Durability, Store, WriteBatch};

/// Largest file that may be published: 5 MiB (a scanned certificate or a phone photo).
pub const MAX_CERTIFICATE_BYTES: usize = 5 * 1024 * 1024;

/// The kinds of file that may be published, told by their first bytes (never by a name or a
/// declared type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// `%PDF-`.
    Pdf,
    /// The PNG signature.
    Png,
    /// A JPEG start-of-image marker.
    Jpeg,
}

impl FileType {
    /// The type of `bytes`, by their magic number.
    pub fn sniff(bytes: &[u8]) -> Option<FileType> {
        if bytes.starts_with(b"%PDF-") {
            Some(FileType::Pdf)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(FileType::Png)
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(FileType::Jpeg)
        } else {
            None
        }
    }

    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Png => "image/png",
            FileType::Jpeg => "image/jpeg",
        }
    }

    /// Its file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Png => "png",
            FileType::Jpeg => "jpg",
        }
    }
}

/// A file published under a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Publication {
    /// SHA-256 of the file, hex (as in the record's documents).
    pub sha256: String,
    /// Leaf index of the origin attestation naming it.
    pub record: u64,
    /// The actor that signed the record and published the file.
    pub actor: String,
    /// The document's name in the record.
    pub name: String,
    /// `application/pdf`, `image/png` or `image/jpeg` (by the file's first bytes).
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was published (RFC 3339).
    pub published_at: String,
    /// Where anyone can fetch it: `/certificates/{sha256}`.
    pub url: String,
}

/// What [`Certificates::publish`] did.
#[derive(Clone, Debug)]
pub struct Published {
    /// The publication (the earlier one when it was already published under the record).
    pub publication: Publication,
    /// False when the file was already published under the record (nothing was written).
    pub created: bool,
}

/// A publish request, the signer already authenticated.
#[derive(Clone, Copy, Debug)]
pub struct Upload<'a> {
    /// The authenticated actor.
    pub actor: &'a str,
    /// The hash the path names.
    pub sha256: &'a str,
    /// The record's leaf index.
    pub record: u64,
    /// The file.
    pub body: &'a [u8],
    /// Unix seconds now.
    pub now: i64,
}

/// A published file, to serve.
#[derive(Clone, Debug)]
pub struct CertificateFile {
    /// Its type.
    pub file_type: FileType,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Published certificates.
pub struct Certificates {
    store: Arc<dyn Store>,
    log: Arc<LogBook>,
    /// Moves on every new publication (the scan page's cached lot views depend on it).
    generation: AtomicU64,
}

/// Parses a hash from a path: 64 lowercase hex characters.
pub fn parse_sha256(s: &str) -> Result<[u8; 32], CertificateError> {
    let bad = || CertificateError::BadHash {
        given: s.chars().take(80).collect(),
    };
    if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl Certificates {
    /// The unit over `store`, reading records from `log`.
    pub fn new(store: Arc<dyn Store>, log: Arc<LogBook>) -> Certificates {
        Certificates {
            store,
            log,
            generation: AtomicU64::new(0),
        }
    }

    /// How many publications this process has made (a cache key for views that show them).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Publishes `up.body` under record `up.record`: checks the record (an origin attestation
    /// signed by `up.actor` naming the hash), then the file (size, hash, type), then writes
    /// the file and the publication in one synced write.
    pub fn publish(&self, up: Upload<'_>) -> Result<Published> {
        let sha = parse_sha256(up.sha256)?;
        let name = self.document_name(up.actor, up.sha256, up.record)?;
        let key = certificate_record_key(&sha, up.record);
        if let Some(v) = self.store.get(Cf::CertificateRecords, &key)? {
            let publication = decode_json("certificate publication", &v)?;
            return Ok(Published {
                publication,
                created: false,
            });
        }
        let file_type = check_file(up.sha256, up.body)?;
        let publication = Publication {
            sha256: up.sha256.to_string(),
            record: up.record,
            actor: up.actor.to_string(),
            name,
            media_type: file_type.media_type().to_string(),
            size: up.body.len() as u64,
            published_at: rfc3339(up.now),
            url: format!("/certificates/{}", up.sha256),
        };
        let mut batch = WriteBatch::new();
        // Published under another record already: the same bytes are stored (not read back).
        if !self.published(&[up.sha256])?[0] {
            batch.put(Cf::Certificates, sha.to_vec(), up.body.to_vec());
        }
        batch.put(Cf::CertificateRecords, key, encode_json(&publication));
        self.store.write(batch, Durability::Synced)?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        tracing::info!(sha256 = %up.sha256, record = up.record, actor = %up.actor, size = up.body.len(), "certificate published");
        Ok(Published {
            publication,
            created: true,
        })
    }

    /// The name record `record` gives the document `sha256`, when the record is an origin
    /// attestation signed by `actor` that names it.
    fn document_name(&self, actor: &str, sha256: &str, record: u64) -> Result<String> {
        if record >= self.log.log_size()? {
            return Err(CertificateError::NoSuchRecord { record }.into());
        }
        let data = self.log.leaf_data(record)?;
        let not_attestation = || CertificateError::NotAnAttestation { record };
        let text = std::str::from_utf8(&data).map_err(|_| not_attestation())?;
        if !text.starts_with(CUSTODY_V2) {
            return Err(not_attestation().into());
        }
        let signed = SignedStatement::parse_leaf(text).map_err(|_| not_attestation())?;
        let st = &signed.checked.statement;
        // Origin attestations and sampling inspections name their documents.
        let documents = match &st.event {
            Event::OriginAttestation(a) => &a.documents,
            Event::Sampling(s) => &s.documents,
            _ => return Err(not_attestation().into()),
        };
        if st.actor != actor {
            return Err(CertificateError::NotYourRecord {
                record,
                signer: st.actor.clone(),
            }
            .into());
        }
        documents
            .iter()
            .find(|d| d.sha256 == sha256)
            .map(|d| d.name.clone())
            .ok_or_else(|| {
                CertificateError::NotInRecord {
                    record,
                    sha256: sha256.to_string(),
                }
                .into()
            })
    }

    /// The published file with this hash.
    pub fn file(&self, sha256: &str) -> Result<CertificateFile> {
        let sha = parse_sha256(sha256)?;
        let not_found = || CertificateError::NotFound {
            sha256: sha256.to_string(),
        };
        let bytes = self
            .store
            .get(Cf::Certificates, &sha)?
            .ok_or_else(not_found)?;
        let file_type = FileType::sniff(&bytes).ok_or_else(not_found)?;
        Ok(CertificateFile { file_type, bytes })
    }

    /// The publications of the file with this hash, by record (at most 100).
    pub fn publications(&self, sha256: &str) -> Result<Vec<Publication>> {
        let sha = parse_sha256(sha256)?;
        let end = prefix_end(&sha);
        self.store
            .range(Cf::CertificateRecords, &sha, end.as_deref(), 100)?
            .iter()
            .map(|(_, v)| Ok(decode_json("certificate publication", v)?))
            .collect()
    }

    /// Which of `hashes` (hex, as in records) are published: one key-range read each, no
    /// file read.
    pub fn published(&self, hashes: &[&str]) -> Result<Vec<bool>> {
        hashes
            .iter()
            .map(|h| {
                let Ok(sha) = parse_sha256(h) else {
                    return Ok(false);
                };
                let end = prefix_end(&sha);
                Ok(!self
                    .store
                    .range(Cf::CertificateRecords, &sha, end.as_deref(), 1)?
                    .is_empty())
            })
            .collect()
    }
}

/// The file's type when it is within the cap, hashes to `sha256` and is a PDF, PNG or JPEG.
fn check_file(sha256: &str, body: &[u8]) -> Result<FileType, CertificateError> {
    if body.len() > MAX_CERTIFICATE_BYTES {
        return Err(CertificateError::TooLarge {
            size: body.len() as u64,
            max: MAX_CERTIFICATE_BYTES as u64,
        });
    }
    let actual = hex(&Sha256::digest(body));
    if actual != sha256 {
        return Err(CertificateError::HashMismatch {
            named: sha256.to_string(),
            actual,
        });
    }
    FileType::sniff(body).ok_or_else(|| CertificateError::UnsupportedType {
        start: hex(&body[..body.len().min(8)]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::event::{Attestation, DocumentRef};
    use crate::custody::record::Conformance;
    use crate::custody::Role;
    use crate::service::custody::tests::{cast, GTIN};
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::{ErrorKind, Service};

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const TEXT: &[u8] = b"<html><script>alert(1)</script></html>";

    fn sha(b: &[u8]) -> String {
        hex(&Sha256::digest(b))
    }

    fn doc(name: &str, b: &[u8]) -> DocumentRef {
        DocumentRef {
            name: name.into(),
            sha256: sha(b),
        }
    }

    /// An attestation naming `docs`, by the inspector of a fresh cast; its leaf index.
    fn attested(
        svc: &Service,
        docs: Vec<DocumentRef>,
    ) -> (u64, crate::service::custody::tests::Cast) {
        seed(svc);
        let c = cast(svc);
        let event = Event::OriginAttestation(Attestation {
            certificate_no: "AQIS-7".into(),
            origin_country: "AU".into(),
            producer: "Gippsland Dairy".into(),
            inspection_date: "2026-11-01".into(),
            result: Conformance::Conformant,
            documents: docs,
        });
        let a = c
            .submit(svc, Role::Inspector, &format!("{GTIN}.C1"), event, vec![])
            .unwrap();
        (a.leaf_index, c)
    }

    fn up<'a>(actor: &'a str, sha256: &'a str, record: u64, body: &'a [u8]) -> Upload<'a> {
        Upload {
            actor,
            sha256,
            record,
            body,
            now: 1_800_000_000,
        }
    }

    #[test]
    fn the_signer_publishes_a_document_of_its_attestation_once() {
        let (svc, _) = test_service();
        let (rec, c) = attested(&svc, vec![doc("cert.pdf", PDF), doc("photo.png", PNG)]);
        let inspector = c.keys[&Role::Inspector].0.clone();
        let certs = svc.certificates();
        let g0 = certs.generation();
        let p = certs.publish(up(&inspector, &sha(PDF), rec, PDF)).unwrap();
        assert!(p.created);
        assert_eq!(p.publication.name, "cert.pdf");
        assert_eq!(p.publication.media_type, "application/pdf");
        assert_eq!(p.publication.size, PDF.len() as u64);
        assert_eq!(p.publication.url, format!("/certificates/{}", sha(PDF)));
        assert_eq!(certs.generation(), g0 + 1);
        let again = certs.publish(up(&inspector, &sha(PDF), rec, PDF)).unwrap();
        assert!(!again.created);
        assert_eq!(again.publication, p.publication);
        assert_eq!(certs.generation(), g0 + 1, "nothing new was written");
        let f = certs.file(&sha(PDF)).unwrap();
        assert_eq!((f.file_type, f.bytes.as_slice()), (FileType::Pdf, PDF));
        assert_eq!(certs.publications(&sha(PDF)).unwrap(), vec![p.publication]);
        let (pdf, png) = (sha(PDF), sha(PNG));
        assert_eq!(
            certs.published(&[&pdf, &png, "nonsense"]).unwrap(),
            vec![true, false, false]
        );
    }

    #[test]
    fn refusals_say_why_and_store_nothing() {
        let (svc, _) = test_service();
        let big = {
            let mut b = b"%PDF-1.4\n".to_vec();
            b.resize(MAX_CERTIFICATE_BYTES + 1, b' ');
            b
        };
        let docs = vec![
            doc("cert.pdf", PDF),
            doc("page.html", TEXT),
            doc("big.pdf", &big),
        ];
        let (rec, c) = attested(&svc, docs);
        let inspector = c.keys[&Role::Inspector].0.clone();
        let carrier = c.keys[&Role::Carrier].0.clone();
        let certs = svc.certificates();
        let (pdf, png, text, bigh) = (sha(PDF), sha(PNG), sha(TEXT), sha(&big));
        let product_leaf = 0;
        let upper = pdf.to_uppercase();
        let cases: Vec<(Upload<'_>, &str, ErrorKind)> = vec![
            (
                up(&inspector, "ABC", rec, PDF),
                "certificate.bad_hash",
                ErrorKind::Invalid,
            ),
            (
                up(&inspector, &upper, rec, PDF),
                "certificate.bad_hash",
                ErrorKind::Invalid,
            ),
            (
                up(&carrier, &pdf, rec, PDF),
                "certificate.not_your_record",
                ErrorKind::Forbidden,
            ),
            (
                up(&inspector, &png, rec, PNG),
                "certificate.not_in_record",
                ErrorKind::Unprocessable,
            ),
            (
                up(&inspector, &pdf, 1 << 40, PDF),
                "certificate.no_such_record",
                ErrorKind::NotFound,
            ),
            (
                up(&inspector, &pdf, product_leaf, PDF),
                "certificate.not_an_attestation",
                ErrorKind::Unprocessable,
            ),
            (
                up(&inspector, &pdf, rec, PNG),
                "certificate.hash_mismatch",
                ErrorKind::Unprocessable,
            ),
            (
                up(&inspector, &text, rec, TEXT),
                "certificate.unsupported_type",
                ErrorKind::UnsupportedType,
            ),
            (
                up(&inspector, &bigh, rec, &big),
                "certificate.too_large",
                ErrorKind::TooLarge,
            ),
        ];
        for (u, code, kind) in cases {
            let e = certs.publish(u).unwrap_err();
            assert_eq!((e.code().as_str(), e.kind()), (code, kind), "{e}");
        }
        for h in [&pdf, &png, &text, &bigh] {
            let e = certs.file(h).unwrap_err();
            assert_eq!(e.code(), "certificate.not_found");
            assert!(certs.publications(h).unwrap().is_empty());
        }
        assert_eq!(certs.generation(), 0);
    }

    proptest::proptest! {
        /// Any path segment: refused unless it is 64 lowercase hex, which round-trips.
        #[test]
        fn any_hash_text_parses_or_is_refused(s in "[0-9a-fA-F]{0,70}|\\PC{0,80}") {
            match parse_sha256(&s) {
                Ok(b) => proptest::prop_assert_eq!(hex(&b), s),
                Err(e) => proptest::prop_assert_eq!(e.code(), "bad_hash"),
            }
        }

        /// Any bytes: a type only for the three magic numbers.
        #[test]
        fn sniffing_any_bytes_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..16)) {
            let t = FileType::sniff(&b);
            proptest::prop_assert_eq!(t.is_some(), b.starts_with(b"%PDF-") || b.starts_with(b"\x89PNG\r\n\x1a\n") || b.starts_with(&[0xff, 0xd8, 0xff]));
        }
    }

    #[test]
    fn types_are_told_by_first_bytes_and_hashes_must_be_lowercase_hex() {
        assert_eq!(FileType::sniff(PDF), Some(FileType::Pdf));
        assert_eq!(FileType::sniff(PNG), Some(FileType::Png));
        assert_eq!(
            FileType::sniff(&[0xff, 0xd8, 0xff, 0xe0]),
            Some(FileType::Jpeg)
        );
        assert_eq!(FileType::sniff(TEXT), None);
        assert_eq!(FileType::sniff(b""), None);
        assert!(parse_sha256(&sha(PDF)).is_ok());
        for bad in [
            "",
            "00",
            &"g".repeat(64),
            &"0".repeat(63),
            &"A".repeat(64),
            &"0".repeat(65),
        ] {
            assert!(parse_sha256(bad)
                .unwrap_err()
                .to_string()
                .contains("SHA-256"));
        }
    }
}
