//! Shared helpers for the integration tests: a real in-process server over RocksDB in a temp
//! dir, and a spawned `traceseal` binary for crash and CLI tests.
#![allow(dead_code)]

pub mod browser;
pub mod console;
pub mod seed;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use traceseal::chain::ChainClient;
use traceseal::code::Host;
use traceseal::config::Config;
use traceseal::http::{self, AppState};
use traceseal::service::anchoring::{AnchorSlot, Anchorer};
use traceseal::service::setup::{self, DataDir, OpenOptions};

/// A USCC with a valid check character.
pub const USCC: &str = "91350100M000100Y43";
/// A GTIN-14 with a valid check digit.
pub const GTIN: &str = "09506000134352";

/// An in-process server on 127.0.0.1:0 over RocksDB in a temp dir.
pub struct TestServer {
    pub base: String,
    pub token: String,
    pub dir: tempfile::TempDir,
    pub state: Arc<AppState>,
    pub client: reqwest::Client,
    pub anchorer: Option<Arc<Anchorer<ChainClient>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(cfg: Config) -> TestServer {
        Self::start_inner(cfg, None).await
    }

    /// A server that anchors on the node at `rpc_url` (an anvil the test started): the
    /// anchoring key is created in the data dir and funded, the contract deployed.
    pub async fn start_anchored(mut cfg: Config, rpc_url: &str) -> TestServer {
        cfg.chain.enabled = true;
        cfg.chain.rpc_url = rpc_url.to_string();
        Self::start_inner(cfg, Some(())).await
    }

