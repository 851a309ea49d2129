//! Print jobs: every label print is recorded; printing a label again needs a reason and is
//! logged (`traceseal/reprint/v2` leaves, so reprints are anchored like everything else).
//!
//! A job is created (and its prints recorded) in one synced write; its output is rendered a
//! chunk at a time when it is fetched ([`JobOutput`]), so a 100,000-label job never holds all
//! its labels in memory. Formats: ZPL (one `^XA…^XZ` per label), PDF sheets (a page goes out
//! as it fills), PNG and SVG (one file per label, in a streamed ustar archive).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tracing::{info, instrument};
use utoipa::ToSchema;

use super::base::WriteLocks;
use super::base::{lock, now_unix, rfc3339, EnterpriseDays, Result, ServiceError};
use super::errors::{InputError, PrintError};
use super::issuance::Issuance;
use super::issuance::{Batch, BatchStatus, CodeLine};
use super::log::LogBook;
use super::log::PendingLeaf;
use super::master::MasterData;
use super::master::Product;
use crate::labels::font::{self, Font};
pub use crate::labels::job::{
    entry_name, is_entry_name, ImageLayout, JobLayout, LabelFormat, SheetKind, SheetLayout,
};
use crate::labels::job::{Output, RenderError, Renderer};
use crate::labels::preview;
use crate::labels::LabelData;
use crate::leaf::Reprint;
use crate::merkle;
use crate::store::schema::{
    decode_json, decode_u64, encode_json, key_after, parse_print_day_key, print_day_key, print_key,
    u64_key, META_NEXT_PRINT_JOB,
};
use crate::store::Store;
use crate::store::{Cf, Durability, WriteBatch};
use std::path::PathBuf;

/// Most print jobs of one batch its history reads.
const MAX_HISTORY: usize = 10_000;
/// Most labels in one job.
pub const MAX_JOB_LABELS: u64 = 1_000_000;
/// Serials per reprint record.
pub const REPRINT_CHUNK: usize = 10_000;
/// Labels read from the store per page.
pub const PAGE: usize = 4096;

/// Body of `POST /api/v1/batches/{id}/print-jobs`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintJobRequest {
    /// Output format.
    pub format: LabelFormat,
    /// Layout for the format (all fields optional): ZPL `{dpi: 203|300, width_mm, height_mm,
    /// module_mm, ec, cjk_font}` (default 60 × 40 mm at 203 dpi, 0.5 mm modules); PNG/SVG
    /// [`ImageLayout`]; PDF [`SheetLayout`].
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub layout: Option<serde_json::Value>,
    /// `[start, count]`: labels `start .. start+count` of the batch in issue order (default:
    /// all).
    #[serde(default)]
    pub range: Option<[u64; 2]>,
    /// Required when any label of the range was printed before; logged.
    #[serde(default)]
    pub reprint_reason: Option<String>,
}

/// A print job as stored and served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PrintJob {
    /// Job id.
    pub id: u64,
    /// The batch.
    pub batch_id: u64,
    /// Output format.
    pub format: LabelFormat,
    /// The layout, every field spelled out.
    #[schema(value_type = Object)]
    pub layout: serde_json::Value,
    /// First label (ordinal in the batch).
    pub start: u64,
    /// Labels in the job.
    pub count: u64,
    /// Labels of the range that had been printed before (0 for a first print).
    pub reprinted: u64,
    /// The reason given for reprinting.
    pub reprint_reason: Option<String>,
    /// Leaf indexes of the reprint records.
    pub reprint_records: Vec<u64>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// Ordinals of the range's longest code and widest serial, found when the job was created
    /// (the layout was checked with them; the output reuses them instead of rescanning).
    #[serde(default)]
    pub check_labels: Option<[u64; 2]>,
    /// How often the output was fetched: every fetch after the first prints every label of
    /// the job again, so it needs a reason and is logged like a reprint.
    #[serde(default)]
    pub output_fetches: u64,
}

/// A job with its output progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PrintJobView {
    /// The job.
    pub job: PrintJob,
    /// Labels rendered by the latest (or current) fetch of the output.
    pub rendered: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct PrintRecord {
    count: u64,
    first_job: u64,
    last_job: u64,
}

/// A print job request checked against its batch, before anything is recorded.
struct CheckedJob {
    /// The (complete) batch.
    batch: Batch,
    /// `[start, count]`: the labels to print.
    range: [u64; 2],
    /// The parsed layout.
    layout: JobLayout,
    /// Ordinals of the range's longest code and widest serial (the layout fits them).
    check_labels: [u64; 2],
    /// The checked reprint reason, if one was given.
    reason: Option<String>,
}

/// The print records of a job's range, and which of its labels were printed before.
struct PriorPrints {
    /// The print record of every label of the range, in order (zero counts for new ones).
    records: Vec<PrintRecord>,
    /// Ordinals of the labels printed before.
    again: Vec<u64>,
    /// The first job that printed one of them.
    first_job: Option<u64>,
}

