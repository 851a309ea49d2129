//! `traceseal labels`: create a print job for a batch and write its labels to a file, with a
//! progress line (labels rendered, from the job's progress in the API). The job records every
//! print; labels printed before need `--reprint-reason`.

use anyhow::{anyhow, bail};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use crate::labels::tar;
use crate::service::printing::{is_entry_name, PrintJob, PrintJobRequest, PrintJobView};

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
    /// Output format: pdf (label sheets), zpl (thermal printers), png or svg (one file per
    /// label: a .tar, or extracted when --out is a directory).
    #[arg(long, value_parser = ["pdf", "zpl", "png", "svg"], default_value = "pdf")]
    pub format: String,
    /// Where to write the labels (`-` for standard output; for png/svg, an existing
    /// directory receives one file per label).
    #[arg(long)]
    pub out: PathBuf,
    /// Labels START..START+COUNT of the batch, in issue order, as START:COUNT.
    #[arg(long)]
    pub range: Option<String>,
    /// Why labels printed before are printed again (logged).
    #[arg(long)]
    pub reprint_reason: Option<String>,
    /// Resolution: zpl 203 (default) or 300; png 72 to 1200 (default 300).
    #[arg(long)]
    pub dpi: Option<u32>,
    /// Label width, mm (zpl, png, svg; default 60).
    #[arg(long)]
    pub width_mm: Option<f64>,
    /// Label height, mm (zpl, png, svg; default 40).
    #[arg(long)]
    pub height_mm: Option<f64>,
    /// QR module size, mm, at least 0.33 (default: zpl 0.5; others the largest up to 0.5
    /// that fits).
    #[arg(long)]
    pub module_mm: Option<f64>,
    /// QR error correction: L, M (default), Q or H.
    #[arg(long, value_parser = ["L", "M", "Q", "H"])]
    pub ec: Option<String>,
    /// zpl: printer font for Chinese text (default E:ANMDS.TTF).
    #[arg(long)]
    pub cjk_font: Option<String>,
    /// pdf: label stock a4-3x8 (default), a4-4x10, or custom (with --page-mm, --grid,
    /// --label-mm, and optionally --margin-mm and --pitch-mm).
    #[arg(long, value_parser = ["a4-3x8", "a4-4x10", "custom"])]
    pub sheet: Option<String>,
    /// pdf custom sheet: page size WIDTHxHEIGHT in mm, e.g. 210x297.
    #[arg(long)]
    pub page_mm: Option<String>,
    /// pdf custom sheet: COLUMNSxROWS, e.g. 2x7.
    #[arg(long)]
    pub grid: Option<String>,
    /// pdf custom sheet: label size WIDTHxHEIGHT in mm, e.g. 99.1x38.1.
    #[arg(long)]
    pub label_mm: Option<String>,
    /// pdf custom sheet: LEFT,TOP margins in mm (default 0,0).
    #[arg(long)]
    pub margin_mm: Option<String>,
    /// pdf custom sheet: X,Y pitch in mm (default: the label size).
    #[arg(long)]
    pub pitch_mm: Option<String>,
}

