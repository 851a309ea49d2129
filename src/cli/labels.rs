//! `traceseal labels`: create a print job for a batch and write its labels to a file, with a
//! progress line. The job records every print; labels printed before need `--reprint-reason`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use crate::labels::zpl::ZplLayout;
use crate::service::printing::{LabelFormat, PrintJob, PrintJobRequest};

/// `traceseal labels`.
#[derive(Debug, Args)]
pub struct LabelsArgs {
    /// Base URL of the traceseal service.
    #[arg(
        long,
        env = "TRACESEAL_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// File holding the operator token (DATA_DIR/admin.token).
    #[arg(
        long,
        env = "TRACESEAL_TOKEN_FILE",
        default_value = "./data/admin.token"
    )]
    pub token_file: PathBuf,
    /// The batch.
    #[arg(long)]
    pub batch: u64,
    /// Output format (zpl; png, svg and pdf are coming).
    #[arg(long, value_parser = ["zpl"], default_value = "zpl")]
    pub format: String,
    /// Where to write the labels (`-` for standard output).
    #[arg(long)]
    pub out: PathBuf,
    /// Labels START..START+COUNT of the batch, in issue order, as START:COUNT.
    #[arg(long)]
    pub range: Option<String>,
    /// Why labels printed before are printed again (logged).
    #[arg(long)]
    pub reprint_reason: Option<String>,
    /// Printer resolution: 203 or 300.
    #[arg(long, default_value_t = 203)]
    pub dpi: u32,
    /// Label width, mm.
    #[arg(long, default_value_t = 60.0)]
    pub width_mm: f64,
    /// Label height, mm.
    #[arg(long, default_value_t = 40.0)]
    pub height_mm: f64,
    /// QR module size, mm (at least 0.33).
    #[arg(long, default_value_t = 0.5)]
    pub module_mm: f64,
    /// Printer font for Chinese text.
    #[arg(long, default_value = "E:ANMDS.TTF")]
    pub cjk_font: String,
}

fn usage(m: &str) -> ExitCode {
    eprintln!("error: {m}");
    ExitCode::from(2)
}

/// Runs `traceseal labels`.
pub fn run(a: &LabelsArgs) -> ExitCode {
    let token = match crate::keys::read_secret_file(&a.token_file) {
        Ok(t) => String::from_utf8_lossy(&t).trim().to_string(),
        Err(e) => return usage(&e.to_string()),
    };
    let range = match &a.range {
        None => None,
        Some(r) => match r
            .split_once(':')
            .map(|(s, c)| (s.parse::<u64>(), c.parse::<u64>()))
        {
            Some((Ok(s), Ok(c))) => Some([s, c]),
            _ => return usage("--range must be START:COUNT, e.g. 0:1000"),
        },
    };
    let req = PrintJobRequest {
        format: LabelFormat::Zpl,
        layout: Some(ZplLayout {
            dpi: a.dpi,
            width_mm: a.width_mm,
            height_mm: a.height_mm,
            module_mm: a.module_mm,
            ec: Default::default(),
            cjk_font: a.cjk_font.clone(),
        }),
        range,
        reprint_reason: a.reprint_reason.clone(),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return usage(&e.to_string()),
    };
    let base = a.server.trim_end_matches('/').to_string();
    rt.block_on(async move {
        let http = reqwest::Client::new();
        let url = format!("{base}/api/v1/batches/{}/print-jobs", a.batch);
        let r = match http.post(&url).bearer_auth(&token).json(&req).send().await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: cannot reach {url}: {e}");
                return ExitCode::from(4);
            }
        };
        if r.status().as_u16() != 201 {
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            println!(
                "refused ({status}): {}",
                body["detail"].as_str().unwrap_or("no detail")
            );
            return ExitCode::from(1);
        }
        let job: PrintJob = match r.json().await {
            Ok(j) => j,
            Err(e) => {
                eprintln!("error: unexpected answer: {e}");
                return ExitCode::from(4);
            }
        };
        eprintln!(
            "print job {}: {} labels of batch {}{}",
            job.id,
            job.count,
            job.batch_id,
            if job.reprinted > 0 {
                format!(" ({} reprinted, logged)", job.reprinted)
            } else {
                String::new()
            }
        );
        let url = format!("{base}/api/v1/print-jobs/{}/output", job.id);
        let mut r = match http.get(&url).bearer_auth(&token).send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                eprintln!("error: {url} answered {}", r.status());
                return ExitCode::from(4);
            }
            Err(e) => {
                eprintln!("error: cannot reach {url}: {e}");
                return ExitCode::from(4);
            }
        };
        let mut out: Box<dyn Write> = if a.out.as_os_str() == "-" {
            Box::new(std::io::stdout().lock())
        } else {
            match std::fs::File::create(&a.out) {
                Ok(f) => Box::new(std::io::BufWriter::new(f)),
                Err(e) => return usage(&format!("cannot create {}: {e}", a.out.display())),
            }
        };
        let (mut labels, start, mut last) = (0u64, Instant::now(), Instant::now());
        loop {
            match r.chunk().await {
                Ok(Some(bytes)) => {
                    labels += bytes.windows(3).filter(|w| w == b"^XZ").count() as u64;
                    if let Err(e) = out.write_all(&bytes) {
                        eprintln!("\nerror: writing {}: {e}", a.out.display());
                        return ExitCode::from(2);
                    }
                    if last.elapsed() > Duration::from_millis(200) {
                        last = Instant::now();
                        eprint!(
                            "\r  {labels} / {} labels ({}%)",
                            job.count,
                            labels * 100 / job.count.max(1)
                        );
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("\nerror: the output stream broke after {labels} labels: {e}");
                    return ExitCode::from(4);
                }
            }
        }
        let _ = out.flush();
        eprintln!(
            "\r  {labels} / {} labels (100%) in {:.1} s -> {}",
            job.count,
            start.elapsed().as_secs_f64(),
            a.out.display()
        );
        if labels != job.count {
            eprintln!("error: expected {} labels, got {labels}", job.count);
            return ExitCode::from(4);
        }
        ExitCode::SUCCESS
    })
}