impl PriorPrints {
    /// Refuses to print labels again without a reprint `reason` (`count`: labels in the range).
    fn check_reprint(&self, count: u64, reason: Option<&str>) -> Result<()> {
        if !self.again.is_empty() && reason.is_none() {
            return Err(PrintError::ReprintNeedsReason {
                reprinted: self.again.len(),
                count,
                first_job: self.first_job.unwrap_or(0),
            }
            .into());
        }
        Ok(())
    }
}

/// A reprint reason: 1 to 200 characters, no control characters.
fn check_reason(r: &str) -> Result<String> {
    let r = r.trim();
    if r.is_empty() || r.chars().count() > 200 || r.chars().any(char::is_control) {
        return Err(InputError::field(
            "reprint_reason",
            "reprint_reason must be 1 to 200 characters",
        )
        .into());
    }
    Ok(r.to_string())
}

/// Output progress of jobs being fetched, by job id.
#[derive(Default)]
pub struct PrintProgress(std::sync::Mutex<HashMap<u64, Arc<AtomicU64>>>);

/// Print jobs: labels rendered from a batch's codes, each print and reprint logged.
pub struct Printing {
    store: Arc<dyn Store>,
    locks: Arc<WriteLocks>,
    log: Arc<LogBook>,
    master: Arc<MasterData>,
    issuance: Arc<Issuance>,
    label_font: PathBuf,
    print_progress: PrintProgress,
}

impl Printing {
    /// Printing over `store`, with labels set in `label_font`.
    pub fn new(
        store: Arc<dyn Store>,
        locks: Arc<WriteLocks>,
        log: Arc<LogBook>,
        master: Arc<MasterData>,
        issuance: Arc<Issuance>,
        label_font: PathBuf,
    ) -> Printing {
        Printing {
            store,
            locks,
            log,
            master,
            issuance,
            label_font,
            print_progress: PrintProgress::default(),
        }
    }
}

impl Printing {
    /// Creates a print job and records its prints; refuses to print a label again without
    /// a reason.
    #[instrument(skip(self, req))]
    pub fn create_print_job(&self, batch_id: u64, req: &PrintJobRequest) -> Result<PrintJob> {
        let checked = self.check_job_request(batch_id, req)?;
        let [start, count] = checked.range;
        let _g = lock(&self.locks.batches)?;
        let id = match self.store.get(Cf::Meta, META_NEXT_PRINT_JOB)? {
            Some(b) => decode_u64(&b)?,
            None => 1,
        };
        let prior = self.prior_prints(batch_id, checked.range)?;
        prior.check_reprint(count, checked.reason.as_deref())?;
        let at = now_unix();
        let leaves = self.reprint_leaves(
            &checked.batch,
            &prior.again,
            checked.reason.as_deref().unwrap_or_default(),
            id,
            at,
        )?;
        let job = PrintJob {
            id,
            batch_id,
            format: req.format,
            layout: checked.layout.to_value(),
            start,
            count,
            reprinted: prior.again.len() as u64,
            reprint_reason: checked.reason,
            reprint_records: Vec::new(),
            created_at: rfc3339(at),
            check_labels: Some(checked.check_labels),
            output_fetches: 0,
        };
        let reprints = self.reprint_count(&checked.batch, prior.again.len() as u64, at)?;
        let job = self.record_job(job, prior.records, leaves, reprints)?;
        info!(
            job = id,
            batch = batch_id,
            count,
            reprinted = job.reprinted,
            "created print job"
        );
        Ok(job)
    }

    /// Checks a job request before anything is recorded: the batch is complete, the range lies
    /// within it, the layout parses and fits the range's worst label, the reason is valid.
    fn check_job_request(&self, batch_id: u64, req: &PrintJobRequest) -> Result<CheckedJob> {
        let batch = self.issuance.batch(batch_id)?;
        if batch.status != BatchStatus::Complete {
            return Err(PrintError::BatchIssuing { batch: batch_id }.into());
        }
        let [start, count] = req.range.unwrap_or([0, batch.issued]);
        if count == 0
            || count > MAX_JOB_LABELS
            || start.checked_add(count).is_none_or(|e| e > batch.issued)
        {
            return Err(PrintError::BadRange {
                start,
                count,
                max: MAX_JOB_LABELS,
                issued: batch.issued,
            }
            .into());
        }
        let layout = JobLayout::parse(req.format, req.layout.as_ref())
            .map_err(|e| InputError::parse("layout", e))?;
        // Render the first label now: a layout that cannot work is refused before anything
        // is recorded.
        let (_, check_labels) = self.renderer(&batch, req.format, &layout, [start, count], None)?;
        let reason = req
            .reprint_reason
            .as_deref()
            .map(check_reason)
            .transpose()?;
        Ok(CheckedJob {
            batch,
            range: [start, count],
            layout,
            check_labels,
            reason,
        })
    }

