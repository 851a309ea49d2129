//! Headless Chromium driven over WebDriver (Debian `chromium` + `chromium-driver`, installed
//! by `./scripts/dev setup`): the scan page tests run the real browser, its WebCrypto and its
//! network stack against the real server.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process with one browser session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    /// The driver's and the browser's `TMPDIR` (profile, singleton socket), removed with the
    /// browser: runs leave nothing in `/tmp`.
    _tmp: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

/// Where screenshots go: `$TRACESEAL_ARTIFACTS`, else `$CARGO_TARGET_DIR/test-artifacts`,
/// else `target/test-artifacts`.
pub fn artifacts_dir(sub: &str) -> PathBuf {
    let base = std::env::var_os("TRACESEAL_ARTIFACTS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|d| PathBuf::from(d).join("test-artifacts"))
        })
        .unwrap_or_else(|| PathBuf::from("target/test-artifacts"));
    let d = base.join(sub);
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a phone-sized window and the given
    /// `Accept-Language`.
    pub async fn start(accept_language: &str, width: u32, height: u32) -> Browser {
        let driver_bin = which("chromedriver").expect(
            "chromedriver not found: run ./scripts/dev setup (installs Debian chromium and chromium-driver)",
        );
        let chromium = which("chromium").expect("chromium not found: run ./scripts/dev setup");
        let port = free_port();
        let tmp = tempfile::tempdir().unwrap();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        break;
                    }
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                         format!("--window-size={width},{height}")],
                "prefs": {"intl.accept_languages": accept_language}
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {r}"))
            .to_string();
        Browser {
            driver,
            base,
            session,
            http,
            _tmp: tmp,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.try_cmd(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("webdriver {path}: {e}"))
    }

    /// A WebDriver command; its error object when it fails.
    async fn try_cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, Value> {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method.clone(), &url);
        if method != reqwest::Method::GET {
            req = req.json(&body);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        if r["value"].get("error").is_some() {
            return Err(r["value"].clone());
        }
        Ok(r["value"].clone())
    }

    /// Navigates and waits for the load event.
    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    /// Runs `script` (a function body; `return` a value) in the page.
    pub async fn js(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// Runs `script` as an async function body (it may `await`; `return` a value).
    pub async fn js_async(&self, script: &str) -> Value {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1]; (async () => {{ {script} }})().then(done, (e) => done('error: ' + e));"
        );
        self.cmd(
            reqwest::Method::POST,
            "/execute/async",
            json!({"script": wrapped, "args": []}),
        )
        .await
    }

    /// Waits until the page script says it is done (`html[data-ready]`).
    pub async fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self
            .js("return document.documentElement.dataset.ready || ''")
            .await
            != "1"
        {
            assert!(
                Instant::now() < deadline,
                "the page was not ready within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_string()
    }

    /// Clicks the first element matching `css` (as a user would: it must be visible). When
    /// the page re-renders between finding and clicking (a stale element), finds it again,
    /// as a person would click the button now on the screen (at most 5 times).
    pub async fn click(&self, css: &str) {
        for _ in 0..5 {
            let id = self.element(css).await;
            let path = format!("/element/{id}/click");
            match self.try_cmd(reqwest::Method::POST, &path, json!({})).await {
                Ok(_) => return,
                Err(e) if e["error"] == "stale element reference" => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("webdriver {path}: {e}"),
            }
        }
        panic!("{css} went stale five times in a row");
    }

    /// Types `text` into the first element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// Visible text of the first element matching `css` (hidden language spans excluded).
    pub async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{id}/text"),
            json!({}),
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_string()
    }

    /// The value of the cookie `name` the browser holds for the current page (`HttpOnly` ones
    /// included: WebDriver sees them all).
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let all = self.cmd(reqwest::Method::GET, "/cookie", json!({})).await;
        all.as_array()?
            .iter()
            .find(|c| c["name"] == name)
            .and_then(|c| c["value"].as_str())
            .map(str::to_string)
    }

    /// Resizes the window.
    pub async fn resize(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let v = self
            .cmd(reqwest::Method::GET, "/screenshot", json!({}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "screenshot is a PNG");
        std::fs::write(path, png).unwrap();
    }

    /// Saves a PNG screenshot of the whole page (the window is made as tall as the page for
    /// the shot, then restored).
    pub async fn full_screenshot(&self, path: &std::path::Path) {
        let size = self
            .js("return [window.innerWidth, window.outerHeight, document.documentElement.scrollHeight]")
            .await;
        let w = size[0].as_u64().unwrap() as u32;
        let h = size[1].as_u64().unwrap() as u32;
        let full = size[2].as_u64().unwrap().min(8000) as u32;
        self.resize(w, full.max(h)).await;
        self.screenshot(path).await;
        self.resize(w, h).await;
    }

    /// Ends the session and the driver.
    pub async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