    async fn start_inner(mut cfg: Config, chain: Option<()>) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::new(dir.path().join("data"));
        let host = Host::parse(&cfg.public_host).unwrap();
        setup::init(&dd, &host).unwrap();
        let svc = Arc::new(setup::open(&dd, OpenOptions::from_config(host, &cfg)).unwrap());
        let token = std::fs::read_to_string(dd.admin_token())
            .unwrap()
            .trim()
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        cfg.listen = addr;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut anchorer = None;
        let state = match chain {
            Some(()) => {
                let key = dd.keys().join("anchor.pem");
                let signer = traceseal::chain::key::generate(&key).unwrap();
                let reader = traceseal::chain::Reader::connect(
                    &cfg.chain.rpc_url,
                    [0; 20],
                    Duration::from_secs(5),
                )
                .await
                .unwrap();
                reader
                    .anvil_set_balance(signer.address().0 .0, 10u128.pow(21))
                    .await
                    .unwrap();
                let rt = traceseal::wiring::start_chain(&dd, &cfg.chain, svc.clone())
                    .await
                    .unwrap();
                let a = rt.anchorer.clone();
                tokio::spawn(a.clone().run(stop_rx));
                anchorer = Some(a.clone());
                AppState::with_anchor(svc, &token, cfg, AnchorSlot::ready(a))
            }
            None => AppState::new(svc, &token, cfg),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let task = tokio::spawn(async move {
            http::serve(st, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
            let _ = stop_tx.send(true);
        });
        TestServer {
            base: format!("http://{addr}"),
            token,
            dir,
            state,
            client: reqwest::Client::new(),
            anchorer,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    /// POSTs `body` to `path` `n` times from one client; the statuses, each 429 checked to
    /// carry Retry-After and a problem+json body.
    pub async fn flood(&self, path: &str, body: &Value, n: usize) -> Vec<u16> {
        let mut statuses = Vec::new();
        for _ in 0..n {
            let r = self
                .client
                .post(self.url(path))
                .json(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            if status == 429 {
                assert!(r.headers().contains_key("retry-after"));
                assert_eq!(r.headers()["content-type"], "application/problem+json");
            }
            statuses.push(status);
        }
        statuses
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> reqwest::Response {
        self.admin_send(reqwest::Method::POST, path, body).await
    }

    pub async fn admin_put(&self, path: &str, body: Value) -> reqwest::Response {
        self.admin_send(reqwest::Method::PUT, path, body).await
    }

    /// `method path` with a JSON body, as the operator.
    pub async fn admin_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Registers a custody actor with one key (base64 public key), valid from the epoch.
    pub async fn register_actor(&self, id: &str, role: &str, public_key: &str) {
        let body = json!({"id": id, "organisation": format!("{id} Ltd"), "country": "AU", "role": role,
                          "keys": [{"public_key": public_key, "not_before": 0}]});
        let r = self.admin_post("/api/v1/actors", body).await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
    }

    /// Has `enterprise` engage actor `id` for all its products, from the epoch.
    pub async fn engage(&self, enterprise: u64, id: &str) {
        let r = self
            .admin_post(
                &format!("/api/v1/enterprises/{enterprise}/engagements"),
                json!({"actor_id": id, "not_before": 0}),
            )
            .await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
    }

    /// Signs `event` for `lot` as `actor` with `key` over the lot's current head (lot-wide, or
    /// naming `items`), submits it over HTTP; its leaf index (the answer must be 201).
    pub async fn record(
        &self,
        lot: &str,
        signer: (&str, &ed25519_dalek::SigningKey),
        event: traceseal::custody::record::Event,
        items: Vec<String>,
    ) -> u64 {
        let (status, v) = self.try_record(lot, signer, event, items).await;
        assert_eq!(status, 201, "{v}");
        v["leaf_index"].as_u64().unwrap()
    }

    /// [`TestServer::record`], answering the status and body whatever they are.
    pub async fn try_record(
        &self,
        lot: &str,
        (actor, key): (&str, &ed25519_dalek::SigningKey),
        event: traceseal::custody::record::Event,
        items: Vec<String>,
    ) -> (u16, Value) {
        let head: Value = self
            .get(&format!("/api/v1/lots/{lot}/head"))
            .await
            .json()
            .await
            .unwrap();
        let draft = traceseal::cli::custody::Draft {
            lot: lot.to_string(),
            items,
            actor: actor.to_string(),
            time: "2026-11-20T10:00:00+08:00".into(),
            place: None,
            event,
        };
        let sub = draft.sign(
            key,
            head["log"].as_str().unwrap(),
            head["head"].as_str().unwrap(),
        );
        let r = self
            .client
            .post(self.url("/api/v1/custody/records"))
            .json(&sub)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Declares lot `lot` of [`GTIN`] and recalls it with `reason` and `class` (if any).
    pub async fn declare_and_recall(&self, lot: &str, reason: &str, class: Option<&str>) {
        let r = self
            .admin_post("/api/v1/lots", json!({"gtin": GTIN, "lot": lot}))
            .await;
        assert_eq!(r.status(), 201);
        let mut body = json!({ "reason": reason });
        if let Some(c) = class {
            body["class"] = json!(c);
        }
        let r = self
            .admin_post(&format!("/api/v1/lots/{GTIN}.{lot}/recall"), body)
            .await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
    }

    /// `GET /api/v1/enterprises/{id}/grade` (must be 200).
    pub async fn grade(&self, id: u64) -> Value {
        let r = self.get(&format!("/api/v1/enterprises/{id}/grade")).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Polls the public grade of `id` until `done` holds (20 s at most); it, and how long.
    pub async fn grade_when(
        &self,
        id: u64,
        done: impl Fn(&Value) -> bool,
    ) -> (Value, std::time::Duration) {
        let t = std::time::Instant::now();
        loop {
            let g = self.grade(id).await;
            if done(&g) {
                return (g, t.elapsed());
            }
            assert!(
                t.elapsed() < std::time::Duration::from_secs(20),
                "grade never moved: {g}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Scans `code` from `ip` and files a complaint `body` (`scan_id` added) about it; the
    /// receipt (the answer must be 201).
    pub async fn complain(&self, code: &str, ip: &str, mut body: Value) -> Value {
        let v = self.scan_from(code, ip).await;
        body["scan_id"] = v["scan_id"].clone();
        let r = self
            .client
            .post(self.url("/api/v1/complaints"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// Polls enterprise `id`'s credit report until its checkpoint is anchored and it holds
    /// `grades` grade changes; the report.
    pub async fn anchored_report(&self, id: u64, grades: usize) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let r = self
                .get(&format!("/api/v1/enterprises/{id}/credit-report"))
                .await;
            if r.status() == 200 {
                let v: Value = r.json().await.unwrap();
                let n = v["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|x| x["kind"] == "grade")
                    .count();
                if v["anchor"]["status"] == "anchored" && n == grades {
                    return v;
                }
            } else {
                assert_eq!(
                    r.status(),
                    409,
                    "not checkpointed yet is the only other answer"
                );
            }
            assert!(std::time::Instant::now() < deadline, "no anchored report");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }

    /// The operator seeding client of this server ([`seed::Seeder`]).
    pub fn seeder(&self) -> seed::Seeder<'_> {
        seed::Seeder {
            base: &self.base,
            token: &self.token,
            http: &self.client,
        }
    }

    /// Registers an enterprise and the product GTIN; returns the enterprise id.
    pub async fn seed(&self) -> u64 {
        self.seeder().seed().await
    }

    /// Issues a batch (lot LOT-1, expiry 2028-06-30) and returns (batch_id, codes).
    pub async fn issue(&self, key: &str, quantity: u64) -> (u64, Vec<String>) {
        let body = json!({"lot": "LOT-1", "expiry": "2028-06-30", "quantity": quantity});
        self.seeder().issue(key, body).await
    }

    /// `GET /api/v1/verify` for `code` as a client at `ip` (`X-Forwarded-For`: the server must
    /// trust 127.0.0.1 as a proxy); the verdict.
    pub async fn scan_from(&self, code: &str, ip: &str) -> Value {
        let r = self
            .client
            .get(self.url(&verify_path(code)))
            .header("x-forwarded-for", ip)
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    /// The log's note verifier, from the public `/api/v1/keys`.
    pub async fn log_verifier(&self) -> traceseal::checkpoint::NoteVerifier {
        let keys: Value = self.get("/api/v1/keys").await.json().await.unwrap();
        let log = keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["role"] == "log")
            .unwrap()
            .clone();
        traceseal::checkpoint::NoteVerifier::from_vkey(log["vkey"].as_str().unwrap()).unwrap()
    }

    /// The bytes of log leaf `i`, from the public `/api/v1/log/leaves/{i}`.
    pub async fn leaf_bytes(&self, i: u64) -> Vec<u8> {
        use base64::Engine;
        let leaf: Value = self
            .get(&format!("/api/v1/log/leaves/{i}"))
            .await
            .json()
            .await
            .unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(leaf["data"].as_str().unwrap())
            .unwrap()
    }

    /// The inclusion proof of leaf `i` in the tree of `size` leaves, from the public
    /// `/api/v1/log/proof/inclusion` (which must echo the index and size).
    pub async fn inclusion_proof(&self, i: u64, size: u64) -> Vec<traceseal::merkle::Hash> {
        let pr: Value = self
            .get(&format!(
                "/api/v1/log/proof/inclusion?index={i}&size={size}"
            ))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (pr["index"].as_u64(), pr["size"].as_u64()),
            (Some(i), Some(size))
        );
        pr["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| traceseal::merkle::Hash::from_base64(h.as_str().unwrap()).unwrap())
            .collect()
    }

    /// Waits until the latest checkpoint covers at least `size` leaves; returns its note.
    pub async fn checkpoint_covering(&self, size: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let note = self
                .get("/api/v1/log/checkpoint")
                .await
                .text()
                .await
                .unwrap();
            if checkpoint_size(&note) >= size {
                return note;
            }
            assert!(Instant::now() < deadline, "no checkpoint covering {size}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The `code` of every line of a `GET /api/v1/batches/{id}/codes` answer.
pub fn code_lines(ndjson: &str) -> Vec<String> {
    ndjson
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["code"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The tree size line of a checkpoint note.
pub fn checkpoint_size(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

/// A config for tests: fast checkpoints, generous rate limits.
/// Rasterises the first page of a PDF at `dpi` (pdftoppm) and decodes every QR code on it
/// (zbar): the codes, sorted.
pub fn pdf_qr_codes(pdf: &[u8], dpi: u32) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.pdf"), pdf).unwrap();
    let o = std::process::Command::new("pdftoppm")
        .args([
            "-r",
            &dpi.to_string(),
            "-gray",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
        ])
        .arg(dir.path().join("doc.pdf"))
        .arg(dir.path().join("page"))
        .output()
        .expect("pdftoppm (poppler-utils) is installed by ./scripts/dev setup");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .unwrap();
    let o = std::process::Command::new("zbarimg")
        .args(["-q", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(&png)
        .output()
        .expect("zbarimg (zbar-tools) is installed by ./scripts/dev setup");
    let mut codes: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    codes.sort();
    codes
}

pub fn test_config() -> Config {
    Config {
        public_host: "verify.example.com".into(),
        checkpoint_interval_ms: 50,
        rate_limit: traceseal::config::RateLimit {
            per_second: 100_000,
            burst: 100_000,
        },
        ..Config::default()
    }
}

/// `/api/v1/verify?code=…` path for a code.
pub fn verify_path(code: &str) -> String {
    with_code("/api/v1/verify", code)
}

/// `path?code=<the code, percent-encoded>`: how the endpoints about one item are asked.
pub fn with_code(path: &str, code: &str) -> String {
    let mut s = format!("{path}?code=");
    for b in code.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// The path and query of a code URI (to request it from our server).
pub fn code_path(code: &str) -> String {
    let rest = code.strip_prefix("https://").unwrap();
    rest[rest.find('/').unwrap()..].to_string()
}

/// A `traceseal` child process.
pub struct Proc {
    pub child: Child,
    pub base: String,
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_traceseal"))
}

impl Proc {
    /// Starts `traceseal serve` on `data_dir` with a free port; waits until it listens.
    pub fn serve(data_dir: &Path, envs: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // Tests that want a chain say so (TRACESEAL_CHAIN_RPC / _ENABLED in `envs`).
        cmd.env("TRACESEAL_CHAIN_ENABLED", "false");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let mut seen = Vec::new();
        let base = loop {
            let line = lines.next().and_then(Result::ok);
            match line {
                Some(l) => match l.strip_prefix("traceseal listening on ") {
                    Some(b) => break b.to_string(),
                    None if seen.len() < 20 => seen.push(l),
                    None => {}
                },
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("the server exited before listening; it printed {seen:?}");
                }
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Proc { child, base }
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Proc {
    /// A failing test must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
