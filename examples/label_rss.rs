//! Peak memory of a large PDF print job: a child process issues N codes (default 100,000) into
//! a fresh data directory; then this process opens it, creates one PDF job (A4 3×8) for all of
//! them and streams its output to a file, printing its resident memory as the job goes and its
//! peak (`VmHWM`) at the end — a process that does nothing but the job, so the peak is the
//! job's.
//!
//! Run: `cargo run --release --example label_rss [-- N]`

use std::io::Write;
use std::time::Instant;

use traceseal::code::Host;
use traceseal::service::issuance::BatchRequest;
use traceseal::service::master::{EnterpriseInput, ProductInput};
use traceseal::service::printing::{LabelFormat, PrintJobRequest};
use traceseal::service::setup::{self, DataDir, OpenOptions};

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn open(dir: &std::path::Path) -> traceseal::service::Service {
    let host = Host::parse("verify.example.com").unwrap();
    setup::open(&DataDir::new(dir), OpenOptions::defaults(host)).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--issue") {
        issue(std::path::Path::new(&args[2]), args[3].parse().unwrap());
        return;
    }
    let n: u64 = args
        .get(1)
        .map(|a| a.parse().expect("N must be a number"))
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let st = std::process::Command::new(&args[0])
        .arg("--issue")
        .arg(dir.path())
        .arg(n.to_string())
        .status()
        .unwrap();
    assert!(st.success());
    println!(
        "issued {n} codes (child process) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let svc = open(dir.path());
    let batch = svc.issuance().batch(1).unwrap();
    print_job(&svc, &batch, n, dir.path());
}

fn issue(dir: &std::path::Path, n: u64) {
    let dd = DataDir::new(dir);
    let host = Host::parse("verify.example.com").unwrap();
    setup::init(&dd, &host).unwrap();
    let svc = open(dir);
    let e = svc
        .master()
        .create_enterprise(&EnterpriseInput {
            name: "RSS".into(),
            uscc: "91350100M000100Y43".into(),
            country: "CN".into(),
        })
        .unwrap();
    svc.master()
        .create_product(&ProductInput {
            gtin: "09506000134352".into(),
            name_zh: "澳洲婴儿配方奶粉 1段 900克".into(),
            name_en: "Infant formula stage 1, 900 g".into(),
            enterprise_id: e.id,
            category: None,
        })
        .unwrap();
    svc.issuance()
        .issue_batch(
            &BatchRequest {
                gtin: "09506000134352".into(),
                lot: "RSS-1".into(),
                expiry: Some("2028-01-31".into()),
                quantity: n,
            },
            "rss",
            &|_| {},
        )
        .unwrap();
}

fn print_job(
    svc: &traceseal::service::Service,
    batch: &traceseal::service::issuance::Batch,
    n: u64,
    dir: &std::path::Path,
) {
    let job = svc
        .printing()
        .create_print_job(
            batch.id,
            &PrintJobRequest {
                format: LabelFormat::Pdf,
                layout: None,
                range: None,
                reprint_reason: None,
            },
        )
        .unwrap();
    let before = status_kb("VmRSS:");
    println!(
        "service open, before the job: RSS {:.1} MB, peak so far {:.1} MB",
        before as f64 / 1024.0,
        status_kb("VmHWM:") as f64 / 1024.0
    );
    let path = dir.join("job.pdf");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let t = Instant::now();
    let mut out = svc.printing().job_output(&job).unwrap();
    let (mut labels, mut bytes, mut next_report) = (0u64, 0u64, n / 10);
    while let Some((chunk, k)) = out.next_chunk(svc.printing()).unwrap() {
        file.write_all(&chunk).unwrap();
        labels += k;
        bytes += chunk.len() as u64;
        if labels >= next_report {
            println!(
                "{labels:>7} labels: RSS {:.1} MB, peak {:.1} MB, {:.1} MB written",
                status_kb("VmRSS:") as f64 / 1024.0,
                status_kb("VmHWM:") as f64 / 1024.0,
                bytes as f64 / 1e6
            );
            next_report += n / 10;
        }
    }
    file.flush().unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "PDF job of {labels} labels: {:.1} MB in {secs:.1} s ({:.0} labels/s); peak RSS of the process {:.1} MB (before the job {:.1} MB)",
        bytes as f64 / 1e6,
        labels as f64 / secs,
        status_kb("VmHWM:") as f64 / 1024.0,
        before as f64 / 1024.0
    );
}