    /// The print records of the labels `[start, count]` of a batch, and which of them were
    /// printed before.
    fn prior_prints(&self, batch_id: u64, [start, count]: [u64; 2]) -> Result<PriorPrints> {
        let mut prior = PriorPrints {
            records: Vec::with_capacity(count as usize),
            again: Vec::new(),
            first_job: None,
        };
        let mut ord = start;
        while ord < start + count {
            let n = (start + count - ord).min(PAGE as u64);
            let keys: Vec<Vec<u8>> = (ord..ord + n).map(|o| print_key(batch_id, o)).collect();
            for (i, v) in self
                .store
                .multi_get(Cf::Prints, &keys)?
                .into_iter()
                .enumerate()
            {
                let rec: PrintRecord = match v {
                    Some(b) => decode_json("print record", &b)?,
                    None => PrintRecord::default(),
                };
                if rec.count > 0 {
                    prior.again.push(ord + i as u64);
                    prior.first_job.get_or_insert(rec.first_job);
                }
                prior.records.push(rec);
            }
            ord += n;
        }
        Ok(prior)
    }

    /// Records a new job in one write with its reprint records (`leaves`, appended to the log)
    /// and the updated print records of its labels (`records`, in range order).
    fn record_job(
        &self,
        mut job: PrintJob,
        records: Vec<PrintRecord>,
        leaves: Vec<PendingLeaf>,
        reprints: Option<(Vec<u8>, u64)>,
    ) -> Result<PrintJob> {
        let (id, batch_id, start) = (job.id, job.batch_id, job.start);
        let n_leaves = leaves.len() as u64;
        let mut out = None;
        self.log.append_leaves(leaves, |first, wb| {
            job.reprint_records = (first..first + n_leaves).collect();
            for (i, mut rec) in records.into_iter().enumerate() {
                if rec.count == 0 {
                    rec.first_job = id;
                }
                rec.count += 1;
                rec.last_job = id;
                wb.put(
                    Cf::Prints,
                    print_key(batch_id, start + i as u64),
                    encode_json(&rec),
                );
            }
            wb.put(Cf::PrintJobs, u64_key(id), encode_json(&job));
            wb.put(Cf::BatchPrintJobs, print_key(batch_id, id), Vec::new());
            wb.put(Cf::Meta, META_NEXT_PRINT_JOB, u64_key(id + 1));
            if let Some((k, n)) = reprints {
                wb.add(Cf::PrintDays, k, i64::try_from(n).unwrap_or(i64::MAX));
            }
            out = Some(job.clone());
            Ok(())
        })?;
        out.ok_or_else(|| ServiceError::Internal("print job write did not run".into()))
    }

    /// The day's reprint counter to add `labels` to, for the owner of `batch`'s product
    /// (`None` when nothing is printed again).
    fn reprint_count(&self, batch: &Batch, labels: u64, at: i64) -> Result<Option<(Vec<u8>, u64)>> {
        if labels == 0 {
            return Ok(None);
        }
        let owner = self.master.product(&batch.gtin)?.enterprise_id;
        Ok(Some((print_day_key(at.div_euclid(86_400), owner), labels)))
    }

    /// Labels printed again per enterprise and day, over the `days` days (1 to 366) ending
    /// with `today` (the credit model's dated events): one key range.
    pub fn reprint_days(&self, today: i64, days: u32) -> Result<EnterpriseDays> {
        const MAX_KEYS: usize = 50_000;
        let first = today - i64::from(days.clamp(1, 366)) + 1;
        let raw = self.store.range(
            Cf::PrintDays,
            &print_day_key(first.max(0), 0),
            Some(&print_day_key(today.max(0) + 1, 0)),
            MAX_KEYS + 1,
        )?;
        let rows = raw
            .iter()
            .take(MAX_KEYS)
            .filter_map(|(k, v)| {
                let (day, e) = parse_print_day_key(k)?;
                Some((day, e, decode_u64(v).ok()?))
            })
            .collect();
        Ok(EnterpriseDays {
            rows,
            truncated: raw.len() > MAX_KEYS,
        })
    }

    /// The reprint records of `ordinals` of `batch` (the items by item reference, in chunks
    /// of [`REPRINT_CHUNK`]).
    fn reprint_leaves(
        &self,
        batch: &Batch,
        ordinals: &[u64],
        reason: &str,
        job: u64,
        at: i64,
    ) -> Result<Vec<PendingLeaf>> {
        let mut leaves = Vec::new();
        for chunk in ordinals.chunks(REPRINT_CHUNK) {
            let mut items = Vec::with_capacity(chunk.len());
            // Consecutive ordinals are read as one page.
            let mut i = 0;
            while i < chunk.len() {
                let mut j = i + 1;
                while j < chunk.len() && chunk[j] == chunk[j - 1] + 1 {
                    j += 1;
                }
                for c in self.issuance.batch_codes(batch, chunk[i], j - i)? {
                    items.push(crate::commitment::ItemRef::of_uri(&c.code));
                }
                i = j;
            }
            let data = Reprint {
                job,
                batch: batch.id,
                reason: reason.to_string(),
                at,
                items,
            }
            .leaf();
            leaves.push(PendingLeaf {
                hash: merkle::leaf_hash(&data),
                data,
            });
        }
        Ok(leaves)
    }

