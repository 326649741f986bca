//! From a raw application mail to its documents: walks the attachments
//! (including ZIP archives, winmail.dat and forwarded mails), detects each
//! format by its bytes, runs the extractor, and names each document's role.
//! Nothing here touches the file system: names are display strings only.

use super::{ExtractError, Extracted, Limits, archive, docx, glyphs, odt, pdf};
use crate::domain::HeaderText;
use mail_parser::{Message, MessageParser, MimeHeaders};
use serde::Serialize;

/// What a document is for the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Questionnaire,
    Motivation,
    Other,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Questionnaire => "questionnaire",
            Role::Motivation => "motivation",
            Role::Other => "other",
        }
    }
}

/// The detected format, by magic bytes first, then by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Pdf,
    Docx,
    Odt,
    Zip,
    Tnef,
    Text,
    Image,
    WordBinary,
    Unknown,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Odt => "odt",
            Format::Zip => "zip",
            Format::Tnef => "tnef",
            Format::Text => "text",
            Format::Image => "image",
            Format::WordBinary => "doc",
            Format::Unknown => "unknown",
        }
    }
}

/// One document found in the mail.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    /// Display name, e.g. `unterlagen.zip › Fragebogen.docx`.
    pub name: String,
    pub format: Format,
    pub role: Role,
    pub sha256: String,
    pub size: usize,
    /// The extraction, or why a human must look at the file.
    pub extracted: Option<Extracted>,
    pub problem: Option<String>,
}

impl Document {
    pub fn readable(&self) -> bool {
        self.problem.is_none()
    }
}

/// Everything read from one mail.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Analysis {
    pub documents: Vec<Document>,
    /// The text of the mail body (for dates written in the mail itself).
    pub body: String,
}

/// Analyses a raw mail. Never fails: what cannot be read is reported per document.
pub fn analyse(raw: &[u8], limits: &Limits) -> Analysis {
    if let Some(too_big) = over_size(raw.len()) {
        return too_big;
    }
    // NOTE: third-party parsers may panic on hostile input (mail-parser has
    // debug_assert!s that fuzzing reaches); the mail then goes to a human.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || match MessageParser::default().parse(raw) {
            Some(message) => analyse_unguarded(&message, limits),
            None => Analysis::default(),
        },
    ))
    .unwrap_or_else(|_| parser_failure())
}

/// [`analyse`] of a mail the caller has parsed already (`raw_len` bytes):
/// intake parses each mail once and reads both its header facts and its
/// documents from the same [`Message`].
pub fn analyse_message(message: &Message<'_>, raw_len: usize, limits: &Limits) -> Analysis {
    if let Some(too_big) = over_size(raw_len) {
        return too_big;
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        analyse_unguarded(message, limits)
    }))
    .unwrap_or_else(|_| parser_failure())
}

fn over_size(len: usize) -> Option<Analysis> {
    (len > MAX_MESSAGE_BYTES).then(|| {
        whole_mail_problem(&format!(
            "mail of {} MiB is over the limit of {} MiB",
            len >> 20,
            MAX_MESSAGE_BYTES >> 20
        ))
    })
}

fn parser_failure() -> Analysis {
    tracing::error!("document analysis panicked; the mail is left for a human");
    whole_mail_problem("the mail could not be taken apart (parser failure)")
}

/// A whole mail larger than this is not taken apart; a human looks at it.
pub const MAX_MESSAGE_BYTES: usize = 60 * 1024 * 1024;
/// MIME parts in one mail (all levels); more is refused as a whole.
pub const MAX_MIME_PARTS: usize = 1_000;

/// The analysis of a mail that could not be taken apart at all: one
/// unreadable "document" naming the problem, for a human.
pub fn whole_mail_problem(problem: &str) -> Analysis {
    Analysis {
        documents: vec![unreadable("(ganze E-Mail)", Format::Unknown, &[], problem)],
        body: String::new(),
    }
}

/// [`analyse`] on its own thread with a time budget, so that no extractor can
/// hang the intake.
pub fn analyse_isolated(raw: Vec<u8>, limits: Limits, budget: std::time::Duration) -> Analysis {
    let delay = test_delay();
    super::isolate::run_isolated(budget, move || {
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        Ok(analyse(&raw, &limits))
    })
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "document analysis did not finish; the mail is left for a human");
        whole_mail_problem(&e.to_string())
    })
}

/// Debug builds only: `POSTBOTE_TEST_ANALYSIS_DELAY_SECS=N` makes every
/// analysis take N seconds more, as a slow parser would, so that the test
/// suite can stop the real binary in the middle of one
/// (`tests/daemon/shutdown.rs`). Release builds have no such hook.
#[cfg(debug_assertions)]
pub fn test_delay() -> Option<std::time::Duration> {
    let secs = std::env::var("POSTBOTE_TEST_ANALYSIS_DELAY_SECS").ok()?;
    secs.parse().ok().map(std::time::Duration::from_secs)
}

