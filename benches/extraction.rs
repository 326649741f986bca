//! Document extraction benchmark (part 2): time per document over a corpus
//! made by the test fixtures (p50 and max), a 20 MB PDF, and the peak RSS of
//! this process while extracting.
//!
//! Run: `cargo bench --bench extraction`. BENCH_ROUNDS (default 20) repeats the corpus.

#[allow(dead_code)]
#[path = "../tests/daemon/fixtures.rs"]
mod fixtures;

use lopdf::{Document, Object, Stream, dictionary};
use postbote::config::Programme;
use postbote::documents::Limits;
use postbote::documents::analyse::analyse;
use std::path::Path;
use std::time::{Duration, Instant};

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A PDF of about `mb` MiB: a page of text and a large uncompressed image.
fn big_pdf(mb: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let side = ((mb * 1024 * 1024 / 3) as f64).sqrt() as i64;
    let pixels: Vec<u8> = (0..(side * side * 3) as usize)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let image = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => side, "Height" => side,
        "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8 },
        pixels,
    ));
    let font = doc.add_object(
        dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" },
    );
    let content = b"BT /F1 12 Tf 72 720 Td (Motivationsschreiben mit eingescanntem Logo) Tj ET q 200 0 0 200 72 400 cm /Im1 Do Q".to_vec();
    let contents = doc.add_object(Stream::new(dictionary! {}, content));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => contents,
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font }, "XObject" => dictionary! { "Im1" => image } },
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    if doc.save_to(&mut out).is_err() {
        eprintln!("cannot build the big PDF");
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() as f64) - 1.0) * p).round() as usize]
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let programme = match Programme::load(&root.join("config/ews7.toml")) {
        Ok(p) => p,
        Err(e) => return eprintln!("{e}"),
    };
    let d: Vec<_> = programme
        .interview_days
        .iter()
        .map(|x| x.slot.start.date_naive())
        .collect();
    let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    let letter = fixtures::pdf_letter("Motivationsschreiben", 1);
    let corpus: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "questionnaire.docx (our form, filled)",
            fixtures::filled_docx(&programme, &[d[0], d[2]], "Stadt A"),
            docx,
        ),
        (
            "questionnaire.pdf (our form, filled)",
            fixtures::filled_pdf(&programme, &[d[1]], "Stadt B"),
            "application/pdf",
        ),
        ("letter.pdf (1 page)", letter.clone(), "application/pdf"),
        (
            "letter.pdf (10 pages)",
            fixtures::pdf_letter("Motivationsschreiben", 10),
            "application/pdf",
        ),
        (
            "documents.zip (docx + pdf)",
            fixtures::zip_of(&[
                ("F.docx", &fixtures::filled_docx(&programme, &[], "C")),
                ("M.pdf", &letter),
            ]),
            "application/zip",
        ),
        (
            "winmail.dat (pdf inside)",
            fixtures::winmail_dat(
                "Fragebogen.pdf",
                &fixtures::filled_pdf(&programme, &[d[3]], "D"),
            ),
            "application/ms-tnef",
        ),
        (
            "bomb.zip (300 MiB of zeros, refused)",
            fixtures::zip_bomb(300),
            "application/zip",
        ),
    ];
    let limits = Limits::default();
    let baseline = status_kb("VmRSS:");
    let mut all = Vec::new();
    println!("| document | size | p50 | max |");
    println!("|---|---|---|---|");
    for (name, bytes, ctype) in &corpus {
        let mail = fixtures::mail(
            "a@b.test",
            "x@b.test",
            "Bewerbung",
            "Anbei.",
            &[(name, ctype, bytes.clone())],
        );
        let mut times = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            let analysis = analyse(mail.as_bytes(), &limits);
            times.push(t.elapsed());
            std::hint::black_box(analysis);
        }
        times.sort();
        println!(
            "| {name} | {} KiB | {:.2} ms | {:.2} ms |",
            bytes.len() / 1024,
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
        all.extend(times);
    }
    all.sort();
    println!(
        "| all {} extractions | | {:.2} ms | {:.2} ms |",
        all.len(),
        percentile(&all, 0.5).as_secs_f64() * 1e3,
        all[all.len() - 1].as_secs_f64() * 1e3
    );
    let big = big_pdf(20);
    let mail = fixtures::mail(
        "a@b.test",
        "big@b.test",
        "Bewerbung",
        "Anbei.",
        &[("Motivationsschreiben.pdf", "application/pdf", big.clone())],
    );
    let t = Instant::now();
    let analysis = analyse(mail.as_bytes(), &limits);
    let big_time = t.elapsed();
    let read = analysis
        .documents
        .first()
        .map(|d| d.problem.clone().unwrap_or_else(|| "read".into()))
        .unwrap_or_default();
    println!(
        "| 20 MB PDF ({} KiB, one page + image) | | {:.0} ms | ({read}) |",
        big.len() / 1024,
        big_time.as_secs_f64() * 1e3
    );
    println!();
    println!(
        "RSS: {:.1} MiB before extracting, peak (VmHWM) {:.1} MiB",
        baseline as f64 / 1024.0,
        status_kb("VmHWM:") as f64 / 1024.0
    );
}