    /// Starts the output of job `id`. The first fetch prints the labels recorded when the job
    /// was created; every later fetch prints all of them again, so it needs `reprint_reason`
    /// and is logged (reprint records, print counts) like a reprint job.
    #[instrument(skip(self))]
    pub fn start_job_output(&self, id: u64, reprint_reason: Option<&str>) -> Result<JobOutput> {
        let reason = reprint_reason.map(check_reason).transpose()?;
        let _g = lock(&self.locks.batches)?;
        let mut job = self.print_job(id)?.job;
        if job.output_fetches == 0 {
            // Set up first (a missing font, say, is refused before the fetch counts).
            job.output_fetches = 1;
            let output = self.job_output(&job)?;
            let mut wb = WriteBatch::new();
            wb.put(Cf::PrintJobs, u64_key(id), encode_json(&job));
            self.store.write(wb, Durability::Synced)?;
            return Ok(output);
        }
        let Some(reason) = reason else {
            return Err(PrintError::RefetchNeedsReason {
                job: id,
                fetches: job.output_fetches,
                labels: job.count,
            }
            .into());
        };
        let batch = self.issuance.batch(job.batch_id)?;
        let ordinals: Vec<u64> = (job.start..job.start + job.count).collect();
        let leaves = self.reprint_leaves(&batch, &ordinals, &reason, id, now_unix())?;
        let keys: Vec<Vec<u8>> = ordinals.iter().map(|o| print_key(batch.id, *o)).collect();
        let mut records = Vec::with_capacity(keys.len());
        for page in keys.chunks(PAGE) {
            for v in self.store.multi_get(Cf::Prints, page)? {
                records.push(match v {
                    Some(b) => decode_json::<PrintRecord>("print record", &b)?,
                    None => PrintRecord::default(),
                });
            }
        }
        let n_leaves = leaves.len() as u64;
        job.output_fetches += 1;
        let reprints = self.reprint_count(&batch, job.count, now_unix())?;
        self.log.append_leaves(leaves, |first, wb| {
            job.reprint_records.extend(first..first + n_leaves);
            if let Some((k, n)) = reprints {
                wb.add(Cf::PrintDays, k, i64::try_from(n).unwrap_or(i64::MAX));
            }
            for (k, mut rec) in keys.into_iter().zip(records) {
                rec.count += 1;
                rec.last_job = id;
                wb.put(Cf::Prints, k, encode_json(&rec));
            }
            wb.put(Cf::PrintJobs, u64_key(id), encode_json(&job));
            Ok(())
        })?;
        info!(job = id, labels = job.count, reason = %reason, "print job output fetched again (reprint logged)");
        self.job_output(&job)
    }

    /// A print job with its output progress.
    pub fn print_job(&self, id: u64) -> Result<PrintJobView> {
        let job: PrintJob = match self.store.get(Cf::PrintJobs, &u64_key(id))? {
            Some(v) => decode_json("print job", &v)?,
            None => return Err(PrintError::JobNotFound { id }.into()),
        };
        let rendered = lock(&self.print_progress.0)?
            .get(&id)
            .map(|p| p.load(Ordering::Relaxed))
            .unwrap_or(0);
        Ok(PrintJobView { job, rendered })
    }

    /// A preview of the job `req` would make: its first page as SVG (see
    /// [`crate::labels::preview`]). The request is checked as [`Printing::create_print_job`]
    /// checks it (the same refusals), and nothing is recorded.
    pub fn preview(&self, batch_id: u64, req: &PrintJobRequest) -> Result<String> {
        let checked = self.check_job_request(batch_id, req)?;
        let [start, count] = checked.range;
        let (renderer, _) = self.renderer(
            &checked.batch,
            req.format,
            &checked.layout,
            checked.range,
            Some(checked.check_labels),
        )?;
        let n = count.min(preview::first_page_labels(&renderer) as u64) as usize;
        let product = self.label_product(&checked.batch)?;
        let labels: Vec<LabelData> = self
            .issuance
            .batch_codes(&checked.batch, start, n)?
            .into_iter()
            .map(|c| self.label_data(&checked.batch, &product, c))
            .collect();
        preview::svg(&renderer, &labels, || font::load(&self.label_font)).map_err(render_error)
    }

    /// The print jobs of batch `batch_id` (its print history: prints and reprints), newest
    /// first, at most `limit`; read through the batch's index, never the other batches' jobs.
    pub fn batch_jobs(&self, batch_id: u64, limit: usize) -> Result<Vec<PrintJob>> {
        let start = print_key(batch_id, 0);
        let end = print_key(batch_id.saturating_add(1), 0);
        let ids = self
            .store
            .range(Cf::BatchPrintJobs, &start, Some(&end), MAX_HISTORY)?;
        let keys: Vec<Vec<u8>> = ids
            .iter()
            .rev()
            .take(limit)
            .map(|(k, _)| k[8..].to_vec())
            .collect();
        let mut jobs = Vec::with_capacity(keys.len());
        for v in self
            .store
            .multi_get(Cf::PrintJobs, &keys)?
            .into_iter()
            .flatten()
        {
            jobs.push(decode_json("print job", &v)?);
        }
        Ok(jobs)
    }

