//! What authentication costs (issue 14): a sign-in's argon2id hash (19 MiB, 2 passes — the
//! price every password check pays, by design) against one SHA-256 (the limit: what checking an
//! API token costs before its store read); then, per request, an API token's authentication
//! and a session's lookup on RocksDB, and the enterprise owner of a batch (the extra read an
//! `own` grant makes), against a bare store read.
//!
//! Run: `./scripts/dev bench --bench accounts`. Figures: `docs/performance.md`.

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha2::{Digest, Sha256};
use traceseal::authz::{Principal, Target};
use traceseal::service::accounts::users::{hash_password, verify_password, UserInput};
use traceseal::service::accounts::TokenInput;
use traceseal::service::issuance::BatchRequest;
use traceseal::store::Cf;

const PASSWORD: &str = "correct horse battery staple";

fn passwords(c: &mut Criterion) {
    let mut g = c.benchmark_group("password");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    let phc = hash_password(PASSWORD).unwrap();
    g.bench_function("argon2id_verify", |b| {
        b.iter(|| verify_password(PASSWORD, &phc))
    });
    g.bench_function("sha256_limit", |b| {
        b.iter(|| Sha256::digest(PASSWORD.as_bytes()))
    });
    g.finish();
}

fn per_request(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let svc = common::service(dir.path());
    let a = svc.accounts();
    let op = Principal::cli();
    let token = a
        .create_token(
            &TokenInput {
                name: "bench".into(),
                role: "regulator".into(),
                enterprise_id: None,
                expires_in_days: None,
            },
            &op,
        )
        .unwrap()
        .token;
    let user = UserInput {
        username: "bench-user".into(),
        password: PASSWORD.into(),
        role: "operator".into(),
        enterprise_id: None,
    };
    a.create_user(&user, &op).unwrap();
    let session = a.sign_in("bench-user", PASSWORD, None).unwrap().id;
    let req = BatchRequest {
        gtin: common::GTIN.into(),
        lot: "B1".into(),
        expiry: None,
        quantity: 1,
    };
    let (batch, _) = svc.issuance().issue_batch(&req, "bench", &|_| {}).unwrap();
    let mut g = c.benchmark_group("authenticate");
    g.throughput(Throughput::Elements(1));
    g.bench_function("api_token", |b| {
        b.iter(|| a.authenticate(&token).unwrap().unwrap())
    });
    g.bench_function("session", |b| {
        b.iter(|| a.session(&session).unwrap().unwrap())
    });
    g.bench_function("batch_owner", |b| {
        b.iter(|| svc.owner_of(&Target::Batch(batch.id)).unwrap())
    });
    g.bench_function("store_read_limit", |b| {
        b.iter(|| svc.store().get(Cf::Meta, b"log_size").unwrap())
    });
    g.finish();
}

criterion_group!(benches, passwords, per_request);
criterion_main!(benches);
