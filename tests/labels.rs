//! Print jobs over HTTP on RocksDB: ZPL output streamed and syntax-checked, every QR field
//! carrying exactly an issued code that scans genuine, prints recorded, reprints refused
//! without a reason and logged with one.

mod common;

use base64::Engine;
use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn print_jobs_record_prints_and_log_reprints() {
    let s = TestServer::start(test_config()).await;
    s.seed().await;
    let (batch, codes) = s.issue("b1", 5).await;
    let r = s
        .admin_post(
            &format!("/api/v1/batches/{batch}/print-jobs"),
            json!({"format": "zpl"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let job: Value = r.json().await.unwrap();
    let id = job["id"].as_u64().unwrap();
    assert_eq!(
        (job["count"].as_u64(), job["reprinted"].as_u64()),
        (Some(5), Some(0))
    );
    let r = s
        .admin_get(&format!("/api/v1/print-jobs/{id}/output"))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".zpl"));
    let zpl = r.text().await.unwrap();
    let checked = traceseal::labels::zpl::check(&zpl).unwrap();
    assert_eq!(checked.labels, 5);
    assert_eq!(
        checked.qr_data, codes,
        "each label encodes exactly its code, in issue order"
    );
    for c in &checked.qr_data {
        let v: Value = s.get(&verify_path(c)).await.json().await.unwrap();
        assert_eq!(v["verdict"], "genuine");
    }
    let view: Value = s
        .admin_get(&format!("/api/v1/print-jobs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["rendered"], 5);

    // Reprinting label 2 needs a reason; with one it is logged.
    let again = json!({"format": "zpl", "range": [2, 1]});
    let r = s
        .admin_post(&format!("/api/v1/batches/{batch}/print-jobs"), again)
        .await;
    assert_eq!(r.status(), 409);
    let p: Value = r.json().await.unwrap();
    assert!(
        p["detail"].as_str().unwrap().contains("reprint_reason"),
        "{p}"
    );
    let r = s
        .admin_post(
            &format!("/api/v1/batches/{batch}/print-jobs"),
            json!({"format": "zpl", "range": [2, 1], "reprint_reason": "label torn"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let job2: Value = r.json().await.unwrap();
    let leaf_index = job2["reprint_records"][0].as_u64().unwrap();
    let leaf: Value = s
        .get(&format!("/api/v1/log/leaves/{leaf_index}"))
        .await
        .json()
        .await
        .unwrap();
    let data = base64::engine::general_purpose::STANDARD
        .decode(leaf["data"].as_str().unwrap())
        .unwrap();
    let text = String::from_utf8(data).unwrap();
    assert!(text.starts_with("traceseal/reprint/v1\n"), "{text}");
    assert!(text.contains("label torn"));
    let serial2 = codes[2]
        .split("/21/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    assert!(text.contains(serial2));

    // A layout that would print modules below the minimum is refused; no token → 401.
    let r = s
        .admin_post(
            &format!("/api/v1/batches/{batch}/print-jobs"),
            json!({"format": "zpl", "range": [0, 1], "reprint_reason": "test",
                   "layout": {"dpi": 203, "width_mm": 60.0, "height_mm": 40.0, "module_mm": 0.1, "cjk_font": "E:ANMDS.TTF"}}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("0.33 mm minimum"));
    let r = s.get(&format!("/api/v1/print-jobs/{id}")).await;
    assert_eq!(r.status(), 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_labels_command_writes_a_job_and_refuses_silent_reprints() {
    let s = TestServer::start(test_config()).await;
    s.seed().await;
    let (batch, codes) = s.issue("b1", 7).await;
    let token = s.dir.path().join("data/admin.token");
    let out = s.dir.path().join("labels.zpl");
    let run = |extra: Vec<String>| {
        let mut args = vec![
            "labels".to_string(),
            "--server".into(),
            s.base.clone(),
            "--token-file".into(),
            token.to_str().unwrap().into(),
            "--batch".into(),
            batch.to_string(),
            "--out".into(),
            out.to_str().unwrap().into(),
            "--dpi".into(),
            "300".into(),
        ];
        args.extend(extra);
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin())
                .args(&args)
                .output()
                .unwrap()
        })
    };
    let o = run(vec![]).await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    assert!(text.contains("7 / 7 labels (100%)"), "{text}");
    let zpl = std::fs::read_to_string(&out).unwrap();
    let checked = traceseal::labels::zpl::check(&zpl).unwrap();
    assert_eq!(checked.qr_data, codes);
    let o = run(vec!["--range".into(), "3:2".into()]).await.unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("refused (409)"));
    let o = run(vec![
        "--range".into(),
        "3:2".into(),
        "--reprint-reason".into(),
        "ribbon ran out".into(),
    ])
    .await
    .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 reprinted, logged"));
    assert_eq!(
        traceseal::labels::zpl::check(&std::fs::read_to_string(&out).unwrap())
            .unwrap()
            .qr_data,
        codes[3..5].to_vec()
    );
    s.stop().await;
}