    /// Indexes by batch the print jobs made before the index existed (once: when the index is
    /// empty and jobs exist). Returns how many were indexed.
    pub fn index_history(&self) -> Result<u64> {
        if !self
            .store
            .range(Cf::BatchPrintJobs, b"", None, 1)?
            .is_empty()
        {
            return Ok(0);
        }
        let (mut n, mut from) = (0, Vec::new());
        loop {
            let page = self.store.range(Cf::PrintJobs, &from, None, 1000)?;
            let Some((last, _)) = page.last() else {
                return Ok(n);
            };
            from = key_after(last);
            let mut wb = WriteBatch::with_capacity(page.len());
            for (_, v) in &page {
                let job: PrintJob = decode_json("print job", v)?;
                wb.put(
                    Cf::BatchPrintJobs,
                    print_key(job.batch_id, job.id),
                    Vec::new(),
                );
                n += 1;
            }
            self.store.write(wb, Durability::Synced)?;
        }
    }

    /// The progress counter of a job's output (reset to 0).
    pub fn print_progress(&self, id: u64) -> Result<Arc<AtomicU64>> {
        let p = Arc::new(AtomicU64::new(0));
        lock(&self.print_progress.0)?.insert(id, p.clone());
        Ok(p)
    }

    fn label_product(&self, batch: &Batch) -> Result<Product> {
        self.master.product(&batch.gtin).map_err(|_| {
            PrintError::UnregisteredProduct {
                gtin: batch.gtin.clone(),
            }
            .into()
        })
    }

    fn label_data(&self, batch: &Batch, product: &Product, c: CodeLine) -> LabelData {
        LabelData {
            code: c.code,
            name_zh: product.name_zh.clone(),
            name_en: product.name_en.clone(),
            gtin: batch.gtin.clone(),
            lot: batch.lot.clone(),
            expiry: batch.expiry.clone(),
            serial: c.serial,
        }
    }

    /// The label font (loaded once; 503 when it cannot be used).
    pub fn label_font(&self) -> Result<std::sync::Arc<Font>> {
        Ok(font::load(&self.label_font).map_err(PrintError::FontUnavailable)?)
    }

    /// Checks a layout with the range's worst label ([`Printing::worst_label`]; `known`: its
    /// ordinals, found before) and prepares the renderer, so no label of the range can fail to
    /// fit once prints are recorded. Returns the renderer and the worst label's ordinals.
    fn renderer(
        &self,
        batch: &Batch,
        format: LabelFormat,
        layout: &JobLayout,
        range: [u64; 2],
        known: Option<[u64; 2]>,
    ) -> Result<(Renderer, [u64; 2])> {
        let product = self.label_product(batch)?;
        let (sample, ordinals) = self.worst_label(batch, &product, format, range, known)?;
        let renderer = Renderer::prepare(format, layout, &sample, || font::load(&self.label_font))
            .map_err(render_error)?;
        Ok((renderer, ordinals))
    }

    /// The label a layout must be checked with: the range's longest code (it sets the QR
    /// version) with the range's widest serial (in the label font; by length for ZPL, whose
    /// text the printer draws). Every label of a batch shares the other text. With `known`
    /// ordinals (from the job's creation) it reads those two codes instead of the range.
    fn worst_label(
        &self,
        batch: &Batch,
        product: &Product,
        format: LabelFormat,
        [start, count]: [u64; 2],
        known: Option<[u64; 2]>,
    ) -> Result<(LabelData, [u64; 2])> {
        if let Some([longest, widest]) = known {
            let one = |o: u64| {
                self.issuance
                    .batch_codes(batch, o, 1)?
                    .pop()
                    .ok_or_else(|| ServiceError::Internal(format!("no label {o} in the batch")))
            };
            let mut c = one(longest)?;
            c.serial = one(widest)?.serial;
            return Ok((self.label_data(batch, product, c), [longest, widest]));
        }
        let font = match format {
            LabelFormat::Zpl => None,
            _ => Some(self.label_font()?),
        };
        let width = |s: &str| match &font {
            Some(f) => f.width(s),
            None => s.chars().count() as f32,
        };
        type Best = Option<(u64, CodeLine)>;
        let (mut code, mut serial): (Best, Option<(u64, f32, String)>) = (None, None);
        let mut ord = start;
        while ord < start + count {
            let n = (start + count - ord).min(PAGE as u64);
            for (i, c) in self
                .issuance
                .batch_codes(batch, ord, n as usize)?
                .into_iter()
                .enumerate()
            {
                let o = ord + i as u64;
                let w = width(&c.serial);
                if serial.as_ref().is_none_or(|(_, best, _)| w > *best) {
                    serial = Some((o, w, c.serial.clone()));
                }
                if code
                    .as_ref()
                    .is_none_or(|(_, l)| c.code.len() > l.code.len())
                {
                    code = Some((o, c));
                }
            }
            ord += n;
        }
        let (Some((longest, mut c)), Some((widest, _, s))) = (code, serial) else {
            return Err(ServiceError::Internal("empty range".into()));
        };
        c.serial = s;
        Ok((self.label_data(batch, product, c), [longest, widest]))
    }

