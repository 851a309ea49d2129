//! Commitments and item references against an outside implementation: the Python snippet
//! of `docs/code-format.md` (hashlib, base64), run by the machine's `python3`, computes the same
//! values as `traceseal::commitment` for freshly signed codes.

use std::io::Write;
use std::process::{Command, Stdio};

use traceseal::code::{Code, Host, ItemId, KeyId};
use traceseal::commitment::{Commitment, ItemRef};
use traceseal::gs1::{Gtin, Lot, Serial};

/// The snippet from docs/code-format.md, reading one code per line.
const PYTHON: &str = r#"
import base64, hashlib, sys
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def commitment(uri): return b64u(hashlib.sha256(b"traceseal/commitment/v1\n" + uri.encode()).digest())
def item_ref(uri):   return b64u(hashlib.sha256(b"traceseal/item-ref/v1\n" + uri.encode()).digest())
for line in sys.stdin.read().splitlines():
    print(commitment(line), item_ref(line))
"#;

#[test]
fn python_computes_the_same_commitments_and_item_references() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/code-format.md"))
        .unwrap();
    for line in PYTHON.lines().filter(|l| l.starts_with("def ")) {
        assert!(
            doc.contains(line),
            "the snippet in the docs changed: {line}"
        );
    }
    let key = traceseal::keys::generate();
    let kid = KeyId::of(&key.verifying_key());
    let host = Host::parse("verify.example.com").unwrap();
    let codes: Vec<Code> = (0..50)
        .map(|i| {
            let item = ItemId {
                gtin: Gtin::parse("09506000134352").unwrap(),
                lot: Lot::parse(&format!("L{i}")).unwrap(),
                serial: Serial::random(),
                expiry: None,
            };
            Code::sign(&host, &item, kid, &key)
        })
        .collect();
    let mut child = Command::new("python3")
        .args(["-c", PYTHON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (Debian's, on every machine of this kind)");
    let input: String = codes.iter().map(|c| format!("{c}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), codes.len());
    for (c, line) in codes.iter().zip(lines) {
        let want = format!("{} {}", Commitment::of(c), ItemRef::of(c));
        assert_eq!(line, want, "{c}");
    }
}
