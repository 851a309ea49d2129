//! The authorization table (`docs/authorization.md`, `src/authz.rs`) enforced over HTTP, with
//! RocksDB on disk: every authenticated route × anonymous, a regulator token, an operator token
//! and a revoked token; and every route × the enterprise roles × their own and another
//! enterprise's targets. Refusals are 401 or 403 with the reason and write nothing (every
//! column family compared byte for byte). API tokens are shown once, stored hashed, and a
//! revocation takes effect on the next request.

mod common;

use common::{test_config, TestServer, GTIN};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use traceseal::authz::{Grant, Owner, Role, TABLE};
use traceseal::store::Cf;

/// Every column family but the tokens' (whose last use moves when a token authenticates),
/// each hashed.
fn snapshot(s: &TestServer) -> Vec<(&'static str, [u8; 32])> {
    let store = s.state.svc.store();
    let mut out = Vec::new();
    for cf in Cf::ALL.into_iter().filter(|c| *c != Cf::ApiTokens) {
        let mut h = Sha256::new();
        for (k, v) in store.range(cf, b"", None, usize::MAX).unwrap() {
            h.update((k.len() as u64).to_be_bytes());
            h.update(&k);
            h.update((v.len() as u64).to_be_bytes());
            h.update(&v);
        }
        out.push((cf.name(), h.finalize().into()));
    }
    out
}