    /// Starts the output of a job.
    pub fn job_output(&self, job: &PrintJob) -> Result<JobOutput> {
        let batch = self.issuance.batch(job.batch_id)?;
        let layout = JobLayout::parse(job.format, Some(&job.layout))
            .map_err(|e| ServiceError::Internal(format!("stored layout of job {}: {e}", job.id)))?;
        let (renderer, _) = self.renderer(
            &batch,
            job.format,
            &layout,
            [job.start, job.count],
            job.check_labels,
        )?;
        let product = self.label_product(&batch)?;
        let title = format!("traceseal print job {} ({} labels)", job.id, job.count);
        let out = Output::start(renderer, &title).map_err(render_error)?;
        Ok(JobOutput {
            job: job.clone(),
            batch,
            product,
            next: job.start,
            out,
            done: false,
        })
    }
}

/// The output of a print job, produced a chunk at a time.
pub struct JobOutput {
    job: PrintJob,
    batch: Batch,
    product: Product,
    next: u64,
    out: Output,
    done: bool,
}

/// A layout that cannot be rendered is the request's problem (422); a malformed one too
/// (400); a font we cannot use is ours (503).
fn render_error(e: RenderError) -> ServiceError {
    match e {
        RenderError::Layout(l) => PrintError::UnfitLayout(l).into(),
        RenderError::Invalid(_) => InputError::field("layout", e.to_string()).into(),
        RenderError::Font(f) => PrintError::FontUnavailable(f).into(),
    }
}

impl JobOutput {
    /// The job.
    pub fn job(&self) -> &PrintJob {
        &self.job
    }

