//! Label rendering throughput against raw QR encoding of the same codes, in the same run:
//! per label PNG (300 dpi) and SVG, and whole print jobs through the service (codes read from
//! RocksDB, rendered, and streamed) of 1,000 labels as PDF sheets, PNG and ZPL. Prints the
//! ratios at the end. Peak memory of a 100,000-label PDF job: `examples/label_rss.rs`.
//!
//! Run: `./scripts/dev bench --bench labels`

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;
use traceseal::labels::layout::{LabelSpec, Qr};
use traceseal::labels::{font, png, svg, EcLevel, LabelData};
use traceseal::service::issuance::BatchRequest;
use traceseal::service::printing::{LabelFormat, PrintJobRequest};

mod common;

/// Labels per job.
const N: u64 = 1_000;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let svc = common::service(dir.path());
    let req = BatchRequest {
        gtin: common::GTIN.into(),
        lot: "LOT-1".into(),
        expiry: Some("2028-01-31".into()),
        quantity: N,
    };
    let (batch, _) = svc.issuance().issue_batch(&req, "labels", &|_| {}).unwrap();
    let codes = svc.issuance().batch_codes(&batch, 0, N as usize).unwrap();
    let data: Vec<LabelData> = codes
        .iter()
        .map(|c| LabelData {
            code: c.code.clone(),
            name_zh: "澳洲婴儿配方奶粉 1段 900克".into(),
            name_en: "Infant formula stage 1, 900 g".into(),
            gtin: common::GTIN.into(),
            lot: "LOT-1".into(),
            expiry: Some("2028-01-31".into()),
            serial: c.serial.clone(),
        })
        .collect();
    let f = font::load(Path::new(font::DEFAULT_FONT)).unwrap();
    let spec = LabelSpec {
        width_mm: 70.0,
        height_mm: 37.0,
        module_mm: None,
        ec: EcLevel::M,
    };
    let vector = spec.frame_for(&data[0], &f).unwrap();
    let raster = png::frame(&spec, 300, &data[0], &f).unwrap();

    let mut g = c.benchmark_group("labels");
    g.measurement_time(Duration::from_secs(10));
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    // Everything on all cores (rayon), as print jobs render.
    g.bench_with_input(BenchmarkId::new("raw_qr_encode", N), &data, |b, data| {
        b.iter(|| {
            data.par_iter()
                .map(|d| Qr::encode(&d.code, EcLevel::M).unwrap().size)
                .sum::<usize>()
        })
    });
    g.bench_with_input(BenchmarkId::new("png_300dpi", N), &data, |b, data| {
        b.iter(|| {
            data.par_iter()
                .map(|d| png::render(&raster.place(d, &f).unwrap(), 300, &f).len())
                .sum::<usize>()
        })
    });
    g.bench_with_input(BenchmarkId::new("svg", N), &data, |b, data| {
        b.iter(|| {
            data.par_iter()
                .map(|d| svg::render(&vector.place(d, &f).unwrap(), &f).len())
                .sum::<usize>()
        })
    });
    // Whole jobs through the service: codes from RocksDB, rendering, output chunks.
    for (format, layout) in [
        (LabelFormat::Pdf, serde_json::json!({"sheet": "a4-3x8"})),
        (
            LabelFormat::Png,
            serde_json::json!({"width_mm": 70, "height_mm": 37, "dpi": 300}),
        ),
        (
            LabelFormat::Svg,
            serde_json::json!({"width_mm": 70, "height_mm": 37}),
        ),
        (LabelFormat::Zpl, serde_json::Value::Null),
    ] {
        let job = svc
            .printing()
            .create_print_job(
                batch.id,
                &PrintJobRequest {
                    format,
                    layout: Some(layout),
                    range: None,
                    reprint_reason: Some("benchmark".into()),
                },
            )
            .unwrap();
        let name = format!("job_{}", format.extension().replace(".tar", ""));
        g.bench_function(BenchmarkId::new(name, N), |b| {
            b.iter(|| {
                let mut out = svc.printing().job_output(&job).unwrap();
                let mut bytes = 0;
                while let Some((chunk, _)) = out.next_chunk(svc.printing()).unwrap() {
                    bytes += chunk.len();
                }
                bytes
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);

fn mean_ns(id: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let p = format!("{dir}/criterion/labels/{id}/{N}/new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let Some(raw) = mean_ns("raw_qr_encode") else {
        return;
    };
    let per_s = |ns: f64| N as f64 / (ns / 1e9);
    println!(
        "\nlabels: raw QR encoding {:.0} codes/s on {} threads",
        per_s(raw),
        rayon::current_num_threads()
    );
    for id in ["png_300dpi", "svg", "job_pdf", "job_png", "job_svg"] {
        if let Some(ns) = mean_ns(id) {
            println!(
                "labels: {id:<11} {:>8.0} labels/s ({:.1}% of raw QR encoding)",
                per_s(ns),
                100.0 * raw / ns
            );
        }
    }
    if let Some(ns) = mean_ns("job_zpl") {
        println!(
            "labels: job_zpl     {:>8.0} labels/s (the printer encodes the QR code)",
            per_s(ns)
        );
    }
}
