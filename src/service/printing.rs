//! Print jobs: every label print is recorded; printing a label again needs a reason and is
//! logged (`traceseal/reprint/v1` leaves, so reprints are anchored like everything else).
//!
//! A job is created (and its prints recorded) in one synced write; its output is rendered page
//! by page when it is fetched, so a 100,000-label job never holds all its labels in memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tracing::{info, instrument};
use utoipa::ToSchema;

use super::log::PendingLeaf;
use super::types::{Batch, BatchStatus};
use super::{lock, now_unix, rfc3339, Result, Service, ServiceError};
use crate::labels::zpl::{self, ZplLayout};
use crate::labels::LabelData;
use crate::leaf::Reprint;
use crate::merkle;
use crate::store::codec::{decode_json, decode_u64, encode_json, u64_key};
use crate::store::Cf;

/// Meta key: next print job id (u64 BE).
pub const META_NEXT_PRINT_JOB: &[u8] = b"next_print_job_id";
/// Most labels in one job.
pub const MAX_JOB_LABELS: u64 = 1_000_000;
/// Serials per reprint record.
pub const REPRINT_CHUNK: usize = 10_000;
/// Labels rendered per page of output.
pub const PAGE: usize = 4096;

/// Output formats available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabelFormat {
    /// ZPL II for Zebra-compatible thermal printers.
    Zpl,
}

/// Body of `POST /api/v1/batches/{id}/print-jobs`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintJobRequest {
    /// Output format.
    pub format: LabelFormat,
    /// Label layout (default: 60 × 40 mm at 203 dpi, 0.5 mm modules).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub layout: Option<ZplLayout>,
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
    /// The layout.
    #[schema(value_type = Object)]
    pub layout: ZplLayout,
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

fn print_key(batch: u64, ordinal: u64) -> Vec<u8> {
    let mut k = u64_key(batch).to_vec();
    k.extend_from_slice(&u64_key(ordinal));
    k
}

/// Output progress of jobs being fetched, by job id.
#[derive(Default)]
pub struct PrintProgress(std::sync::Mutex<HashMap<u64, Arc<AtomicU64>>>);

