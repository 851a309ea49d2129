//! Print jobs over HTTP on RocksDB: ZPL output streamed and syntax-checked; PNG labels and PDF
//! sheets (rasterised by poppler's `pdftoppm`) read back by an independent QR decoder (zbar),
//! every label carrying exactly an issued code that scans genuine, in the right cell of the
//! sheet; prints recorded, reprints refused without a reason and logged with one; the
//! `traceseal labels` command for each format.

mod common;

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
    let text = String::from_utf8(s.leaf_bytes(leaf_index).await).unwrap();
    assert!(text.starts_with("traceseal/reprint/v2\n"), "{text}");
    assert!(text.contains("label torn"));
    // The reprinted item is named by its item reference, never by its serial or code.
    let serial2 = traceseal::code::Code::parse(&codes[2]).unwrap();
    let serial2 = serial2.item().serial.as_str();
    assert!(
        text.contains(&traceseal::commitment::ItemRef::of_uri(&codes[2]).to_string()),
        "{text}"
    );
    assert!(!text.contains(serial2), "{text}");

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
    let out = s.dir.path().join("labels.zpl");
    let run = |extra: Vec<String>| {
        let mut args: Vec<String> = ["--out", out.to_str().unwrap(), "--format", "zpl"]
            .into_iter()
            .chain(["--dpi", "300"])
            .map(String::from)
            .collect();
        args.extend(extra);
        labels_command(&s, batch, args)
    };
    let o = run(vec![]).await.unwrap();
    let text = output_text(&o);
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

/// Decodes every QR code in a greyscale image with zbar (`zbarimg`, Debian's zbar-tools, an
/// independent decoder; installed by `./scripts/dev setup`).
fn decode_all(w: usize, h: usize, pixels: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("img.png");
    let mut enc = png::Encoder::new(std::fs::File::create(&file).unwrap(), w as u32, h as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.write_header()
        .unwrap()
        .write_image_data(pixels)
        .unwrap();
    let o = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(&file)
        .output()
        .expect("zbarimg (zbar-tools) is installed by ./scripts/dev setup");
    // Exit 0: symbols found; 4: none.
    assert!(
        matches!(o.status.code(), Some(0 | 4)),
        "zbarimg: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Runs `traceseal labels` for `batch` against the test server with `args`.
fn labels_command(
    s: &TestServer,
    batch: u64,
    args: Vec<String>,
) -> tokio::task::JoinHandle<std::process::Output> {
    let token = s.dir.path().join("data/admin.token");
    let mut all: Vec<String> = ["labels", "--server", &s.base, "--token-file"]
        .into_iter()
        .map(String::from)
        .collect();
    all.extend([
        token.to_str().unwrap().to_string(),
        "--batch".into(),
        batch.to_string(),
    ]);
    all.extend(args);
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin())
            .args(&all)
            .output()
            .unwrap()
    })
}

/// A command's standard output and error, together.
fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A PNG as 8-bit grey (pdftoppm writes RGB even with `-gray`; ours are grey).
fn read_png(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    let channels = info.color_type.samples();
    let grey = buf.chunks(channels).map(|p| p[0]).collect();
    (info.width as usize, info.height as usize, grey)
}