#[cfg(not(debug_assertions))]
pub fn test_delay() -> Option<std::time::Duration> {
    None
}

fn analyse_unguarded(message: &Message<'_>, limits: &Limits) -> Analysis {
    if message.parts.len() > MAX_MIME_PARTS {
        let problem = format!(
            "mail has {} MIME parts, over the limit of {MAX_MIME_PARTS}",
            message.parts.len()
        );
        return whole_mail_problem(&problem);
    }
    let mut out = Analysis {
        body: message
            .body_text(0)
            .map(|b| b.chars().take(20_000).collect())
            .unwrap_or_default(),
        documents: Vec::new(),
    };
    walk_message(message, "", 0, limits, &mut out.documents);
    out
}

fn walk_message(
    message: &Message<'_>,
    prefix: &str,
    depth: u32,
    limits: &Limits,
    out: &mut Vec<Document>,
) {
    for (i, part) in message.attachments().enumerate() {
        if out.len() >= limits.max_zip_entries {
            return;
        }
        let name = part
            .attachment_name()
            .map(|n| HeaderText::sanitize(n, 120).to_string())
            .unwrap_or_else(|| format!("Anhang {}", i + 1));
        let shown = join(prefix, &name);
        if let Some(inner) = part.message() {
            if depth < limits.max_depth {
                walk_message(
                    inner,
                    &join(prefix, "weitergeleitete E-Mail"),
                    depth + 1,
                    limits,
                    out,
                );
            }
            continue;
        }
        let ctype = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase())
            .unwrap_or_default();
        add_file(&shown, &ctype, part.contents(), depth, limits, out);
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix} › {name}")
    }
}

/// Detects the format of one file, unpacks containers, extracts documents.
fn add_file(
    name: &str,
    ctype: &str,
    bytes: &[u8],
    depth: u32,
    limits: &Limits,
    out: &mut Vec<Document>,
) {
    let format = detect(name, ctype, bytes);
    match format {
        Format::Zip if depth < limits.max_depth => match archive::entries(bytes, limits) {
            Ok(entries) => {
                for e in entries.into_iter().filter(|e| !e.is_dir) {
                    add_file(&join(name, &e.name), "", &e.data, depth + 1, limits, out);
                }
                return;
            }
            Err(e) => return out.push(unreadable(name, format, bytes, &e.to_string())),
        },
        Format::Tnef if depth < limits.max_depth => match super::tnef::attachments(bytes, limits) {
            Ok(files) => {
                for f in files {
                    let ctype = f.mime_type.unwrap_or_default();
                    add_file(
                        &join(name, &f.name),
                        &ctype,
                        &f.data,
                        depth + 1,
                        limits,
                        out,
                    );
                }
                return;
            }
            Err(e) => return out.push(unreadable(name, format, bytes, &e.to_string())),
        },
        _ => {}
    }
    let result = match format {
        Format::Pdf => pdf::extract(bytes, limits),
        Format::Docx => docx::extract(bytes, limits),
        Format::Odt => odt::extract(bytes, limits),
        Format::Text => Ok(text_document(bytes)),
        Format::Image => Err(ExtractError::Unsupported("image (photo or scan)".into())),
        Format::WordBinary => Err(ExtractError::Unsupported("Word 97-2003 .doc".into())),
        Format::Zip | Format::Tnef => Err(ExtractError::Limit("archive nested too deeply".into())),
        Format::Unknown => Err(ExtractError::Unsupported(format!(
            "unknown file type ({ctype})"
        ))),
    };
    let mut doc = match result {
        Ok(extracted) => {
            let problem = (extracted.text.trim().is_empty()
                && extracted.fields.is_empty()
                && extracted.checkboxes.is_empty())
            .then(|| "no text: probably a scan or photo".to_string());
            Document {
                name: name.to_string(),
                format,
                role: Role::Other,
                sha256: crate::store::messages::sha256_hex(bytes),
                size: bytes.len(),
                extracted: Some(extracted),
                problem,
            }
        }
        Err(e) => unreadable(name, format, bytes, &e.to_string()),
    };
    doc.role = role_of(&doc);
    out.push(doc);
}

fn unreadable(name: &str, format: Format, bytes: &[u8], problem: &str) -> Document {
    let mut d = Document {
        name: name.to_string(),
        format,
        role: Role::Other,
        sha256: crate::store::messages::sha256_hex(bytes),
        size: bytes.len(),
        extracted: None,
        problem: Some(problem.to_string()),
    };
    d.role = role_of(&d);
    d
}

fn text_document(bytes: &[u8]) -> Extracted {
    let text: String = String::from_utf8_lossy(bytes)
        .chars()
        .take(200_000)
        .collect();
    Extracted {
        checkboxes: glyphs::checkboxes_in_text(&text),
        text,
        fields: Vec::new(),
        pages: None,
        text_runs: Vec::new(),
    }
}

