//! Documents as municipalities send them, made by the test code: our own
//! questionnaire filled in, letters, archives, winmail.dat, scans.

use chrono::NaiveDate;
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};
use postbote::config::Programme;
use postbote::documents::forms;
use std::io::{Read, Write};

/// Our DOCX questionnaire with `days` ticked and the municipality filled in.
pub fn filled_docx(programme: &Programme, days: &[NaiveDate], kommune: &str) -> Vec<u8> {
    let blank = forms::questionnaire(programme).expect("form").docx;
    rewrite_zip_member(&blank, "word/document.xml", |xml| {
        let mut xml = xml.to_string();
        for day in days {
            let tag = format!(r#"<w:tag w:val="termin_{}"/>"#, day.format("%Y_%m_%d"));
            let at = xml.find(&tag).expect("date checkbox in form");
            let rest = xml[at..].replacen(
                r#"<w14:checked w14:val="0"/>"#,
                r#"<w14:checked w14:val="1"/>"#,
                1,
            );
            let rest = rest.replacen("<w:t>☐</w:t>", "<w:t>☒</w:t>", 1);
            xml = format!("{}{}", &xml[..at], rest);
        }
        let tag = r#"<w:tag w:val="kommune_name"/>"#;
        let at = xml.find(tag).expect("kommune field");
        // As Word does when typing into a control: no placeholder any more.
        let rest = xml[at..].replacen("<w:showingPlcHdr/>", "", 1).replacen(
            forms::PLACEHOLDER,
            kommune,
            1,
        );
        format!("{}{}", &xml[..at], rest)
    })
}

/// Our PDF questionnaire with `days` ticked (on-state /Ja) and the municipality filled in.
pub fn filled_pdf(programme: &Programme, days: &[NaiveDate], kommune: &str) -> Vec<u8> {
    filled_pdf_with(programme, days, kommune, "Ja")
}

/// Like [`filled_pdf`], with another on-state name (Acrobat in English writes
/// /Yes, other tools /On).
pub fn filled_pdf_with(
    programme: &Programme,
    days: &[NaiveDate],
    kommune: &str,
    on: &str,
) -> Vec<u8> {
    filled_pdf_fields(programme, days, &[("kommune_name", kommune)], on)
}

/// Our PDF questionnaire with `days` ticked and the named text fields filled.
pub fn filled_pdf_fields(
    programme: &Programme,
    days: &[NaiveDate],
    fields: &[(&str, &str)],
    on: &str,
) -> Vec<u8> {
    let blank = forms::questionnaire(programme).expect("form").pdf;
    let mut doc = Document::load_mem(&blank).expect("our pdf loads");
    let wanted: Vec<String> = days
        .iter()
        .map(|d| format!("termin_{}", d.format("%Y_%m_%d")))
        .collect();
    let ids: Vec<_> = doc.objects.keys().cloned().collect();
    for id in ids {
        let Ok(dict) = doc.get_object_mut(id).and_then(|o| o.as_dict_mut()) else {
            continue;
        };
        let Ok(name) = dict
            .get(b"T")
            .and_then(|t| t.as_str())
            .map(|t| String::from_utf8_lossy(t).to_string())
        else {
            continue;
        };
        if wanted.contains(&name) {
            dict.set("V", Object::Name(on.as_bytes().to_vec()));
            dict.set("AS", Object::Name(on.as_bytes().to_vec()));
        } else if let Some((_, value)) = fields.iter().find(|(f, _)| *f == name) {
            dict.set("V", Object::string_literal(*value));
        }
    }
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save pdf");
    out
}

/// A PDF letter with `pages` pages of text.
pub fn pdf_letter(text: &str, pages: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let mut kids = Vec::new();
    for p in 0..pages {
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 12.into()]),
                Operation::new("Td", vec![72.into(), 720.into()]),
                Operation::new(
                    "Tj",
                    vec![Object::string_literal(format!("{text} (Seite {})", p + 1))],
                ),
                Operation::new("ET", vec![]),
            ],
        };
        let stream = doc.add_object(Stream::new(
            dictionary! {},
            content.encode().expect("content"),
        ));
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => stream,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        kids.push(page.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => pages as i64 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save pdf");
    out
}