    /// The next piece of output and the number of labels in it; `None` at the end. The last
    /// piece (PDF trailer, tar end marker) carries no labels.
    pub fn next_chunk(&mut self, printing: &Printing) -> Result<Option<(Vec<u8>, u64)>> {
        if self.done {
            return Ok(None);
        }
        let end = self.job.start + self.job.count;
        if self.next >= end {
            self.done = true;
            let tail = self
                .out
                .finish()
                .map_err(|e| ServiceError::Internal(format!("finishing the output: {e}")))?;
            return Ok((!tail.is_empty()).then_some((tail, 0)));
        }
        let n = ((end - self.next) as usize).min(self.job.format.chunk());
        let codes = printing.issuance.batch_codes(&self.batch, self.next, n)?;
        let mtime = now_unix().max(0) as u64;
        let labels: Vec<(u64, LabelData)> = codes
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    self.next + i as u64,
                    printing.label_data(&self.batch, &self.product, c),
                )
            })
            .collect();
        let out = self.out.render(&labels, mtime).map_err(render_error)?;
        self.next += n as u64;
        Ok(Some((out, n as u64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{tar, zpl};
    use crate::service::base::ErrorKind;
    use crate::service::issuance::tests::req;
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::Service;

    fn job(range: Option<[u64; 2]>, reason: Option<&str>) -> PrintJobRequest {
        PrintJobRequest {
            format: LabelFormat::Zpl,
            layout: None,
            range,
            reprint_reason: reason.map(String::from),
        }
    }

    /// A service with one complete batch of `n` codes.
    fn issued(n: u64) -> (Service, Batch, Vec<CodeLine>) {
        let (svc, _) = test_service();
        seed(&svc);
        let (b, _) = svc.issuance().issue_batch(&req(n), "k", &|_| {}).unwrap();
        let codes = svc.issuance().batch_codes(&b, 0, n as usize).unwrap();
        (svc, b, codes)
    }

    /// All of a job's output, and the labels counted by its chunks.
    fn output(svc: &Service, job: &PrintJob) -> (Vec<u8>, u64) {
        let mut out = svc.printing().job_output(job).unwrap();
        let (mut bytes, mut n) = (Vec::new(), 0);
        while let Some((b, k)) = out.next_chunk(svc.printing()).unwrap() {
            bytes.extend(b);
            n += k;
        }
        (bytes, n)
    }

    #[test]
    fn every_format_renders_every_label_and_bad_layouts_are_refused_before_recording() {
        let (svc, b, codes) = issued(60);
        let mk = |format, layout: serde_json::Value, range| PrintJobRequest {
            format,
            layout: Some(layout),
            range: Some(range),
            reprint_reason: None,
        };
        // PNG and SVG: a tar with one file per label, named by ordinal and serial.
        for (format, ext, range) in [
            (LabelFormat::Png, "png", [0, 3]),
            (LabelFormat::Svg, "svg", [3, 3]),
        ] {
            let j = svc
                .printing()
                .create_print_job(b.id, &mk(format, serde_json::json!({"dpi": 203}), range))
                .unwrap();
            let (bytes, n) = output(&svc, &j);
            assert_eq!(n, 3);
            let mut r = tar::Reader::default();
            let files = r.feed(&bytes).unwrap();
            assert!(r.ended);
            let names: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
            let want: Vec<String> = (range[0]..range[0] + 3)
                .map(|o| entry_name(o, &codes[o as usize].serial, ext))
                .collect();
            assert_eq!(names, want);
            assert_eq!(j.layout["dpi"], 203);
            assert_eq!(j.layout["width_mm"], 60.0);
        }
        // PDF: 24 labels per A4 3×8 sheet → 27 labels are two pages.
        let j = svc
            .printing()
            .create_print_job(b.id, &mk(LabelFormat::Pdf, serde_json::json!({}), [6, 27]))
            .unwrap();
        let (bytes, n) = output(&svc, &j);
        assert_eq!(n, 27);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("%PDF-1.7") && text.ends_with("%%EOF\n"));
        assert!(text.contains("/Count 2"), "a full page and 3 labels");
        assert_eq!(j.layout["sheet"], "a4-3x8");
        assert!(j.check_labels.is_some(), "the worst label is remembered");
        // Refused layouts: 400 for bad fields, 422 for a layout that cannot work; nothing
        // is recorded (labels 40..43 are still unprinted afterwards).
        let cases = [
            (
                LabelFormat::Pdf,
                serde_json::json!({"sheet": "a5"}),
                "layout: unknown variant",
            ),
            (
                LabelFormat::Pdf,
                serde_json::json!({"sheet": "custom"}),
                "a custom sheet needs a grid",
            ),
            (
                LabelFormat::Pdf,
                serde_json::json!({"module_mm": 0.25}),
                "below the 0.33 mm minimum",
            ),
            (
                LabelFormat::Png,
                serde_json::json!({"width_mm": 20, "height_mm": 15}),
                "too small",
            ),
            (
                LabelFormat::Png,
                serde_json::json!({"dpi": 20}),
                "dpi must be between",
            ),
            (
                LabelFormat::Svg,
                serde_json::json!({"colour": "red"}),
                "unknown field",
            ),
        ];
        let size = svc.log().log_size().unwrap();
        for (format, layout, msg) in cases {
            match svc
                .printing()
                .create_print_job(b.id, &mk(format, layout.clone(), [40, 3]))
            {
                Err(
                    e @ (ServiceError::Input(InputError::Field {
                        field: "layout", ..
                    })
                    | ServiceError::Printing(PrintError::UnfitLayout(_))),
                ) => {
                    let m = e.to_string();
                    assert!(m.contains(msg), "{layout}: {m}")
                }
                other => panic!("{layout}: {other:?}"),
            }
        }
        assert_eq!(svc.log().log_size().unwrap(), size);
        let j = svc
            .printing()
            .create_print_job(
                b.id,
                &mk(LabelFormat::Zpl, serde_json::Value::Null, [40, 3]),
            )
            .unwrap();
        assert_eq!(j.reprinted, 0);
    }

    #[test]
    fn entry_names_round_trip_and_hostile_names_are_refused() {
        for serial in ["AbC-_9", "a/b", "..", "x y", "汉字"] {
            let n = entry_name(12, serial, "png");
            assert!(is_entry_name(&n), "{n}");
            assert!(!n.contains('/'));
        }
        for bad in [
            "../../.bashrc",
            "/etc/passwd",
            "0000001-x.sh",
            "0000001-../x.png",
            "0000001-.png",
            "000001-x.png",
            "0000001-a\\b.png",
            "",
        ] {
            assert!(!is_entry_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_worst_label_has_the_longest_code_and_the_widest_serial() {
        let (svc, b, codes) = issued(300);
        let product = svc.printing().label_product(&b).unwrap();
        let font = svc.printing().label_font().unwrap();
        let widest = codes
            .iter()
            .map(|c| c.serial.clone())
            .max_by(|a, b| font.width(a).total_cmp(&font.width(b)))
            .unwrap();
        let (w, ordinals) = svc
            .printing()
            .worst_label(&b, &product, LabelFormat::Pdf, [0, 300], None)
            .unwrap();
        assert_eq!(font.width(&w.serial), font.width(&widest));
        assert_eq!(
            w.code.len(),
            codes.iter().map(|c| c.code.len()).max().unwrap()
        );
        // Over a sub-range, only that range counts.
        // The ordinals name the same label again without a scan.
        let (again, _) = svc
            .printing()
            .worst_label(&b, &product, LabelFormat::Pdf, [0, 300], Some(ordinals))
            .unwrap();
        assert_eq!(again, w);
        let (w, _) = svc
            .printing()
            .worst_label(&b, &product, LabelFormat::Pdf, [7, 1], None)
            .unwrap();
        assert_eq!(w.serial, codes[7].serial);
    }

    #[test]
    fn a_missing_label_font_is_a_clear_503_and_records_nothing() {
        let (svc, _) = test_service();
        seed(&svc);
        let (b, _) = svc.issuance().issue_batch(&req(3), "k", &|_| {}).unwrap();
        // The same data, printed with a font that is not there.
        let fontless = Printing::new(
            svc.store.clone(),
            Arc::new(WriteLocks::default()),
            svc.log.clone(),
            svc.master.clone(),
            svc.issuance.clone(),
            "/nonexistent/font.ttc".into(),
        );
        let mut r = job(None, None);
        r.format = LabelFormat::Pdf;
        match fontless.create_print_job(b.id, &r) {
            Err(e @ ServiceError::Printing(PrintError::FontUnavailable(_))) => {
                assert_eq!(e.kind(), ErrorKind::Unavailable);
                let m = e.to_string();
                assert!(
                    m.contains("/nonexistent/font.ttc") && m.contains("fonts-wqy-microhei"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        // ZPL needs no font (the printer draws the text); nothing was recorded above.
        let j = svc
            .printing()
            .create_print_job(b.id, &job(None, None))
            .unwrap();
        assert_eq!((j.id, j.reprinted), (1, 0));
    }

    #[test]
    fn prints_are_recorded_and_reprints_need_a_logged_reason() {
        let (svc, _) = test_service();
        seed(&svc);
        let (b, _) = svc.issuance().issue_batch(&req(10), "k", &|_| {}).unwrap();
        let j1 = svc
            .printing()
            .create_print_job(b.id, &job(None, None))
            .unwrap();
        assert_eq!((j1.count, j1.reprinted), (10, 0));
        let (bytes, n) = output(&svc, &j1);
        assert_eq!(n, 10);
        let checked = zpl::check(&String::from_utf8(bytes).unwrap()).unwrap();
        assert_eq!(checked.labels, 10);
        let codes = svc.issuance().batch_codes(&b, 0, 10).unwrap();
        assert_eq!(
            checked.qr_data,
            codes.iter().map(|c| c.code.clone()).collect::<Vec<_>>()
        );
        // Printing labels 8..10 again without a reason is refused, and nothing is recorded.
        let size = svc.log().log_size().unwrap();
        match svc
            .printing()
            .create_print_job(b.id, &job(Some([8, 2]), None))
        {
            Err(e @ ServiceError::Printing(PrintError::ReprintNeedsReason { .. })) => assert!(
                e.to_string()
                    .contains("2 of these 2 labels were printed before (first by job 1)"),
                "{e}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(svc.log().log_size().unwrap(), size);
        // With a reason: one reprint record naming exactly those serials, in the log.
        let j2 = svc
            .printing()
            .create_print_job(
                b.id,
                &job(Some([8, 2]), Some("labels smudged in the printer")),
            )
            .unwrap();
        assert_eq!((j2.id, j2.reprinted, j2.reprint_records.len()), (2, 2, 1));
        let leaf = svc.log().leaf_data(j2.reprint_records[0]).unwrap();
        match crate::leaf::LeafRecord::parse(&leaf).unwrap() {
            crate::leaf::LeafRecord::Reprint(r) => {
                assert_eq!(
                    r.items,
                    vec![
                        crate::commitment::ItemRef::of_uri(&codes[8].code),
                        crate::commitment::ItemRef::of_uri(&codes[9].code)
                    ]
                );
                assert_eq!((r.job, r.batch), (2, b.id));
                assert_eq!(r.reason, "labels smudged in the printer");
            }
            other => panic!("{other:?}"),
        }
        // Bad ranges and layouts are 4xx.
        assert!(matches!(
            svc.printing()
                .create_print_job(b.id, &job(Some([9, 2]), None)),
            Err(ServiceError::Printing(PrintError::BadRange { .. }))
        ));
        let mut bad = job(None, Some("x"));
        bad.layout = Some(
            serde_json::json!({"dpi": 203, "width_mm": 60.0, "height_mm": 40.0,
            "module_mm": 0.1, "cjk_font": "E:ANMDS.TTF"}),
        );
        match svc.printing().create_print_job(b.id, &bad) {
            Err(e @ ServiceError::Printing(PrintError::UnfitLayout(_))) => {
                assert!(e.to_string().contains("minimum"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            svc.printing().print_job(99),
            Err(ServiceError::Printing(PrintError::JobNotFound { id: 99 }))
        ));
        assert_eq!(svc.printing().print_job(2).unwrap().job, j2);
    }

    #[test]
    fn fetching_a_job_output_again_is_a_logged_reprint() {
        let (svc, _) = test_service();
        seed(&svc);
        let (b, _) = svc.issuance().issue_batch(&req(4), "k", &|_| {}).unwrap();
        let j = svc
            .printing()
            .create_print_job(b.id, &job(None, None))
            .unwrap();
        let first = svc.printing().start_job_output(j.id, None).unwrap();
        assert_eq!(first.job().output_fetches, 1);
        let size = svc.log().log_size().unwrap();
        match svc.printing().start_job_output(j.id, None) {
            Err(e @ ServiceError::Printing(PrintError::RefetchNeedsReason { .. })) => {
                assert!(e.to_string().contains("fetched 1 time(s) before"), "{e}")
            }
            other => panic!("{:?}", other.map(|o| o.job().clone())),
        }
        assert_eq!(
            svc.log().log_size().unwrap(),
            size,
            "a refusal logs nothing"
        );
        let again = svc
            .printing()
            .start_job_output(j.id, Some("printer jammed"))
            .unwrap();
        assert_eq!(again.job().output_fetches, 2);
        let rec = *again.job().reprint_records.last().unwrap();
        match crate::leaf::LeafRecord::parse(&svc.log().leaf_data(rec).unwrap()).unwrap() {
            crate::leaf::LeafRecord::Reprint(r) => {
                assert_eq!((r.job, r.items.len()), (j.id, 4));
                assert_eq!(r.reason, "printer jammed");
            }
            other => panic!("{other:?}"),
        }
        // The labels now count as printed twice: a new job for them needs a reason too.
        assert!(matches!(
            svc.printing()
                .create_print_job(b.id, &job(Some([0, 1]), None)),
            Err(ServiceError::Printing(
                PrintError::ReprintNeedsReason { .. }
            ))
        ));
    }
}