fn pair<T: std::str::FromStr>(s: &str, seps: &[char]) -> Option<(T, T)> {
    let (a, b) = s.split_once(seps)?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The `layout` object of the request: only what was given (the server fills in defaults).
pub fn layout(a: &LabelsArgs) -> anyhow::Result<serde_json::Value> {
    let mut l = serde_json::Map::new();
    let mut put = |k: &str, v: serde_json::Value| {
        l.insert(k.to_string(), v);
    };
    let fmt = a.format.as_str();
    let only = |flag: &str, formats: &[&str]| -> anyhow::Result<()> {
        if formats.contains(&fmt) {
            Ok(())
        } else {
            Err(anyhow!("{flag} does not apply to --format {fmt}"))
        }
    };
    if let Some(d) = a.dpi {
        only("--dpi", &["zpl", "png"])?;
        put("dpi", d.into());
    }
    if let Some(w) = a.width_mm {
        only("--width-mm", &["zpl", "png", "svg"])?;
        put("width_mm", w.into());
    }
    if let Some(h) = a.height_mm {
        only("--height-mm", &["zpl", "png", "svg"])?;
        put("height_mm", h.into());
    }
    if let Some(m) = a.module_mm {
        put("module_mm", m.into());
    }
    if let Some(e) = &a.ec {
        put("ec", e.as_str().into());
    }
    if let Some(f) = &a.cjk_font {
        only("--cjk-font", &["zpl"])?;
        put("cjk_font", f.as_str().into());
    }
    let custom = [&a.page_mm, &a.grid, &a.label_mm, &a.margin_mm, &a.pitch_mm]
        .iter()
        .any(|o| o.is_some());
    if let Some(sheet) = &a.sheet {
        only("--sheet", &["pdf"])?;
        put("sheet", sheet.as_str().into());
    }
    if custom {
        if a.sheet.as_deref() != Some("custom") {
            bail!("--page-mm, --grid, --label-mm, --margin-mm and --pitch-mm need --sheet custom");
        }
        let need = |o: &Option<String>, flag: &str, seps: &[char]| -> anyhow::Result<(f64, f64)> {
            let v = o
                .as_deref()
                .ok_or_else(|| anyhow!("--sheet custom needs {flag}"))?;
            pair(v, seps).ok_or_else(|| anyhow!("{flag} {v:?}: expected two numbers, e.g. 210x297"))
        };
        let (pw, ph) = need(&a.page_mm, "--page-mm", &['x', 'X', '×'])?;
        let (lw, lh) = need(&a.label_mm, "--label-mm", &['x', 'X', '×'])?;
        let (cols, rows): (u32, u32) = a
            .grid
            .as_deref()
            .and_then(|g| pair(g, &['x', 'X', '×']))
            .ok_or_else(|| anyhow!("--sheet custom needs --grid COLUMNSxROWS, e.g. 3x8"))?;
        let (ml, mt) = match &a.margin_mm {
            Some(_) => need(&a.margin_mm, "--margin-mm", &[','])?,
            None => (0.0, 0.0),
        };
        let (px, py) = match &a.pitch_mm {
            Some(_) => need(&a.pitch_mm, "--pitch-mm", &[','])?,
            None => (lw, lh),
        };
        put(
            "grid",
            serde_json::json!({
                "page_width_mm": pw, "page_height_mm": ph, "columns": cols, "rows": rows,
                "margin_left_mm": ml, "margin_top_mm": mt, "pitch_x_mm": px, "pitch_y_mm": py,
                "label_width_mm": lw, "label_height_mm": lh,
            }),
        );
    } else if a.sheet.as_deref() == Some("custom") {
        bail!("--sheet custom needs --page-mm, --grid and --label-mm");
    }
    Ok(serde_json::Value::Object(l))
}

fn usage(m: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {m:#}");
    ExitCode::from(2)
}

/// Why `traceseal labels` stopped short: each is one exit code.
#[derive(Debug)]
enum Stop {
    /// Bad arguments or a local file that cannot be written (2).
    Usage(String),
    /// The service refused the job (1): status and its problem detail.
    Refused(u16, String),
    /// The service cannot be reached, answered unexpectedly or sent incomplete output (4).
    Remote(String),
    /// The output cannot be written (2): where, and why.
    Write(String),
}

impl Stop {
    fn exit(self) -> ExitCode {
        match self {
            Stop::Usage(m) => usage(&m),
            Stop::Refused(status, detail) => {
                println!("refused ({status}): {detail}");
                ExitCode::from(1)
            }
            Stop::Remote(m) => {
                eprintln!("{m}");
                ExitCode::from(4)
            }
            Stop::Write(m) => {
                eprintln!("\nerror: writing {m}");
                ExitCode::from(2)
            }
        }
    }
}

/// Runs `traceseal labels`.
pub fn run(a: &LabelsArgs) -> ExitCode {
    match try_run(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(stop) => stop.exit(),
    }
}

fn try_run(a: &LabelsArgs) -> Result<(), Stop> {
    let token = crate::keys::read_secret_file(&a.token_file)
        .map(|t| String::from_utf8_lossy(&t).trim().to_string())
        .map_err(|e| Stop::Usage(e.to_string()))?;
    let req = request(a)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Stop::Usage(e.to_string()))?;
    let api = Api {
        http: reqwest::Client::new(),
        base: a.server.trim_end_matches('/').to_string(),
        token,
    };
    rt.block_on(async {
        let job = api.create_job(a.batch, &req).await?;
        announce(&job);
        let r = api.output(job.id).await?;
        let mut sink = Sink::open(a)?;
        let got = receive(r, &mut sink, &api, &job).await?;
        sink.flush()?;
        finish(a, &api, &job, &sink, &got).await
    })
}

/// The print job request the flags describe.
fn request(a: &LabelsArgs) -> Result<PrintJobRequest, Stop> {
    let range = match &a.range {
        None => None,
        Some(r) => match r
            .split_once(':')
            .map(|(s, c)| (s.parse::<u64>(), c.parse::<u64>()))
        {
            Some((Ok(s), Ok(c))) => Some([s, c]),
            _ => {
                return Err(Stop::Usage(
                    "--range must be START:COUNT, e.g. 0:1000".into(),
                ))
            }
        },
    };
    let layout = layout(a).map_err(|e| Stop::Usage(format!("{e:#}")))?;
    let format = serde_json::from_value(serde_json::Value::String(a.format.clone()))
        .map_err(|e| Stop::Usage(e.to_string()))?;
    Ok(PrintJobRequest {
        format,
        layout: Some(layout),
        range,
        reprint_reason: a.reprint_reason.clone(),
    })
}

/// The service, as the operator.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn create_job(&self, batch: u64, req: &PrintJobRequest) -> Result<PrintJob, Stop> {
        let url = format!("{}/api/v1/batches/{batch}/print-jobs", self.base);
        let r = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .json(req)
            .send()
            .await
            .map_err(|e| Stop::Remote(format!("error: cannot reach {url}: {e}")))?;
        if r.status().as_u16() != 201 {
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            let detail = body["detail"].as_str().unwrap_or("no detail").to_string();
            return Err(Stop::Refused(status, detail));
        }
        r.json()
            .await
            .map_err(|e| Stop::Remote(format!("error: unexpected answer: {e}")))
    }

    async fn output(&self, job: u64) -> Result<reqwest::Response, Stop> {
        let url = format!("{}/api/v1/print-jobs/{job}/output", self.base);
        match self.http.get(&url).bearer_auth(&self.token).send().await {
            Ok(r) if r.status().is_success() => Ok(r),
            Ok(r) => Err(Stop::Remote(format!(
                "error: {url} answered {}",
                r.status()
            ))),
            Err(e) => Err(Stop::Remote(format!("error: cannot reach {url}: {e}"))),
        }
    }

    fn job_url(&self, job: u64) -> String {
        format!("{}/api/v1/print-jobs/{job}", self.base)
    }

    /// Labels rendered so far (0 when the job cannot be read).
    async fn rendered(&self, job: u64) -> u64 {
        fetch_view(&self.http, &self.job_url(job), &self.token)
            .await
            .map(|v| v.rendered)
            .unwrap_or(0)
    }
}