/// A ZIP archive of (name, bytes).
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        w.start_file(*name, opts).expect("zip entry");
        w.write_all(bytes).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

/// A ZIP with one member that inflates to `mb` MiB of zeros.
pub fn zip_bomb(mb: usize) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("Fragebogen.docx", opts).expect("zip entry");
    let chunk = vec![0u8; 1024 * 1024];
    for _ in 0..mb {
        w.write_all(&chunk).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

fn rewrite_zip_member(zip_bytes: &[u8], member: &str, f: impl Fn(&str) -> String) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        let name = entry.name().expect("entry name").to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        if name == member {
            data = f(&String::from_utf8(data).expect("utf-8 xml")).into_bytes();
        }
        out.start_file(name, opts).expect("start");
        out.write_all(&data).expect("write");
    }
    out.finish().expect("finish").into_inner()
}

/// A minimal TNEF container (winmail.dat) holding one attachment.
pub fn winmail_dat(name: &str, data: &[u8]) -> Vec<u8> {
    fn attr(out: &mut Vec<u8>, level: u8, id: u32, data: &[u8]) {
        out.push(level);
        out.extend(id.to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        let sum = data.iter().fold(0u16, |s, b| s.wrapping_add(u16::from(*b)));
        out.extend(sum.to_le_bytes());
    }
    let mut out = Vec::new();
    out.extend(0x223E_9F78u32.to_le_bytes());
    out.extend(0x0001u16.to_le_bytes());
    attr(&mut out, 1, 0x0008_9006, &0x0001_0000u32.to_le_bytes()); // attTnefVersion
    attr(&mut out, 2, 0x0006_9002, &[0u8; 14]); // attAttachRendData
    let mut title = name.as_bytes().to_vec();
    title.push(0);
    attr(&mut out, 2, 0x0001_8010, &title); // attAttachTitle
    attr(&mut out, 2, 0x0006_800F, data); // attAttachData
    out
}

/// A mail with a text body and attachments, as Outlook would send it.
pub fn mail(
    from: &str,
    message_id: &str,
    subject: &str,
    body: &str,
    attachments: &[(&str, &str, Vec<u8>)],
) -> String {
    use base64::Engine;
    let mut parts = format!(
        "--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    );
    for (name, ctype, bytes) in attachments {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        parts.push_str(&format!(
            "--XYZ\r\nContent-Type: {ctype}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            lines.join("\r\n")
        ));
    }
    parts.push_str("--XYZ--\r\n");
    format!(
        "From: Stadtverwaltung <{from}>\r\nTo: projekt@ews.test\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n{parts}"
    )
}

/// Wraps a whole mail as a forwarded attachment (message/rfc822).
pub fn forwarded(from: &str, message_id: &str, inner: &str) -> String {
    format!(
        "From: Weiterleitung <{from}>\r\nTo: projekt@ews.test\r\nSubject: WG: Bewerbung EWS 7\r\nMessage-ID: <{message_id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"FWD\"\r\n\r\n\
         --FWD\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei die weitergeleitete Bewerbung.\r\n\
         --FWD\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"Bewerbung.eml\"\r\n\r\n{inner}\r\n--FWD--\r\n"
    )
}

/// A questionnaire as somebody else's ODT form: one `form:checkbox` per day.
pub fn odt_questionnaire(days: &[NaiveDate], ticked: &[NaiveDate]) -> Vec<u8> {
    let mut controls = String::new();
    let mut paragraphs = String::new();
    for (i, d) in days.iter().enumerate() {
        let state = if ticked.contains(d) {
            "checked"
        } else {
            "unchecked"
        };
        controls.push_str(&format!(
            r#"<form:checkbox form:name="tag{i}" form:control-implementation="ooo:com.sun.star.form.component.CheckBox" xml:id="c{i}" form:id="c{i}" form:current-state="{state}" form:label="Termin am {}"/>"#,
            d.format("%d.%m.%Y")
        ));
        paragraphs.push_str(&format!(
            r#"<text:p><draw:control draw:control="c{i}"/>Termin am {}</text:p>"#,
            d.format("%d.%m.%Y")
        ));
    }
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:form="urn:oasis:names:tc:opendocument:xmlns:form:1.0" xmlns:xml="http://www.w3.org/XML/1998/namespace" office:version="1.3"><office:body><office:text><office:forms><form:form form:name="Standard">{controls}</form:form></office:forms><text:h>Fragebogen zur Bewerbung</text:h><text:p>Name der Kommune: Gemeinde Odtstadt</text:p>{paragraphs}</office:text></office:body></office:document-content>"#
    );
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("mimetype", stored).expect("entry");
    w.write_all(b"application/vnd.oasis.opendocument.text")
        .expect("write");
    w.start_file("content.xml", stored).expect("entry");
    w.write_all(content.as_bytes()).expect("write");
    w.finish().expect("finish").into_inner()
}

/// A Word document with legacy form-field checkboxes (`w:ffData/w:checkBox`),
/// or with plain ☒/☐ glyphs in a table when `glyphs` is set.
pub fn docx_questionnaire(days: &[NaiveDate], ticked: &[NaiveDate], glyphs: bool) -> Vec<u8> {
    let mut body = String::from("<w:p><w:r><w:t>Fragebogen zur Bewerbung</w:t></w:r></w:p>");
    if glyphs {
        body.push_str("<w:tbl>");
    }
    for d in days {
        let on = ticked.contains(d);
        let label = format!("Termin {}", d.format("%d.%m.%Y"));
        if glyphs {
            let mark = if on { "☒" } else { "☐" };
            body.push_str(&format!(
                "<w:tr><w:tc><w:p><w:r><w:t>{mark}</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>{label}</w:t></w:r></w:p></w:tc></w:tr>"
            ));
        } else {
            let checked = if on {
                r#"<w:checked/>"#
            } else {
                r#"<w:checked w:val="0"/>"#
            };
            body.push_str(&format!(
                r#"<w:p><w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="K{}"/><w:checkBox><w:sizeAuto/><w:default w:val="0"/>{checked}</w:checkBox></w:ffData></w:fldChar></w:r><w:r><w:instrText> FORMCHECKBOX </w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:t xml:space="preserve"> {label}</w:t></w:r></w:p>"#,
                d.format("%m%d")
            ));
        }
    }
    if glyphs {
        body.push_str("</w:tbl>");
    }
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
    );
    zip_of(&[
        ("[Content_Types].xml", br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#),
        ("word/document.xml", document.as_bytes()),
    ])
}

/// A PDF whose only page is an image: what a scanner produces.
pub fn scanned_pdf() -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let image = doc.add_object(Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 64, "Height" => 64,
        "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 },
        vec![128u8; 64 * 64],
    ));
    let contents = doc.add_object(Stream::new(
        dictionary! {},
        b"q 500 0 0 700 40 60 cm /Im1 Do Q".to_vec(),
    ));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => contents,
        "Resources" => dictionary! { "XObject" => dictionary! { "Im1" => image } },
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
    doc.save_to(&mut out).expect("save pdf");
    out
}

