//! A streaming writer (and, for the CLI, a reader) of POSIX ustar archives: the output of PNG
//! and SVG print jobs, one file per label, extractable with `tar -xf` on Linux, macOS and
//! Windows 10+. Headers are the `tar` crate's; the framing is ours because print jobs stream
//! archives as byte chunks into an async response and the CLI reads them as they arrive,
//! where the crate's `Builder` and `Archive` want a blocking `Write` and `Read`.

/// Tar's block size.
pub const BLOCK: usize = 512;

/// The header and padded data of one regular file (the header is the `tar` crate's ustar
/// header; names longer than 100 bytes use its prefix field, as far as ustar allows).
pub fn entry(name: &str, data: &[u8], mtime: u64) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    if h.set_path(name).is_err() {
        // Our label names are short ASCII; a name ustar cannot hold is cut to its last 100 bytes.
        let tail = &name[name.len().saturating_sub(100)..];
        let _ = h.set_path(tail.trim_start_matches(|c: char| !c.is_ascii()));
    }
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime.min(0o77777777777));
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut out = Vec::with_capacity(BLOCK + data.len().next_multiple_of(BLOCK));
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.resize(BLOCK + data.len().next_multiple_of(BLOCK), 0);
    out
}

/// The end-of-archive marker (two zero blocks).
pub fn end() -> Vec<u8> {
    vec![0; 2 * BLOCK]
}

/// Reads a ustar stream incrementally: feed bytes, get whole files.
#[derive(Default)]
pub struct Reader {
    buf: Vec<u8>,
    /// The end marker was seen.
    pub ended: bool,
}

/// A malformed archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TarReadError {
    /// A header whose checksum or magic is wrong.
    #[error("not a ustar archive (bad header checksum)")]
    NotUstar,
    /// A size field that does not parse.
    #[error("bad size in tar header")]
    BadSize,
    /// An entry larger than memory allows.
    #[error("tar entry too large")]
    TooLarge,
    /// A name field that does not parse.
    #[error("bad name in tar header")]
    BadName,
}

impl Reader {
    /// Adds bytes; returns the files completed by them, or an error for a malformed archive.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, TarReadError> {
        self.buf.extend_from_slice(bytes);
        let mut files = Vec::new();
        let mut at = 0;
        while !self.ended && self.buf.len() - at >= BLOCK {
            let h = &self.buf[at..at + BLOCK];
            if h.iter().all(|&b| b == 0) {
                if self.buf.len() - at >= 2 * BLOCK {
                    self.ended = true;
                    at += 2 * BLOCK;
                }
                break;
            }
            let sum: u32 = h[..148]
                .iter()
                .chain(&[b' '; 8])
                .chain(&h[156..])
                .map(|&b| u32::from(b))
                .sum();
            let oct = |b: &[u8]| {
                let s = String::from_utf8_lossy(b);
                u64::from_str_radix(s.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok()
            };
            if oct(&h[148..156]) != Some(u64::from(sum)) || &h[257..262] != b"ustar" {
                return Err(TarReadError::NotUstar);
            }
            let header = tar::Header::from_byte_slice(h);
            let size = header.entry_size().map_err(|_| TarReadError::BadSize)?;
            let size = usize::try_from(size).map_err(|_| TarReadError::TooLarge)?;
            let total = size
                .checked_next_multiple_of(BLOCK)
                .and_then(|n| n.checked_add(BLOCK))
                .ok_or(TarReadError::TooLarge)?;
            if self.buf.len() - at < total {
                break;
            }
            let name = header
                .path()
                .map_err(|_| TarReadError::BadName)?
                .to_string_lossy()
                .into_owned();
            files.push((name, self.buf[at + BLOCK..at + BLOCK + size].to_vec()));
            at += total;
        }
        self.buf.drain(..at);
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_small_pieces_and_with_system_tar() {
        let mut archive = entry("000001-A.png", b"hello", 1_700_000_000);
        archive.extend(entry("000002-B.svg", &[7u8; 1000], 1_700_000_000));
        archive.extend(end());
        let mut r = Reader::default();
        let mut files = Vec::new();
        for piece in archive.chunks(100) {
            files.extend(r.feed(piece).unwrap());
        }
        assert!(r.ended);
        assert_eq!(files[0], ("000001-A.png".to_string(), b"hello".to_vec()));
        assert_eq!(files[1].1.len(), 1000);
        // The system's tar lists it.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.tar");
        std::fs::write(&p, &archive).unwrap();
        let out = std::process::Command::new("tar")
            .arg("-tf")
            .arg(&p)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "000001-A.png\n000002-B.svg\n"
        );
        // The tar crate's reader lists it too, with a long name in the prefix field.
        let long = format!("{}/000003-C.png", "d".repeat(120));
        let mut two = archive[..archive.len() - 2 * BLOCK].to_vec();
        two.extend(entry(&long, b"x", 0));
        two.extend(end());
        let names: Vec<String> = tar::Archive::new(&two[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["000001-A.png", "000002-B.svg", long.as_str()]);
        let mut r = Reader::default();
        assert_eq!(r.feed(&two).unwrap()[2].0, long);
        let mut bad = archive.clone();
        bad[0] ^= 1;
        assert!(Reader::default().feed(&bad).is_err());
    }

    proptest::proptest! {
        /// The reader (the CLI feeds it what the server streams) never panics: arbitrary
        /// bytes, and valid archives with arbitrary corruption, fed in arbitrary pieces.
        #[test]
        fn the_reader_never_panics(
            junk in proptest::collection::vec(proptest::num::u8::ANY, 0..3000),
            flips in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 0..8),
            piece in 1usize..700,
        ) {
            let mut r = Reader::default();
            for p in junk.chunks(piece) {
                if r.feed(p).is_err() {
                    break;
                }
            }
            let mut archive = entry("a.png", &junk, 0);
            archive.extend(end());
            for (at, b) in flips {
                let i = at % archive.len();
                archive[i] ^= b;
            }
            let mut r = Reader::default();
            for p in archive.chunks(piece) {
                if r.feed(p).is_err() {
                    break;
                }
            }
        }
    }
}