async fn job_output(s: &TestServer, batch: u64, body: Value) -> (Value, reqwest::Response) {
    let r = s
        .admin_post(&format!("/api/v1/batches/{batch}/print-jobs"), body)
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let job: Value = r.json().await.unwrap();
    let r = s
        .admin_get(&format!("/api/v1/print-jobs/{}/output", job["id"]))
        .await;
    assert_eq!(r.status(), 200);
    (job, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn png_labels_and_pdf_sheets_decode_to_their_codes_which_scan_genuine() {
    let s = TestServer::start(test_config()).await;
    s.seed().await;
    let (batch, codes) = s.issue("b1", 70).await;

    // PNG at 300 dpi: a tar of one file per label, each decoded by rqrr.
    let (_, r) = job_output(
        &s,
        batch,
        json!({"format": "png", "range": [0, 4], "layout": {"dpi": 300, "width_mm": 60, "height_mm": 40}}),
    )
    .await;
    assert_eq!(r.headers()["content-type"], "application/x-tar");
    let bytes = r.bytes().await.unwrap();
    let mut reader = traceseal::labels::tar::Reader::default();
    let files = reader.feed(&bytes).unwrap();
    assert!(reader.ended);
    assert_eq!(files.len(), 4);
    for (i, (name, data)) in files.iter().enumerate() {
        assert!(name.ends_with(".png"), "{name}");
        let (w, h, px) = read_png(data);
        assert_eq!((w, h), (709, 472), "60 × 40 mm at 300 dpi");
        let found = decode_all(w, h, &px);
        assert_eq!(
            found,
            vec![codes[i].clone()],
            "{name} carries exactly its code"
        );
        let v: Value = s.get(&verify_path(&found[0])).await.json().await.unwrap();
        assert_eq!(v["verdict"], "genuine");
    }

    // PDF sheets, rasterised by pdftoppm at 300 dpi: every label decodes, in its cell.
    let dir = tempfile::tempdir().unwrap();
    for (sheet, range, per_page, cols, cell) in [
        (
            "a4-3x8",
            [4u64, 30u64],
            24usize,
            3usize,
            (70.0, 37.0, 0.0, 0.5),
        ),
        ("a4-4x10", [34, 36], 40, 4, (52.5, 29.7, 0.0, 0.0)),
    ] {
        let (job, r) = job_output(
            &s,
            batch,
            json!({"format": "pdf", "range": range, "layout": {"sheet": sheet}}),
        )
        .await;
        assert_eq!(r.headers()["content-type"], "application/pdf");
        let pdf = r.bytes().await.unwrap();
        let path = dir.path().join(format!("{sheet}.pdf"));
        std::fs::write(&path, &pdf).unwrap();
        let prefix = dir.path().join(sheet);
        let o = std::process::Command::new("pdftoppm")
            .args(["-r", "300", "-gray", "-png"])
            .arg(&path)
            .arg(&prefix)
            .output()
            .expect("pdftoppm (poppler-utils) is installed by ./scripts/dev setup");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let pages = (range[1] as usize).div_ceil(per_page);
        let mut decoded = Vec::new();
        for page in 1..=pages {
            let file = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    let n = p.file_name().unwrap().to_string_lossy().to_string();
                    n.starts_with(&format!("{sheet}-")) && n.ends_with(&format!("-{page}.png"))
                        || n == format!("{sheet}-{page}.png")
                })
                .unwrap_or_else(|| panic!("page {page} of {sheet}"));
            let (w, h, px) = read_png(&std::fs::read(&file).unwrap());
            // A4 at 300 dpi (2480.3 × 3507.9 px; pdftoppm rounds up).
            assert_eq!((w, h), (2481, 3508));
            // Each cell of the sheet, cut out of the page, holds exactly its label's code
            // (labels fill the page row by row), or nothing after the job's last label.
            let mm = 300.0 / 25.4;
            let (lw, lh, ml, mt) = cell;
            for on_page in 0..per_page {
                let (col, row) = (on_page % cols, on_page / cols);
                let x0 = ((ml + col as f64 * lw) * mm).round() as usize;
                let y0 = ((mt + row as f64 * lh) * mm).round() as usize;
                // The left 60 % of the cell: the QR code and its quiet zone are there.
                let (cw, ch) = (
                    ((lw * mm * 0.6) as usize).min(w - x0),
                    ((lh * mm) as usize).min(h - y0),
                );
                let crop: Vec<u8> = (y0..y0 + ch)
                    .flat_map(|y| px[y * w + x0..y * w + x0 + cw].iter().copied())
                    .collect();
                let found = decode_all(cw, ch, &crop);
                let i = range[0] as usize + (page - 1) * per_page + on_page;
                if i < (range[0] + range[1]) as usize {
                    assert_eq!(
                        found,
                        vec![codes[i].clone()],
                        "{sheet} page {page} cell {col},{row}"
                    );
                    decoded.push(i);
                } else {
                    assert!(
                        found.is_empty(),
                        "{sheet} page {page}: cell {col},{row} should be empty"
                    );
                }
            }
        }
        let want: Vec<usize> = (range[0] as usize..(range[0] + range[1]) as usize).collect();
        assert_eq!(decoded, want, "{sheet}: every label, in order");
        for i in [want[0], *want.last().unwrap()] {
            let v: Value = s.get(&verify_path(&codes[i])).await.json().await.unwrap();
            assert_eq!(v["verdict"], "genuine");
        }
        // The text is real text in the embedded CJK font (extractable), including Chinese.
        let o = std::process::Command::new("pdftotext")
            .args(["-layout"])
            .arg(&path)
            .arg("-")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("扫码验真 Scan to verify"), "{text}");
        let serial = codes[want[0]]
            .split("/21/")
            .nth(1)
            .unwrap()
            .split('?')
            .next()
            .unwrap();
        assert!(text.contains(&format!("SN {serial}")), "{text}");
        let o = std::process::Command::new("pdffonts")
            .arg(&path)
            .output()
            .unwrap();
        let fonts = String::from_utf8_lossy(&o.stdout);
        assert!(
            fonts.contains("CID TrueType") && fonts.contains("Identity-H"),
            "{fonts}"
        );
        assert_eq!(job["count"], range[1]);
    }
    let view: Value = s
        .admin_get("/api/v1/print-jobs/3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["rendered"], 36, "progress counts every label");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_labels_command_writes_pdf_sheets_and_png_files_with_progress() {
    let s = TestServer::start(test_config()).await;
    s.seed().await;
    let (batch, codes) = s.issue("b1", 30).await;
    let run = |args: Vec<String>| labels_command(&s, batch, args);
    let text = output_text;
    let args = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    // PDF on a custom grid (2 × 7 labels of 99 × 38 mm on A4, 4.5 mm left margin).
    let pdf = s.dir.path().join("sheet.pdf");
    let o = run(args(&[
        "--format",
        "pdf",
        "--range",
        "0:20",
        "--sheet",
        "custom",
        "--page-mm",
        "210x297",
        "--grid",
        "2x7",
        "--label-mm",
        "99x38",
        "--margin-mm",
        "4.5,15.5",
        "--pitch-mm",
        "102,38",
        "--out",
        pdf.to_str().unwrap(),
    ]))
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("[##############################] 20 / 20 labels (100%)"),
        "{}",
        text(&o)
    );
    let o2 = std::process::Command::new("pdfinfo")
        .arg(&pdf)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&o2.stdout);
    assert!(info.contains("Pages:           2"), "{info}");
    assert!(info.contains("595.276 x 841.89 pts (A4)"), "{info}");
    // PNG into a directory: one file per label, each decoding to its code.
    let dir = s.dir.path().join("png");
    std::fs::create_dir(&dir).unwrap();
    let o = run(args(&[
        "--format",
        "png",
        "--range",
        "20:3",
        "--dpi",
        "203",
        "--module-mm",
        "0.375",
        "--out",
        dir.to_str().unwrap(),
    ]))
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("(3 files)"), "{}", text(&o));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3);
    for (i, f) in files.iter().enumerate() {
        let (w, h, px) = read_png(&std::fs::read(f).unwrap());
        assert_eq!(decode_all(w, h, &px), vec![codes[20 + i].clone()]);
    }
    // Clear refusals: a module below the minimum, an incomplete custom sheet, a flag that
    // does not apply to the format.
    for (a, code, needles) in [
        (
            args(&[
                "--format",
                "svg",
                "--range",
                "23:1",
                "--module-mm",
                "0.2",
                "--out",
                "x.tar",
            ]),
            1,
            &["refused (422)", "0.33 mm minimum"][..],
        ),
        (
            args(&["--format", "pdf", "--sheet", "custom", "--out", "x.pdf"]),
            2,
            &["--sheet custom needs --page-mm, --grid and --label-mm"][..],
        ),
        (
            args(&["--format", "pdf", "--cjk-font", "E:X.TTF", "--out", "x.pdf"]),
            2,
            &["--cjk-font does not apply to --format pdf"][..],
        ),
    ] {
        let o = run(a).await.unwrap();
        assert_eq!(o.status.code(), Some(code), "{}", text(&o));
        for n in needles {
            assert!(text(&o).contains(n), "{}", text(&o));
        }
    }
    s.stop().await;
}