/// A Word table with a mark (e.g. "X" or "✔") beside the ticked dates and
/// `off` beside the others, as people type into somebody else's form.
pub fn docx_table(days: &[NaiveDate], ticked: &[NaiveDate], on: &str, off: &str) -> Vec<u8> {
    let mut rows = String::new();
    for d in days {
        let mark = if ticked.contains(d) { on } else { off };
        rows.push_str(&format!(
            "<w:tr><w:tc><w:p><w:r><w:t>Termin {}</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>{mark}</w:t></w:r></w:p></w:tc></w:tr>",
            d.format("%d.%m.%Y")
        ));
    }
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Fragebogen</w:t></w:r></w:p><w:tbl>{rows}</w:tbl></w:body></w:document>"#
    );
    zip_of(&[("word/document.xml", document.as_bytes())])
}

/// A PDF whose trailer names an /Encrypt dictionary.
pub fn encrypted_pdf() -> Vec<u8> {
    let mut doc = Document::load_mem(&pdf_letter("Vertraulich", 1)).expect("pdf");
    let enc = doc.add_object(dictionary! { "Filter" => "Standard", "V" => 2, "R" => 3, "Length" => 128, "P" => -44,
        "O" => Object::string_literal(vec![1u8; 32]), "U" => Object::string_literal(vec![2u8; 32]) });
    doc.trailer.set("Encrypt", enc);
    doc.trailer.set(
        "ID",
        vec![
            Object::string_literal(vec![3u8; 16]),
            Object::string_literal(vec![3u8; 16]),
        ],
    );
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}