fn announce(job: &PrintJob) {
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
}

/// Where the output goes: a file or standard output, or (PNG and SVG into a directory) one
/// file per label extracted from the archive as it arrives.
struct Sink {
    path: PathBuf,
    out: Box<dyn Write>,
    extract: Option<(PathBuf, tar::Reader)>,
    files: u64,
}

impl Sink {
    fn open(a: &LabelsArgs) -> Result<Sink, Stop> {
        let extract = matches!(a.format.as_str(), "png" | "svg") && a.out.is_dir();
        let out: Box<dyn Write> = if extract {
            Box::new(std::io::sink())
        } else if a.out.as_os_str() == "-" {
            Box::new(std::io::stdout().lock())
        } else {
            let f = std::fs::File::create(&a.out)
                .map_err(|e| Stop::Usage(format!("cannot create {}: {e}", a.out.display())))?;
            Box::new(std::io::BufWriter::new(f))
        };
        Ok(Sink {
            path: a.out.clone(),
            out,
            extract: extract.then(|| (a.out.clone(), tar::Reader::default())),
            files: 0,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        let Some((dir, reader)) = &mut self.extract else {
            return self.out.write_all(bytes).map_err(|e| self.error(&e));
        };
        let done = reader
            .feed(bytes)
            .map_err(|e| Stop::Remote(format!("\nerror: the archive is malformed: {e}")))?;
        for (name, data) in done {
            // Only names as the service writes them: nothing outside the directory, nothing
            // hidden.
            if !is_entry_name(&name) {
                return Err(Stop::Write(format!(
                    "{}: refusing the archive entry {name:?}",
                    dir.display()
                )));
            }
            self.files += 1;
            std::fs::write(dir.join(&name), data)
                .map_err(|e| Stop::Write(format!("{}: {e}", dir.display())))?;
        }
        Ok(())
    }
}

impl Sink {
    fn error(&self, e: &dyn std::fmt::Display) -> Stop {
        Stop::Write(format!("{}: {e}", self.path.display()))
    }

    fn flush(&mut self) -> Result<(), Stop> {
        self.out.flush().map_err(|e| self.error(&e))
    }
}

/// What the output stream held: its size, the ZPL labels counted in it, and its last bytes
/// (a format's end marker).
struct Received {
    bytes: u64,
    zpl_labels: u64,
    tail: Vec<u8>,
    started: Instant,
}

/// Streams the output into the sink, with a progress bar from the job's counters.
async fn receive(
    mut r: reqwest::Response,
    sink: &mut Sink,
    api: &Api,
    job: &PrintJob,
) -> Result<Received, Stop> {
    let mut got = Received {
        bytes: 0,
        zpl_labels: 0,
        tail: Vec::new(),
        started: Instant::now(),
    };
    let mut last = Instant::now();
    // The last bytes of the previous chunk: a `^XZ` may straddle two chunks.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let bytes = match r.chunk().await {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => {
                return Err(Stop::Remote(format!(
                    "\nerror: the output stream broke after {} bytes: {e}",
                    got.bytes
                )))
            }
        };
        got.bytes += bytes.len() as u64;
        carry.extend_from_slice(&bytes);
        got.zpl_labels += carry.windows(3).filter(|w| w == b"^XZ").count() as u64;
        carry.drain(..carry.len().saturating_sub(2));
        got.tail.extend_from_slice(&bytes);
        let keep = got.tail.len().saturating_sub(2 * tar::BLOCK);
        got.tail.drain(..keep);
        sink.write(&bytes)?;
        if last.elapsed() > Duration::from_millis(300) {
            last = Instant::now();
            let done = api.rendered(job.id).await;
            eprint!(
                "\r  {} {done} / {} labels ({}%), {:.1} MB",
                bar(done, job.count),
                job.count,
                done * 100 / job.count.max(1),
                got.bytes as f64 / 1e6
            );
        }
    }
    Ok(got)
}