/// Detects a format by magic bytes, then by name and content type.
pub fn detect(name: &str, ctype: &str, bytes: &[u8]) -> Format {
    let lower = name.to_lowercase();
    if bytes.starts_with(b"%PDF") {
        return Format::Pdf;
    }
    // NOTE: containers first: a winmail.dat or a ZIP holds "%PDF-" near its start too.
    if super::tnef::looks_like_tnef(bytes) {
        return Format::Tnef;
    }
    if archive::looks_like_zip(bytes) {
        return zip_format(&lower, ctype, bytes);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Format::WordBinary;
    }
    if lower.ends_with("winmail.dat") || ctype == "application/ms-tnef" {
        return Format::Tnef;
    }
    // Some scanners and mail gateways put bytes before the PDF header.
    if bytes.len() > 8
        && bytes[..bytes.len().min(1024)]
            .windows(5)
            .any(|w| w == b"%PDF-")
    {
        return Format::Pdf;
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        || bytes.starts_with(b"\x89PNG")
        || bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || ctype.starts_with("image/")
    {
        return Format::Image;
    }
    if ctype.starts_with("text/plain") || lower.ends_with(".txt") {
        return Format::Text;
    }
    Format::Unknown
}

/// ODT, DOCX or a plain archive, from one look at the ZIP directory (the
/// extractor decompresses the document itself later, once).
fn zip_format(lower_name: &str, ctype: &str, bytes: &[u8]) -> Format {
    let docx_named = lower_name.ends_with(".docx")
        || lower_name.ends_with(".docm")
        || ctype.contains("wordprocessingml");
    let Ok(mut zip) = archive::ZipReader::open(bytes, &Limits::default()) else {
        return if docx_named {
            Format::Docx
        } else {
            Format::Zip
        };
    };
    if matches!(zip.read("mimetype"), Ok(Some(m)) if m.starts_with(b"application/vnd.oasis.opendocument.text"))
    {
        return Format::Odt;
    }
    if docx_named || zip.names().iter().any(|n| n == "word/document.xml") {
        return Format::Docx;
    }
    Format::Zip
}

/// Names a document's role by its name, then by its content.
pub fn role_of(doc: &Document) -> Role {
    let name = doc.name.to_lowercase();
    if name.contains("fragebogen")
        || name.contains("questionnaire")
        || name.contains("bewerbungsbogen")
    {
        return Role::Questionnaire;
    }
    if name.contains("motivation") || name.contains("anschreiben") {
        return Role::Motivation;
    }
    let Some(ex) = &doc.extracted else {
        return Role::Other;
    };
    let text = ex.text.to_lowercase();
    let form_like = ex.checkboxes.len() >= 3 || ex.fields.len() >= 3;
    if text.contains("fragebogen") && form_like {
        return Role::Questionnaire;
    }
    if form_like
        && (text.contains("einwohnerzahl")
            || text.contains("terminvorschl")
            || text.contains("kennenlerngespr"))
    {
        return Role::Questionnaire;
    }
    if text.contains("motivationsschreiben")
        || text.contains("motivation")
        || text.contains("sehr geehrte")
    {
        return Role::Motivation;
    }
    if text.contains("fragebogen") {
        return Role::Questionnaire;
    }
    Role::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_that_trips_a_parser_assertion_is_no_crash() {
        // Found by `scripts/fuzz.sh` (target `mail`): nested message/rfc822
        // with headers only reaches a debug_assert! in mail-parser 0.11.9.
        let raw = b"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: message/rfc822\n\nContent-Type: message/rfc822\n\nSubject: a\n\n--B--\n";
        let _ = analyse(raw, &Limits::default());
        let _ = crate::intake::Incoming::parse(raw);
    }

    #[test]
    fn an_oversized_mail_and_a_mail_with_too_many_parts_go_to_a_human() {
        let big = vec![b'a'; MAX_MESSAGE_BYTES + 1];
        let a = analyse(&big, &Limits::default());
        assert!(
            a.documents[0]
                .problem
                .as_deref()
                .unwrap_or("")
                .contains("over the limit")
        );
        let mut many = String::from("Content-Type: multipart/mixed; boundary=B\r\n\r\n");
        for i in 0..=MAX_MIME_PARTS {
            many.push_str(&format!(
                "--B\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
            ));
        }
        many.push_str("--B--\r\n");
        let a = analyse(many.as_bytes(), &Limits::default());
        assert!(
            a.documents[0]
                .problem
                .as_deref()
                .unwrap_or("")
                .contains("MIME parts"),
            "{a:?}"
        );
    }

    #[test]
    fn the_isolated_analysis_returns_the_normal_result() {
        let a = analyse_isolated(
            b"Subject: x\r\n\r\nhi".to_vec(),
            Limits::default(),
            std::time::Duration::from_secs(5),
        );
        assert!(a.documents.is_empty(), "a quick mail is analysed normally");
    }
}