/// Fails naming the column families that changed since `before`.
fn assert_unchanged(s: &TestServer, before: &[(&'static str, [u8; 32])]) {
    let changed: Vec<&str> = snapshot(s)
        .iter()
        .zip(before)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.0)
        .collect();
    assert!(changed.is_empty(), "a refused request wrote to {changed:?}");
}

/// A concrete path for a route pattern.
fn concrete(pattern: &str, batch: u64, token_id: &str) -> String {
    pattern
        .replace("{id}/engagements/{actor_id}", "1/engagements/nobody")
        .replace("/enterprises/{id}", "/enterprises/1")
        .replace("{gtin}", GTIN)
        .replace("/batches/{id}", &format!("/batches/{batch}"))
        .replace("/print-jobs/{id}", "/print-jobs/1")
        .replace("/lots/{id}", &format!("/lots/{GTIN}.LOT-1"))
        .replace("/actors/{id}/keys/{kid}", "/actors/nobody/keys/x")
        .replace("/actors/{id}", "/actors/nobody")
        .replace("{reference}", "TS00000001")
        .replace("/tokens/{id}", &format!("/tokens/{token_id}"))
        .replace("{username}", "nobody")
        .replace("{fingerprint}", &"0".repeat(64))
}

async fn send(s: &TestServer, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    send_body(s, method, path, token, json!({})).await
}

async fn send_body(
    s: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rq = s.client.request(m, s.url(path));
    if let Some(t) = token {
        rq = rq.bearer_auth(t);
    }
    if method != "GET" && method != "HEAD" {
        rq = rq.json(&body);
    }
    let r = rq.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

async fn make_token(s: &TestServer, role: &str) -> (String, String) {
    make_enterprise_token(s, role, None).await
}

async fn make_enterprise_token(
    s: &TestServer,
    role: &str,
    enterprise: Option<u64>,
) -> (String, String) {
    let r = s
        .admin_post(
            "/api/v1/tokens",
            json!({"name": format!("{role} for the matrix"), "role": role, "enterprise_id": enterprise}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    (
        v["token"].as_str().unwrap().to_string(),
        v["id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn every_route_answers_as_the_table_says() {
    let s = TestServer::start(test_config()).await;
    s.seed().await;
    let (batch, _) = s.issue("authz-1", 3).await;
    let (regulator, reg_id) = make_token(&s, "regulator").await;
    let (operator, _) = make_token(&s, "operator").await;
    let (revoked, revoked_id) = make_token(&s, "operator").await;
    let r = s
        .admin_post(&format!("/api/v1/tokens/{revoked_id}/revoke"), json!({}))
        .await;
    assert_eq!(r.status(), 200);

    // Refusals first: anonymous, a revoked token, and the regulator where the table says no.
    // (Once the checkpointer has signed what the setup logged.)
    let size = s.state.svc.log().log_size().unwrap();
    s.checkpoint_covering(size).await;
    let before = snapshot(&s);
    let mut refused = 0;
    for rule in TABLE {
        let path = concrete(rule.path, batch, &reg_id);
        let (st, body) = send(&s, rule.method, &path, None).await;
        assert_eq!(st, 401, "anonymous {} {path}: {body}", rule.method);
        let (st, body) = send(&s, rule.method, &path, Some(&revoked)).await;
        assert_eq!(st, 401, "revoked {} {path}: {body}", rule.method);
        assert!(body.contains("unknown, expired or revoked"), "{body}");
        if rule.owner == Owner::Own {
            // The principal's own session: allowed to all, so not a refusal (below).
            continue;
        }
        let (st, body) = send(&s, rule.method, &path, Some(&regulator)).await;
        match rule.grant(Role::Regulator) {
            Grant::No => {
                assert_eq!(st, 403, "regulator {} {path}: {body}", rule.method);
                let p: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(
                    p["detail"],
                    format!("a regulator may not {} {}", rule.method, rule.path)
                );
                refused += 1;
            }
            _ => assert!(
                st != 401 && st != 403 && st < 500,
                "regulator {} {path}: {st} {body}",
                rule.method
            ),
        }
    }
    assert!(refused >= 20, "{refused}");
    // A HEAD follows its GET's rule (axum answers HEAD with the GET route).
    assert_eq!(
        send(&s, "HEAD", "/api/v1/enterprises", Some(&regulator))
            .await
            .0,
        200
    );
    assert_eq!(send(&s, "HEAD", "/metrics", Some(&regulator)).await.0, 403);
    assert_unchanged(&s, &before);

    // The operator's API token may use every route (the handler then answers as it does for
    // the bootstrap token: 200, or 4xx for these empty bodies and unknown ids). Every write
    // it makes is in the audit trail, once, with its request id; reads are not.
    let operator_id = format!("token:{}", &operator[4..14]);
    for rule in TABLE {
        let path = concrete(rule.path, batch, "0000000000");
        let before = audit_size(&s);
        let m = reqwest::Method::from_bytes(rule.method.as_bytes()).unwrap();
        let mut rq = s.client.request(m, s.url(&path)).bearer_auth(&operator);
        if rule.method != "GET" {
            rq = rq.json(&json!({}));
        }
        let r = rq.send().await.unwrap();
        let st = r.status().as_u16();
        let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        let body = r.text().await.unwrap();
        assert!(
            st != 401 && st != 403 && st < 500,
            "operator {} {path}: {st} {body}",
            rule.method
        );
        if rule.method == "GET" {
            assert_eq!(audit_size(&s), before, "a read is not audited: {path}");
            continue;
        }
        assert_eq!(audit_size(&s), before + 1, "{} {path}", rule.method);
        let page = s
            .state
            .svc
            .audit()
            .list(&Default::default(), None, 1)
            .unwrap();
        let rec = &page.records[0];
        assert_eq!(
            (
                rec.principal.as_str(),
                rec.route.as_str(),
                rec.method.as_str()
            ),
            (operator_id.as_str(), rule.path, rule.method)
        );
        assert_eq!(
            (rec.request_id.as_str(), rec.status),
            (request_id.as_str(), st)
        );
        assert_eq!(rec.path, path.split('?').next().unwrap());
    }
    s.stop().await;
}

fn audit_size(s: &TestServer) -> usize {
    s.state
        .svc
        .store()
        .range(Cf::Audit, b"", None, usize::MAX)
        .unwrap()
        .len()
}

#[tokio::test]
async fn tokens_are_shown_once_stored_hashed_and_revoked_at_once() {
    let s = TestServer::start(test_config()).await;
    let (token, id) = make_token(&s, "regulator").await;
    assert!(token.starts_with(&format!("tst_{id}_")), "{token}");
    let secret = &token[15..];
    let r = s.admin_get("/api/v1/tokens").await;
    assert_eq!(r.status(), 200);
    let listed = r.text().await.unwrap();
    assert!(listed.contains(&id) && !listed.contains(secret), "{listed}");
    let stored = s
        .state
        .svc
        .store()
        .range(Cf::ApiTokens, b"", None, 10)
        .unwrap();
    assert!(!stored
        .iter()
        .any(|(_, v)| String::from_utf8_lossy(v).contains(secret)));

    let read = |t: String| {
        let c = s.client.clone();
        let url = s.url("/api/v1/enterprises");
        async move { c.get(url).bearer_auth(t).send().await.unwrap().status() }
    };
    assert_eq!(read(token.clone()).await, 200);
    // A regulator cannot make, list or revoke tokens.
    let (st, _) = send(&s, "POST", "/api/v1/tokens", Some(&token)).await;
    assert_eq!(st, 403);
    let r = s
        .admin_post(&format!("/api/v1/tokens/{id}/revoke"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["revoked_by"], "bootstrap");
    assert_eq!(
        read(token.clone()).await,
        401,
        "revoked: refused on the next request"
    );
    let again = s
        .admin_post(&format!("/api/v1/tokens/{id}/revoke"), json!({}))
        .await;
    assert_eq!(again.status(), 409);
    let p: Value = again.json().await.unwrap();
    assert_eq!(p["code"], "account.already_revoked");
    // An enterprise role names its enterprise; unknown roles are malformed.
    for (role, status, code) in [
        ("label_printer", 422, "account.enterprise_required"),
        ("root", 400, "input.invalid_field"),
    ] {
        let r = s
            .admin_post("/api/v1/tokens", json!({"name": "x", "role": role}))
            .await;
        assert_eq!(r.status(), status);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["code"], code, "{p}");
    }
    s.stop().await;
}

#[tokio::test]
async fn failed_authentications_are_rate_limited_per_client_and_valid_ones_are_not() {
    let mut cfg = test_config();
    cfg.rate_limit = traceseal::config::RateLimit {
        per_second: 1,
        burst: 3,
    };
    let s = TestServer::start(cfg).await;
    let guess = format!("tst_0123456789_{}", "A".repeat(43));
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(send(&s, "GET", "/api/v1/enterprises", Some(&guess)).await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    // The operator's own requests from the same address still pass.
    assert_eq!(s.admin_get("/api/v1/enterprises").await.status(), 200);
    s.stop().await;
}

/// One enterprise's data: a product, a batch, a print job, a complaint and a spare token.
struct Side {
    enterprise: u64,
    gtin: &'static str,
    batch: u64,
    job: u64,
    complaint: String,
    token_id: String,
    user: String,
}

impl Side {
    /// A concrete path for a route pattern, on this enterprise's data.
    fn path(&self, pattern: &str) -> String {
        let e = self.enterprise;
        pattern
            .replace(
                "{id}/engagements/{actor_id}",
                &format!("{e}/engagements/nobody"),
            )
            .replace("/enterprises/{id}", &format!("/enterprises/{e}"))
            .replace("{gtin}", self.gtin)
            .replace("/batches/{id}", &format!("/batches/{}", self.batch))
            .replace("/print-jobs/{id}", &format!("/print-jobs/{}", self.job))
            .replace("/lots/{id}", &format!("/lots/{}.LOT-1", self.gtin))
            .replace("/actors/{id}/keys/{kid}", "/actors/nobody/keys/x")
            .replace("/actors/{id}", "/actors/nobody")
            .replace("{reference}", &self.complaint)
            .replace("/tokens/{id}", &format!("/tokens/{}", self.token_id))
            .replace("{username}", &self.user)
    }

    /// A body naming this enterprise and its product (the owner fields of every body).
    fn body(&self) -> Value {
        json!({"enterprise_id": self.enterprise, "gtin": self.gtin})
    }
}

/// Registers an enterprise with product `gtin`, a batch of it, a print job, a complaint from
/// a scan of one of its codes, and a spare label-printer token.
async fn side(s: &TestServer, name: &str, uscc: &str, gtin: &'static str) -> Side {
    let seeder = s.seeder();
    let r = seeder
        .post(
            "/api/v1/enterprises",
            json!({"name": name, "uscc": uscc, "country": "AU"}),
            None,
        )
        .await;
    assert_eq!(r.status(), 201);
    let enterprise = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let product =
        json!({"gtin": gtin, "name_zh": "奶粉", "name_en": "Formula", "enterprise_id": enterprise});
    assert_eq!(
        seeder
            .post("/api/v1/products", product, None)
            .await
            .status(),
        201
    );
    let r = seeder
        .post(
            "/api/v1/batches",
            json!({"gtin": gtin, "lot": "LOT-1", "quantity": 2}),
            Some(&format!("k-{gtin}")),
        )
        .await;
    assert_eq!(r.status(), 201);
    let batch = r.json::<Value>().await.unwrap()["batch_id"]
        .as_u64()
        .unwrap();
    let r = s
        .admin_post(
            &format!("/api/v1/batches/{batch}/print-jobs"),
            json!({"format": "zpl"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let job = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let code = seeder.codes(batch).await.remove(0);
    let scan: Value = s
        .get(&common::verify_path(&code))
        .await
        .json()
        .await
        .unwrap();
    let r = s
        .client
        .post(s.url("/api/v1/complaints"))
        .json(&json!({"scan_id": scan["scan_id"], "category": "quality", "description": "结块"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let complaint = r.json::<Value>().await.unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, token_id) = make_enterprise_token(s, "label_printer", Some(enterprise)).await;
    let user = format!("printer{enterprise}");
    let r = s
        .admin_post(
            "/api/v1/users",
            json!({"username": user, "password": "a long enough password", "role": "label_printer", "enterprise_id": enterprise}),
        )
        .await;
    assert_eq!(r.status(), 201);
    Side {
        enterprise,
        gtin,
        batch,
        job,
        complaint,
        token_id,
        user,
    }
}

/// Every route × the enterprise roles of enterprise A × A's and B's targets, refusals first
/// (which must write nothing), then A's own.
#[tokio::test]
async fn enterprise_roles_reach_their_own_enterprise_only() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let a = side(&s, "Acme Import Co.", common::USCC, GTIN).await;
    let b = side(
        &s,
        "Other Import Co.",
        "91110108551385082Q",
        "09506000134369",
    )
    .await;
    let (admin, _) = make_enterprise_token(&s, "enterprise_admin", Some(a.enterprise)).await;
    let (printer, _) = make_enterprise_token(&s, "label_printer", Some(a.enterprise)).await;
    let principals = [
        (Role::EnterpriseAdmin, &admin),
        (Role::LabelPrinter, &printer),
    ];

    let size = s.state.svc.log().log_size().unwrap();
    s.checkpoint_covering(size).await;
    let before = snapshot(&s);
    let mut refused = 0;
    for rule in TABLE {
        for (role, token) in principals {
            let what = format!("{role} {} {}", rule.method, rule.path);
            if rule.owner == Owner::Own
                || rule.owner == Owner::List && rule.grant(role) == Grant::Own
            {
                continue;
            }
            let other = send_body(&s, rule.method, &b.path(rule.path), Some(token), b.body()).await;
            match (rule.grant(role), rule.owner) {
                (Grant::No, _) => {
                    assert_eq!(other.0, 403, "{what}: {}", other.1);
                    let p: Value = serde_json::from_str(&other.1).unwrap();
                    assert_eq!(
                        p["detail"],
                        format!("a {role} may not {} {}", rule.method, rule.path)
                    );
                }
                (Grant::Own, Owner::List) | (Grant::All, Owner::Own) => unreachable!(),
                (Grant::Own, _) => {
                    assert_eq!(other.0, 403, "{what} on B: {}", other.1);
                    let needle = format!("belongs to enterprise {}", b.enterprise);
                    assert!(other.1.contains(&needle), "{what} on B: {}", other.1);
                }
                (Grant::All, _) => panic!("{what}: an enterprise role has an `all` grant"),
            }
            refused += 1;
        }
    }
    // A's product cannot be handed to B; A's admin lists only A's complaints.
    let moved = send_body(
        &s,
        "PUT",
        &a.path("/api/v1/products/{gtin}"),
        Some(&admin),
        b.body(),
    )
    .await;
    assert_eq!(moved.0, 403, "{}", moved.1);
    let (st, body) = send(
        &s,
        "GET",
        &format!("/api/v1/complaints?enterprise_id={}", b.enterprise),
        Some(&admin),
    )
    .await;
    assert_eq!(st, 403, "{body}");
    // Nor can A's admin grant a platform role, or a role of B.
    for grant in [
        json!({"name": "x", "role": "operator"}),
        json!({"name": "x", "role": "label_printer", "enterprise_id": b.enterprise}),
    ] {
        let (st, body) = send_body(&s, "POST", "/api/v1/tokens", Some(&admin), grant).await;
        assert_eq!(st, 403, "{body}");
    }
    assert!(refused >= 50, "{refused}");
    assert_unchanged(&s, &before);

    // On A's own data every `own` cell is served (200, or 4xx for these bodies).
    for rule in TABLE {
        for (role, token) in principals {
            if rule.grant(role) != Grant::Own {
                continue;
            }
            let (st, body) =
                send_body(&s, rule.method, &a.path(rule.path), Some(token), a.body()).await;
            assert!(
                st != 401 && st != 403 && st < 500,
                "{role} {} {} on A: {st} {body}",
                rule.method,
                rule.path
            );
        }
    }
    lists_are_narrowed_to_the_enterprise(&s, &a, &admin).await;
    s.stop().await;
}

/// What enterprise A's admin lists is A's only.
async fn lists_are_narrowed_to_the_enterprise(s: &TestServer, a: &Side, admin: &str) {
    let list = |path: &'static str| async move {
        let (st, body) = send(s, "GET", path, Some(admin)).await;
        assert_eq!(st, 200, "{path}: {body}");
        serde_json::from_str::<Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let enterprises = list("/api/v1/enterprises").await;
    assert_eq!(enterprises.len(), 1);
    assert_eq!(enterprises[0]["id"], a.enterprise);
    let products = list("/api/v1/products").await;
    assert_eq!(products.len(), 1);
    assert_eq!(products[0]["gtin"], a.gtin);
    let complaints = list("/api/v1/complaints").await;
    assert_eq!(complaints.len(), 1);
    assert_eq!(complaints[0]["reference"], a.complaint.as_str());
    let users = list("/api/v1/users").await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["enterprise_id"], a.enterprise);
    let tokens = list("/api/v1/tokens").await;
    assert_eq!(tokens.len(), 3, "the spare, the admin's and the printer's");
    assert!(tokens.iter().all(|t| t["enterprise_id"] == a.enterprise));
    // The operator sees both enterprises.
    let all: Value = s
        .admin_get("/api/v1/enterprises")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
}

/// The audit trail over HTTP: the operator and the regulator read all of it, an enterprise
/// admin its enterprise's; filters and paging; credit profile versions and account changes are
/// log leaves, and a profile's history is public.
#[tokio::test]
async fn the_audit_trail_and_the_logged_changes() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let a = side(&s, "Acme Import Co.", common::USCC, GTIN).await;
    let b = side(
        &s,
        "Other Import Co.",
        "91110108551385082Q",
        "09506000134369",
    )
    .await;
    let (admin, _) = make_enterprise_token(&s, "enterprise_admin", Some(a.enterprise)).await;
    let (regulator, _) = make_token(&s, "regulator").await;
    let credit = json!({"rating": "B", "rated_on": "2026-11-01", "disclosures": []});
    for rating in ["B", "A"] {
        let mut c = credit.clone();
        c["rating"] = json!(rating);
        let r = s
            .client
            .put(s.url(&format!("/api/v1/enterprises/{}/credit", b.enterprise)))
            .bearer_auth(&s.token)
            .json(&c)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let page = |token: &str, query: &str| {
        let (c, url, t) = (
            s.client.clone(),
            s.url(&format!("/api/v1/audit{query}")),
            token.to_string(),
        );
        async move {
            let r = c.get(url).bearer_auth(t).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (st, all) = page(&regulator, "?limit=1000").await;
    assert_eq!(st, 200);
    let all = all["records"].as_array().unwrap().clone();
    assert!(
        all.iter().all(|r| r["principal"] == "bootstrap"),
        "the setup's writes"
    );
    let credit_writes: Vec<&Value> = all
        .iter()
        .filter(|r| r["route"] == "/api/v1/enterprises/{id}/credit")
        .collect();
    assert_eq!(credit_writes.len(), 2);
    assert_eq!(
        credit_writes[0]["enterprise"], b.enterprise,
        "the target's owner"
    );
    // Paging: newest first, `next_before` goes on.
    let (_, first) = page(&regulator, "?limit=2").await;
    let next = first["next_before"].as_u64().unwrap();
    let (_, second) = page(&regulator, &format!("?limit=2&before={next}")).await;
    assert_eq!(second["records"][0]["seq"], all[2]["seq"]);
    // A's admin sees A's records only, and may not ask for B's.
    let (st, mine) = page(&admin, "?limit=1000").await;
    assert_eq!(st, 200);
    let mine = mine["records"].as_array().unwrap().clone();
    assert!(!mine.is_empty());
    assert!(
        mine.iter()
            .all(|r| r["enterprise"] == a.enterprise || r["principal_enterprise"] == a.enterprise),
        "{mine:?}"
    );
    let (st, _) = page(&admin, &format!("?enterprise_id={}", b.enterprise)).await;
    assert_eq!(st, 403);
    let (st, _) = page(&admin, "?since=yesterday").await;
    assert_eq!(st, 400);
    // A regulator reads complaints, but never a valid code: the scanned code is hidden.
    let complaint = |token: &str| {
        let (c, url, t) = (
            s.client.clone(),
            s.url(&format!("/api/v1/complaints/{}", a.complaint)),
            token.to_string(),
        );
        async move {
            c.get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let seen = complaint(&regulator).await;
    assert!(
        seen["scan"]["code"]
            .as_str()
            .unwrap()
            .starts_with("(hidden"),
        "{seen}"
    );
    let listed = page(&regulator, "").await;
    assert_eq!(listed.0, 200);
    let all_complaints: Value = s
        .client
        .get(s.url("/api/v1/complaints"))
        .bearer_auth(&regulator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(all_complaints
        .as_array()
        .unwrap()
        .iter()
        .all(|c| !c["scan"]["code"].as_str().unwrap().starts_with("https://")));
    let by_operator = complaint(&s.token).await;
    assert!(by_operator["scan"]["code"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    // The credit profile's history is public; each version is a log leaf naming the request.
    let h: Value = s
        .get(&format!("/api/v1/credit/{}/history", b.enterprise))
        .await
        .json()
        .await
        .unwrap();
    let versions = h.as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        (
            versions[0]["version"].as_u64(),
            versions[1]["profile"]["rating"].as_str()
        ),
        (Some(1), Some("A"))
    );
    let leaf_index = versions[1]["leaf_index"].as_u64().unwrap();
    let leaf = s.state.svc.log().leaf_data(leaf_index).unwrap();
    let text = String::from_utf8(leaf).unwrap();
    assert!(text.starts_with("traceseal/credit/v1\n"), "{text}");
    assert!(text.contains(versions[1]["request_id"].as_str().unwrap()));
    assert!(
        text.contains(credit_writes[0]["request_id"].as_str().unwrap()),
        "the newest write's request"
    );
    // Account changes are leaves too; user names never appear in the log.
    let size = s.state.svc.log().log_size().unwrap();
    let mut accounts = 0;
    for i in 0..size {
        let text = String::from_utf8(s.state.svc.log().leaf_data(i).unwrap()).unwrap();
        assert!(!text.contains(&a.user) && !text.contains(&b.user), "{text}");
        accounts += usize::from(text.starts_with("traceseal/account/v1\n"));
    }
    assert_eq!(
        accounts, 6,
        "two tokens and a user per side, the admin's and the regulator's tokens"
    );
    s.stop().await;
}