/// Flushes the output and checks it is complete: the service counted every label, and the
/// format's end is there.
async fn finish(
    a: &LabelsArgs,
    api: &Api,
    job: &PrintJob,
    sink: &Sink,
    got: &Received,
) -> Result<(), Stop> {
    let done = api.rendered(job.id).await;
    let ended = match a.format.as_str() {
        "zpl" => got.zpl_labels == job.count,
        "pdf" => got.tail.ends_with(b"%%EOF\n"),
        _ => got.tail.len() == 2 * tar::BLOCK && got.tail.iter().all(|&b| b == 0),
    };
    if done != job.count || !ended {
        return Err(Stop::Remote(format!(
            "\nerror: the output is incomplete ({done} of {} labels rendered); fetch the job's output again, which prints every label again and is logged: GET {}/output?reprint_reason=…",
            job.count,
            api.job_url(job.id)
        )));
    }
    eprintln!(
        "\r  {} {done} / {} labels (100%), {:.1} MB in {:.1} s -> {}{}",
        bar(done, job.count),
        job.count,
        got.bytes as f64 / 1e6,
        got.started.elapsed().as_secs_f64(),
        a.out.display(),
        if sink.extract.is_some() {
            format!(" ({} files)", sink.files)
        } else {
            String::new()
        }
    );
    Ok(())
}

async fn fetch_view(http: &reqwest::Client, url: &str, token: &str) -> Option<PrintJobView> {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// A 30-character progress bar.
fn bar(done: u64, total: u64) -> String {
    let filled = (done.min(total) * 30 / total.max(1)) as usize;
    format!("[{}{}]", "#".repeat(filled), ".".repeat(30 - filled))
}