/// Golden-image tests of the layout: a fixed label rendered as PNG, SVG and a PDF sheet
/// (rasterised by pdftoppm) must match the images in `fixtures/labels/` (reviewed by eye when
/// they were made). `TRACESEAL_UPDATE_GOLDEN=1` rewrites them; a mismatch leaves the actual
/// image next to the golden one in the system temp dir for comparison.
mod golden {
    use std::path::PathBuf;

    use traceseal::labels::font;
    use traceseal::labels::layout::LabelSpec;
    use traceseal::labels::pdf::{PdfStream, Sheet};
    use traceseal::labels::{png, svg, EcLevel, LabelData};

    fn data(serial: &str) -> LabelData {
        LabelData {
            code: format!("https://trace.example.cn/01/06901234567892/10/L2025-001/21/{serial}?17=261231&k=6787cd43&s=8cgefUJzzPhjaViB2nIGzy1xwRBA35TLfNBeV7C4_yndO7Cnou2bLepjwB9bCLKxQm2xXgfbJ53fmJTYHAQiDg"),
            name_zh: "澳洲婴儿配方奶粉 1段 900克".into(),
            name_en: "Infant formula stage 1, 900 g".into(),
            gtin: "06901234567892".into(),
            lot: "L2025-001".into(),
            expiry: Some("2026-12-31".into()),
            serial: serial.into(),
        }
    }

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/labels")
            .join(name)
    }

    fn pixels(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut r = ::png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    /// Compares a PNG with its golden image: same size, and at most 0.05 % of pixels differ
    /// by more than 32 grey levels.
    fn check_png(name: &str, actual: &[u8]) {
        let path = fixture(name);
        if std::env::var_os("TRACESEAL_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, actual).unwrap();
            return;
        }
        let golden = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (make it with TRACESEAL_UPDATE_GOLDEN=1)",
                path.display()
            )
        });
        let (gw, gh, g) = pixels(&golden);
        let (aw, ah, a) = pixels(actual);
        let differ = g
            .iter()
            .zip(&a)
            .filter(|(x, y)| x.abs_diff(**y) > 32)
            .count();
        if (gw, gh) != (aw, ah) || differ * 2000 > g.len() {
            let out = std::env::temp_dir().join(format!("traceseal-actual-{name}"));
            std::fs::write(&out, actual).unwrap();
            panic!(
                "{name}: {aw}×{ah} vs golden {gw}×{gh}, {differ} pixels differ; actual image: {}",
                out.display()
            );
        }
    }

    #[test]
    fn png_svg_and_pdf_layouts_match_their_golden_images() {
        let f = font::load(std::path::Path::new(font::DEFAULT_FONT)).unwrap();
        let d = data("VTq4rQopsKCpjiEd");
        // PNG, 60 × 40 mm at 203 dpi (a thermal-printer size), 0.375 mm modules (3 dots).
        let spec = LabelSpec {
            width_mm: 60.0,
            height_mm: 40.0,
            module_mm: Some(0.375),
            ec: EcLevel::M,
        };
        let fr = png::frame(&spec, 203, &d, &f).unwrap();
        check_png(
            "golden-60x40-203dpi.png",
            &png::render(&fr.place(&d, &f).unwrap(), 203, &f),
        );
        // SVG, 70 × 37 mm, default module: compared as text.
        let spec = LabelSpec {
            width_mm: 70.0,
            height_mm: 37.0,
            module_mm: None,
            ec: EcLevel::M,
        };
        let fr = spec.frame_for(&d, &f).unwrap();
        let svg_text = svg::render(&fr.place(&d, &f).unwrap(), &f);
        let path = fixture("golden-70x37.svg");
        if std::env::var_os("TRACESEAL_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &svg_text).unwrap();
        }
        assert_eq!(
            svg_text,
            std::fs::read_to_string(&path).unwrap(),
            "golden-70x37.svg"
        );
        // PDF: 5 labels on an A4 3×8 sheet, rasterised at 100 dpi.
        let mut pdf = PdfStream::new(f.clone(), Sheet::A4_3X8, "golden").unwrap();
        let mut bytes = Vec::new();
        for i in 0..5 {
            let d = data(&format!("GOLDEN{i:010}"));
            pdf.add(&fr.place(&d, &f).unwrap());
            bytes.extend(pdf.take());
        }
        bytes.extend(pdf.finish().unwrap());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("g.pdf"), &bytes).unwrap();
        let o = std::process::Command::new("pdftoppm")
            .args(["-r", "100", "-gray", "-png", "-singlefile"])
            .arg(dir.path().join("g.pdf"))
            .arg(dir.path().join("g"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        check_png(
            "golden-a4-3x8-100dpi.png",
            &std::fs::read(dir.path().join("g.png")).unwrap(),
        );
    }
}
