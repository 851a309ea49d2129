//! Anchoring and log health (the operator; the grant of `GET /metrics`, the platform's
//! operations data): the log's size, the latest signed checkpoint and its age, and anchoring —
//! the newest anchor record, the largest tree size on chain, the records not final yet with
//! their pending transactions and the gas they spent. Read from the log book, the anchor
//! records (`AnchorBook::summary`: the newest record and those above the low-water mark, never
//! the finalized history) and the process counters `/metrics` exports.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::parts::field;
use crate::http::console::kit::{html, tr};
use crate::http::console::pages::{failed, frame, open_page, ROWS};
use crate::http::console::staff::table;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::anchoring::{AnchorRecord, AnchorStatus, AnchorSummary};
use crate::service::SignedCheckpoint;

const HERE: &str = "/console/health";

/// What the page reads, in one blocking call.
struct Health {
    log_size: u64,
    checkpoint: Option<SignedCheckpoint>,
    anchors: AnchorSummary,
    counters: [(&'static str, &'static str, u64); 3],
}

/// `GET /console/health`.
pub(super) async fn page(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, v, _) = match open_page(&st, &headers, "GET", "/metrics").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let read = blocking(move || {
        let s = svc.stats();
        Ok(Health {
            log_size: svc.log().log_size()?,
            checkpoint: svc.log().latest_checkpoint()?,
            anchors: svc.anchors().summary(ROWS)?,
            counters: [
                (
                    "本进程签发的码",
                    "Codes issued (this process)",
                    s.codes_issued.load(Ordering::Relaxed),
                ),
                (
                    "本进程应答的扫码",
                    "Scans answered (this process)",
                    s.scans.load(Ordering::Relaxed),
                ),
                (
                    "本进程签署的检查点",
                    "Checkpoints signed (this process)",
                    s.checkpoints_signed.load(Ordering::Relaxed),
                ),
            ],
        })
    })
    .await;
    let h = match read {
        Ok(h) => h,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let body = format!(
        "<section><h2>{}</h2>{}</section><section><h2>{}</h2>{}</section><section><h2>{}</h2>{}</section>",
        tr(lang, "日志", "Log"),
        log_table(lang, &h),
        tr(lang, "上链锚定", "Anchoring"),
        anchor_table(lang, &st, &h.anchors),
        tr(lang, "未最终确认的锚定", "Anchors not final yet"),
        open_table(lang, &h.anchors.open),
    );
    let title = tr(lang, "锚定与日志状态", "Anchoring and log health");
    html(StatusCode::OK, frame(lang, title, Some(&v), HERE, &body))
}

/// `n` seconds as "1 h 2 min 3 s".
fn age(n: i64) -> String {
    let (h, m, s) = (n / 3600, n % 3600 / 60, n % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
}

fn log_table(lang: Lang, h: &Health) -> String {
    let cp = match &h.checkpoint {
        Some(c) => [
            field(
                lang,
                "最新检查点大小",
                "Latest checkpoint size",
                &c.size.to_string(),
            ),
            field(
                lang,
                "最新检查点时间",
                "Latest checkpoint signed",
                &esc(&crate::service::base::rfc3339(c.created_at)),
            ),
            field(
                lang,
                "检查点时长",
                "Checkpoint age",
                &format!(
                    "<strong class=\"age\">{}</strong>",
                    age((crate::service::now_unix() - c.created_at).max(0))
                ),
            ),
        ]
        .concat(),
        None => field(
            lang,
            "最新检查点",
            "Latest checkpoint",
            tr(lang, "尚无", "none yet"),
        ),
    };
    let counters: String = h
        .counters
        .iter()
        .map(|(zh, en, n)| field(lang, zh, en, &n.to_string()))
        .collect();
    let size = format!("<strong class=\"log-size\">{}</strong>", h.log_size);
    let size = field(lang, "日志叶数", "Log size (leaves)", &size);
    record_table(&format!("{size}{cp}{counters}"))
}

fn record_table(rows: &str) -> String {
    format!("<div class=\"table\"><table class=\"record\"><tbody>{rows}</tbody></table></div>")
}

fn anchor_table(lang: Lang, st: &AppState, a: &AnchorSummary) -> String {
    if !st.config.chain.enabled {
        let off = tr(
            lang,
            "本服务未开启上链锚定。",
            "This service does not anchor.",
        );
        return format!("<p class=\"muted\">{off}</p>");
    }
    let Some(l) = &a.latest else {
        let none = tr(lang, "还没有锚定记录。", "No anchor record yet.");
        return format!("<p class=\"muted\">{none}</p>");
    };
    let anchored = a
        .anchored_size()
        .map_or_else(|| "—".into(), |n| n.to_string());
    let rows = [
        field(lang, "链 ID", "Chain id", &l.chain_id.to_string()),
        field(
            lang,
            "合约",
            "Contract",
            &format!("<span class=\"mono\">{}</span>", esc(&l.contract)),
        ),
        field(
            lang,
            "最新锚定的树大小",
            "Newest anchor's tree size",
            &l.tree_size.to_string(),
        ),
        field(
            lang,
            "最新锚定状态",
            "Newest anchor's status",
            &format!(
                "<strong class=\"as-{s}\">{s}</strong>",
                s = l.status.as_str()
            ),
        ),
        field(
            lang,
            "已上链的树大小",
            "Anchored size (on chain)",
            &format!("<strong class=\"anchored\">{anchored}</strong>"),
        ),
        field(
            lang,
            "待确认交易",
            "Pending transactions",
            &format!("<strong class=\"pending\">{}</strong>", a.pending()),
        ),
        field(
            lang,
            "交易哈希",
            "Transaction",
            &format!(
                "<span class=\"mono\">{}</span>",
                esc(l.tx_hash.as_deref().unwrap_or("—"))
            ),
        ),
        field(
            lang,
            "累计消耗的 gas（全部已上链的锚定交易）",
            "Gas spent (every anchor transaction on chain, since the start)",
            &format!(
                "<strong class=\"gas\">{}</strong> gas · {} gwei",
                a.gas_used, a.gwei_paid
            ),
        ),
    ]
    .concat();
    record_table(&rows)
}

fn open_table(lang: Lang, open: &[AnchorRecord]) -> String {
    let rows: String = open
        .iter()
        .filter(|r| r.status != AnchorStatus::Finalized)
        .map(|r| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
                r.tree_size,
                r.status.as_str(),
                r.attempts.len(),
                esc(r.tx_hash.as_deref().unwrap_or("—")),
                r.block_number.map_or_else(|| "—".into(), |b| b.to_string()),
                r.gas_used.map_or_else(|| "—".into(), |g| g.to_string()),
            )
        })
        .collect();
    let head = [
        ("树大小", "Tree size"),
        ("状态", "Status"),
        ("发送次数", "Attempts"),
        ("交易", "Transaction"),
        ("区块", "Block"),
        ("gas", "Gas"),
    ];
    table(lang, &head, &rows)
}