/// A PDF form that is XFA, not AcroForm.
pub fn xfa_pdf() -> Vec<u8> {
    let mut doc = Document::load_mem(&pdf_letter("XFA-Formular", 1)).expect("pdf");
    let xfa = doc.add_object(Stream::new(
        dictionary! {},
        b"<xdp:xdp xmlns:xdp=\"http://ns.adobe.com/xdp/\"/>".to_vec(),
    ));
    let form = doc.add_object(dictionary! { "Fields" => Vec::<Object>::new(), "XFA" => xfa });
    let root = doc
        .trailer
        .get(b"Root")
        .and_then(|r| r.as_reference())
        .expect("root");
    doc.get_object_mut(root)
        .and_then(|o| o.as_dict_mut())
        .expect("catalog")
        .set("AcroForm", form);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}

/// A DOCX whose document.xml inflates to `mb` MiB.
pub fn docx_bomb(mb: usize) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("word/document.xml", opts).expect("entry");
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..mb {
        w.write_all(&chunk).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

/// The label printed beside each interview day's box on forms made by other
/// tools: "Mo., 29.06.2026, 9:00–13:00 Uhr".
pub fn day_labels(programme: &Programme) -> Vec<String> {
    use postbote::calendar::german;
    programme
        .interview_days
        .iter()
        .map(|d| {
            format!(
                "{}, {}",
                german::format_date(d.slot.start.date_naive()),
                german::format_time_range(&d.slot.start, &d.slot.end)
            )
        })
        .collect()
}

/// A fillable questionnaire made by ReportLab, a third-party PDF generator
/// (`tests/forms/reportlab_questionnaire.py`, see there for `layout` and
/// `names`) for the municipality `kommune`: `labels` printed beside the
/// boxes, the boxes at the 1-based positions `ticked` ticked.
pub fn reportlab_form(
    layout: &str,
    names: &str,
    kommune: &str,
    labels: &[String],
    ticked: &[usize],
) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("form.pdf");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/forms/reportlab_questionnaire.py");
    let tick: Vec<String> = ticked.iter().map(usize::to_string).collect();
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg(&out)
        .args(["--layout", layout, "--names", names, "--kommune", kommune])
        .args(["--tick", &tick.join(",")])
        .args(labels)
        .status()
        .expect("python3 runs (scripts/install-test-deps.sh installs it with ReportLab)");
    assert!(status.success(), "ReportLab form generator failed");
    std::fs::read(&out).expect("generated form")
}

/// WinAnsi bytes for the text of a content stream (Latin-1, and the dashes).
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{2013}' => 0x96,
            '\u{2014}' => 0x97,
            c if (c as u32) < 0x100 => c as u8,
            _ => b'?',
        })
        .collect()
}