impl Service {
    /// Creates a print job and records its prints; refuses to print a label again without
    /// a reason.
    #[instrument(skip(self, req))]
    pub fn create_print_job(&self, batch_id: u64, req: &PrintJobRequest) -> Result<PrintJob> {
        let batch = self.batch(batch_id)?;
        if batch.status != BatchStatus::Complete {
            return Err(ServiceError::Conflict(format!(
                "batch {batch_id} is still being issued; its labels can be printed once it is complete"
            )));
        }
        let [start, count] = req.range.unwrap_or([0, batch.issued]);
        if count == 0
            || count > MAX_JOB_LABELS
            || start.checked_add(count).is_none_or(|e| e > batch.issued)
        {
            return Err(ServiceError::Invalid(format!(
                "range [{start}, {count}] must name 1 to {MAX_JOB_LABELS} labels within the batch's {}",
                batch.issued
            )));
        }
        let layout = req.layout.clone().unwrap_or_default();
        let first = self.batch_codes(&batch, start, 1)?;
        let sample = first
            .first()
            .ok_or_else(|| ServiceError::Internal("empty batch".into()))?;
        layout
            .geometry(sample.code.len())
            .map_err(|e| ServiceError::Unprocessable(format!("layout: {e}")))?;
        self.label_product(&batch)?;
        let reason = match &req.reprint_reason {
            Some(r) => {
                let r = r.trim();
                if r.is_empty() || r.chars().count() > 200 || r.chars().any(char::is_control) {
                    return Err(ServiceError::Invalid(
                        "reprint_reason must be 1 to 200 characters".into(),
                    ));
                }
                Some(r.to_string())
            }
            None => None,
        };
        let _g = lock(&self.issuance)?;
        let id = match self.store.get(Cf::Meta, META_NEXT_PRINT_JOB)? {
            Some(b) => decode_u64(&b)?,
            None => 1,
        };
        // Which labels of the range were printed before.
        let mut records = Vec::with_capacity(count as usize);
        let mut again: Vec<u64> = Vec::new();
        let mut first_job = None;
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
                    again.push(ord + i as u64);
                    first_job.get_or_insert(rec.first_job);
                }
                records.push(rec);
            }
            ord += n;
        }
        if !again.is_empty() && reason.is_none() {
            return Err(ServiceError::Conflict(format!(
                "{} of these {count} labels were printed before (first by job {}); printing them again needs a reprint_reason, which is logged",
                again.len(),
                first_job.unwrap_or(0)
            )));
        }
        // Reprint records: the serials printed again, in chunks.
        let at = now_unix();
        let mut leaves = Vec::new();
        for chunk in again.chunks(REPRINT_CHUNK) {
            let mut serials = Vec::with_capacity(chunk.len());
            // Consecutive ordinals are read as one page.
            let mut i = 0;
            while i < chunk.len() {
                let mut j = i + 1;
                while j < chunk.len() && chunk[j] == chunk[j - 1] + 1 {
                    j += 1;
                }
                for c in self.batch_codes(&batch, chunk[i], j - i)? {
                    serials.push(c.serial);
                }
                i = j;
            }
            let data = Reprint {
                job: id,
                batch: batch_id,
                reason: reason.clone().unwrap_or_default(),
                at,
                serials,
            }
            .leaf();
            leaves.push(PendingLeaf {
                hash: merkle::leaf_hash(&data),
                data,
            });
        }
        let mut job = PrintJob {
            id,
            batch_id,
            format: req.format,
            layout,
            start,
            count,
            reprinted: again.len() as u64,
            reprint_reason: reason,
            reprint_records: Vec::new(),
            created_at: rfc3339(at),
        };
        let n_leaves = leaves.len() as u64;
        let mut out = None;
        self.append_leaves(leaves, |first, wb| {
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
            wb.put(Cf::Meta, META_NEXT_PRINT_JOB, u64_key(id + 1));
            out = Some(job.clone());
            Ok(())
        })?;
        let job =
            out.ok_or_else(|| ServiceError::Internal("print job write did not run".into()))?;
        info!(
            job = id,
            batch = batch_id,
            count,
            reprinted = job.reprinted,
            "created print job"
        );
        Ok(job)
    }

    /// A print job with its output progress.
    pub fn print_job(&self, id: u64) -> Result<PrintJobView> {
        let job: PrintJob = match self.store.get(Cf::PrintJobs, &u64_key(id))? {
            Some(v) => decode_json("print job", &v)?,
            None => return Err(ServiceError::NotFound(format!("no print job {id}"))),
        };
        let rendered = lock(&self.print_progress.0)?
            .get(&id)
            .map(|p| p.load(Ordering::Relaxed))
            .unwrap_or(0);
        Ok(PrintJobView { job, rendered })
    }

    /// The progress counter of a job's output (reset to 0).
    pub fn print_progress(&self, id: u64) -> Result<Arc<AtomicU64>> {
        let p = Arc::new(AtomicU64::new(0));
        lock(&self.print_progress.0)?.insert(id, p.clone());
        Ok(p)
    }

    fn label_product(&self, batch: &Batch) -> Result<crate::service::types::Product> {
        self.product(&batch.gtin).map_err(|_| {
            ServiceError::Unprocessable(format!(
                "GTIN {} is not a registered product; its labels need the product names",
                batch.gtin
            ))
        })
    }

    /// Renders labels `from .. from+limit` of a job (bounded by the job's range) as one
    /// chunk of output; returns it and the number of labels in it.
    pub fn render_job_page(
        &self,
        job: &PrintJob,
        from: u64,
        limit: usize,
    ) -> Result<(String, u64)> {
        let end = job.start + job.count;
        if from >= end {
            return Ok((String::new(), 0));
        }
        let batch = self.batch(job.batch_id)?;
        let product = self.label_product(&batch)?;
        let n = ((end - from) as usize).min(limit);
        let mut out = String::with_capacity(n * 700);
        let codes = self.batch_codes(&batch, from, n)?;
        for c in &codes {
            let d = LabelData {
                code: c.code.clone(),
                name_zh: product.name_zh.clone(),
                name_en: product.name_en.clone(),
                gtin: batch.gtin.clone(),
                lot: batch.lot.clone(),
                expiry: batch.expiry.clone(),
                serial: c.serial.clone(),
            };
            match job.format {
                LabelFormat::Zpl => out.push_str(
                    &zpl::label(&d, &job.layout)
                        .map_err(|e| ServiceError::Unprocessable(format!("layout: {e}")))?,
                ),
            }
        }
        Ok((out, codes.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::issuance::tests::req;
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;

    fn job(range: Option<[u64; 2]>, reason: Option<&str>) -> PrintJobRequest {
        PrintJobRequest {
            format: LabelFormat::Zpl,
            layout: None,
            range,
            reprint_reason: reason.map(String::from),
        }
    }

    #[test]
    fn prints_are_recorded_and_reprints_need_a_logged_reason() {
        let (svc, _) = test_service();
        seed(&svc);
        let (b, _) = svc.issue_batch(&req(10), "k", &|_| {}).unwrap();
        let j1 = svc.create_print_job(b.id, &job(None, None)).unwrap();
        assert_eq!((j1.count, j1.reprinted), (10, 0));
        let (zpl_text, n) = svc.render_job_page(&j1, 0, 100).unwrap();
        assert_eq!(n, 10);
        let checked = zpl::check(&zpl_text).unwrap();
        assert_eq!(checked.labels, 10);
        let codes = svc.batch_codes(&b, 0, 10).unwrap();
        assert_eq!(
            checked.qr_data,
            codes.iter().map(|c| c.code.clone()).collect::<Vec<_>>()
        );
        // Printing labels 8..10 again without a reason is refused, and nothing is recorded.
        let size = svc.log_size().unwrap();
        match svc.create_print_job(b.id, &job(Some([8, 2]), None)) {
            Err(ServiceError::Conflict(m)) => assert!(
                m.contains("2 of these 2 labels were printed before (first by job 1)"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(svc.log_size().unwrap(), size);
        // With a reason: one reprint record naming exactly those serials, in the log.
        let j2 = svc
            .create_print_job(
                b.id,
                &job(Some([8, 2]), Some("labels smudged in the printer")),
            )
            .unwrap();
        assert_eq!((j2.id, j2.reprinted, j2.reprint_records.len()), (2, 2, 1));
        let leaf = svc.leaf_data(j2.reprint_records[0]).unwrap();
        match crate::leaf::LeafRecord::parse(&leaf).unwrap() {
            crate::leaf::LeafRecord::Reprint(r) => {
                assert_eq!(
                    r.serials,
                    vec![codes[8].serial.clone(), codes[9].serial.clone()]
                );
                assert_eq!((r.job, r.batch), (2, b.id));
                assert_eq!(r.reason, "labels smudged in the printer");
            }
            other => panic!("{other:?}"),
        }
        // Bad ranges and layouts are 4xx.
        assert!(matches!(
            svc.create_print_job(b.id, &job(Some([9, 2]), None)),
            Err(ServiceError::Invalid(_))
        ));
        let mut bad = job(None, Some("x"));
        bad.layout = Some(ZplLayout {
            module_mm: 0.1,
            ..ZplLayout::default()
        });
        match svc.create_print_job(b.id, &bad) {
            Err(ServiceError::Unprocessable(m)) => assert!(m.contains("minimum"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(svc.print_job(99), Err(ServiceError::NotFound(_))));
        assert_eq!(svc.print_job(2).unwrap().job, j2);
    }
}
