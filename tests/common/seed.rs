//! Seeding over HTTP, the one copy every integration test uses: an enterprise, its product, a
//! batch and the batch's codes. Works against the in-process [`super::TestServer`] and against
//! a spawned `traceseal serve` (crash and anchoring tests) alike.

use serde_json::{json, Value};

use super::{code_lines, GTIN, USCC};

/// An operator client of one server.
pub struct Seeder<'a> {
    /// `http://host:port`.
    pub base: &'a str,
    /// The operator token.
    pub token: &'a str,
    /// The client to send with.
    pub http: &'a reqwest::Client,
}

impl Seeder<'_> {
    /// `POST {path}` as the operator, with an `Idempotency-Key` when given.
    pub async fn post(&self, path: &str, body: Value, key: Option<&str>) -> reqwest::Response {
        let mut rq = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.token)
            .json(&body);
        if let Some(k) = key {
            rq = rq.header("Idempotency-Key", k);
        }
        rq.send().await.unwrap()
    }

    /// `GET {path}` as the operator.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token)
            .send()
            .await
            .unwrap()
    }

    /// Registers an enterprise (the test USCC); returns its id.
    pub async fn enterprise(&self, name: &str, country: &str) -> u64 {
        let r = self
            .post(
                "/api/v1/enterprises",
                json!({"name": name, "uscc": USCC, "country": country}),
                None,
            )
            .await;
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
        self.graded(id).await;
        id
    }

    /// Waits until enterprise `id` has its first credit-risk grade: the checkpointer grades a
    /// new enterprise on its next tick and logs the grade, so once this returns that leaf
    /// is in the log, before anything the test does next (leaf positions stay fixed).
    pub async fn graded(&self, id: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let r = self.get(&format!("/api/v1/enterprises/{id}/grade")).await;
            if r.status() == 200 {
                return;
            }
            assert_eq!(r.status(), 404, "GET grade");
            assert!(
                std::time::Instant::now() < deadline,
                "enterprise {id} not graded within 20 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Registers product [`GTIN`] for enterprise `id`.
    pub async fn product(&self, id: u64, name_zh: &str, name_en: &str) {
        let r = self
            .post(
                "/api/v1/products",
                json!({"gtin": GTIN, "name_zh": name_zh, "name_en": name_en, "enterprise_id": id}),
                None,
            )
            .await;
        assert_eq!(r.status(), 201);
    }

    /// The usual master data: "Acme Import Co." (AU) and its infant formula; returns the
    /// enterprise id.
    pub async fn seed(&self) -> u64 {
        let id = self.enterprise("Acme Import Co.", "AU").await;
        self.product(id, "婴儿配方奶粉", "Infant formula").await;
        id
    }

    /// Issues a batch of [`GTIN`] (`body` adds lot, quantity, expiry); returns its id.
    pub async fn batch(&self, key: &str, body: Value) -> u64 {
        let mut req = json!({"gtin": GTIN});
        for (k, v) in body.as_object().unwrap() {
            req[k] = v.clone();
        }
        let r = self.post("/api/v1/batches", req, Some(key)).await;
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["batch_id"]
            .as_u64()
            .unwrap()
    }

    /// The codes of batch `id` (operator export).
    pub async fn codes(&self, id: u64) -> Vec<String> {
        let text = self
            .get(&format!("/api/v1/batches/{id}/codes"))
            .await
            .text()
            .await
            .unwrap();
        code_lines(&text)
    }

    /// Issues a batch and returns (batch id, codes).
    pub async fn issue(&self, key: &str, body: Value) -> (u64, Vec<String>) {
        let id = self.batch(key, body).await;
        (id, self.codes(id).await)
    }
}