/// A fillable questionnaire as Word's "Save as PDF" writes one: a flipped,
/// scaled page matrix, each word placed by its own `Tm` with kerning in
/// `TJ`, checkboxes named "Kontrollkästchen1" … (in PDFDocEncoding) with the
/// on-state /Ja, `/Rect`, `/MK`, `/AP` with /Ja and /Off, and no `/P` (the
/// page's `/Annots` places them). Box n stands left of `labels[n]`; the 1-based
/// positions `ticked` are ticked. With `other_ticked`, a last box is ticked
/// beside "Anderer Terminvorschlag: ____________" (no date).
pub fn word_form(labels: &[String], ticked: &[usize], other_ticked: bool) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let page_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "TrueType", "BaseFont" => "ABCDEE+Calibri",
        "Encoding" => "WinAnsiEncoding", "FirstChar" => 32, "LastChar" => 255,
        "Widths" => (32..=255).map(|c: i64| Object::Integer(if (48..=57).contains(&c) { 507 } else { 480 })).collect::<Vec<_>>(),
    });
    let mut lines: Vec<String> = labels.to_vec();
    if other_ticked {
        lines.push("Anderer Terminvorschlag: ____________".into());
    }
    let mut content =
        b"q 1 0 0 -1 0 842 cm\nBT /F1 16 Tf 1 0 0 -1 72 80 Tm [(Fragebogen zur Bewerbung)] TJ ET\n"
            .to_vec();
    content.extend_from_slice(
        b"BT /F1 11 Tf 1 0 0 -1 72 110 Tm [(Name der Kommune: Gemeinde Wordhausen)] TJ ET\n",
    );
    let mut fields = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let top = 160.0 + 26.0 * n as f32; // from the top of the page
        content.extend_from_slice(b"BT /F1 11 Tf\n");
        let mut x = 92.0;
        for word in line.split(' ') {
            content.extend(format!("1 0 0 -1 {x:.2} {top:.2} Tm [(").bytes());
            let bytes = win_ansi(word);
            let (a, b) = bytes.split_at(bytes.len().min(1));
            content.extend_from_slice(a);
            content.extend_from_slice(b")-4(");
            content.extend_from_slice(b);
            content.extend_from_slice(b")] TJ\n");
            x += 5.3 * (word.chars().count() as f32 + 1.0);
        }
        content.extend_from_slice(b"ET\n");
        let y = 842.0 - top;
        let on = ticked.contains(&(n + 1)) || (other_ticked && n == labels.len());
        let state = if on { "Ja" } else { "Off" };
        let on_ap = doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()] },
            b"q BT /ZaDb 8 Tf 1 2 Td (4) Tj ET Q".to_vec(),
        ));
        let off_ap = doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()] },
            Vec::new(),
        ));
        let mut name = b"Kontrollk\xe4stchen".to_vec();
        name.extend(format!("{}", n + 1).bytes());
        let widget = doc.add_object(dictionary! {
            "Type" => "Annot", "Subtype" => "Widget", "FT" => "Btn", "F" => 4,
            "T" => Object::String(name, lopdf::StringFormat::Literal),
            "V" => state, "AS" => state,
            "Rect" => vec![72.into(), (y - 2.0).into(), 82.into(), (y + 8.0).into()],
            "MK" => dictionary! { "CA" => Object::string_literal("4") },
            "AP" => dictionary! { "N" => dictionary! { "Ja" => on_ap, "Off" => off_ap } },
            "DA" => Object::string_literal("/ZaDb 0 Tf 0 g"),
        });
        fields.push(Object::Reference(widget));
    }
    content.extend_from_slice(b"Q\n");
    let contents = doc.add_object(Stream::new(dictionary! {}, content));
    // Word lists the fields in the order they were inserted: here the last first.
    let annots = fields.clone();
    fields.reverse();
    doc.objects.insert(
        page_id,
        Object::Dictionary(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => contents, "Annots" => annots,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! {
        "Type" => "Catalog", "Pages" => pages_id,
        "AcroForm" => dictionary! { "Fields" => fields, "DA" => Object::string_literal("/Helv 0 Tf 0 g") },
    });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save pdf");
    out
}
