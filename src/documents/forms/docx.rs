//! The questionnaire as a WordprocessingML package: text fields are plain-text
//! content controls, checkboxes are `w14:checkbox` content controls (Word 2010
//! and later, LibreOffice 7 and later). Each control's `w:tag` is the field's
//! machine name.

use std::fmt::Write as _;
use std::io::{Cursor, Write as _};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::{Choice, Form, Item, PLACEHOLDER, Section, TextField};

/// A4 in twentieths of a point, margins of 2 cm.
const PAGE_WIDTH: u32 = 11_906;
const PAGE_HEIGHT: u32 = 16_838;
const MARGIN: u32 = 1_134;
const LABEL_COLUMN: u32 = 3_600;
const FIELD_COLUMN: u32 = PAGE_WIDTH - 2 * MARGIN - LABEL_COLUMN;

/// Font Word uses for the ☐/☒ glyphs of checkbox content controls.
const BOX_FONT: &str = "MS Gothic";

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>"#;

const PACKAGE_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/></Relationships>"#;

const DOCUMENT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#;

const APP: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>postbote</Application></Properties>"#;

const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Arial" w:hAnsi="Arial" w:eastAsia="Arial" w:cs="Arial"/><w:sz w:val="21"/><w:szCs w:val="21"/><w:lang w:val="de-DE" w:eastAsia="de-DE" w:bidi="ar-SA"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="120" w:line="264" w:lineRule="auto"/></w:pPr></w:pPrDefault></w:docDefaults><w:style w:type="paragraph" w:default="1" w:styleId="Standard"><w:name w:val="Normal"/><w:qFormat/></w:style><w:style w:type="paragraph" w:styleId="Titel"><w:name w:val="Title"/><w:basedOn w:val="Standard"/><w:next w:val="Standard"/><w:qFormat/><w:pPr><w:spacing w:after="60"/></w:pPr><w:rPr><w:b/><w:sz w:val="34"/><w:szCs w:val="34"/></w:rPr></w:style><w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/><w:basedOn w:val="Standard"/><w:next w:val="Standard"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="280" w:after="100"/><w:outlineLvl w:val="0"/></w:pPr><w:rPr><w:b/><w:sz w:val="25"/><w:szCs w:val="25"/></w:rPr></w:style><w:style w:type="character" w:styleId="Platzhaltertext"><w:name w:val="Placeholder Text"/><w:rPr><w:color w:val="808080"/></w:rPr></w:style><w:style w:type="table" w:default="1" w:styleId="NormaleTabelle"><w:name w:val="Normal Table"/><w:tblPr><w:tblInd w:w="0" w:type="dxa"/><w:tblCellMar><w:top w:w="0" w:type="dxa"/><w:left w:w="108" w:type="dxa"/><w:bottom w:w="0" w:type="dxa"/><w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style></w:styles>"#;

/// Renders the form as a DOCX package.
pub(super) fn render(form: &Form) -> anyhow::Result<Vec<u8>> {
    let document = document_xml(form);
    let core = core_xml(&form.title);
    let parts: [(&str, &str); 7] = [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", PACKAGE_RELS),
        ("word/document.xml", &document),
        ("word/_rels/document.xml.rels", DOCUMENT_RELS),
        ("word/styles.xml", STYLES),
        ("docProps/core.xml", &core),
        ("docProps/app.xml", APP),
    ];
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, content) in parts {
        zip.start_file(name, options)?;
        zip.write_all(content.as_bytes())?;
    }
    Ok(zip.finish()?.into_inner())
}

fn core_xml(title: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>{}</dc:title><dc:language>de-DE</dc:language></cp:coreProperties>"#,
        esc(title)
    )
}

/// XML text and attribute escaping.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds `word/document.xml`; content-control ids are numbered from 1001.
struct Writer {
    out: String,
    next_id: u32,
}

fn document_xml(form: &Form) -> String {
    let mut w = Writer {
        out: String::new(),
        next_id: 1000,
    };
    w.out.push_str(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" mc:Ignorable="w14"><w:body>"#,
    );
    w.paragraph(Some("Titel"), &form.title, false);
    w.paragraph(None, &form.subtitle, false);
    for p in &form.intro {
        w.paragraph(None, p, false);
    }
    w.paragraph(None, &form.deadline_line, true);
    for section in &form.sections {
        w.section(section);
    }
    let _ = write!(
        w.out,
        r#"<w:sectPr><w:pgSz w:w="{PAGE_WIDTH}" w:h="{PAGE_HEIGHT}"/><w:pgMar w:top="{MARGIN}" w:right="{MARGIN}" w:bottom="{MARGIN}" w:left="{MARGIN}" w:header="709" w:footer="709" w:gutter="0"/></w:sectPr></w:body></w:document>"#
    );
    w.out
}

impl Writer {
    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn paragraph(&mut self, style: Option<&str>, text: &str, bold: bool) {
        self.out.push_str("<w:p>");
        if let Some(style) = style {
            let _ = write!(self.out, r#"<w:pPr><w:pStyle w:val="{style}"/></w:pPr>"#);
        }
        self.run(text, bold);
        self.out.push_str("</w:p>");
    }

    fn run(&mut self, text: &str, bold: bool) {
        self.out.push_str("<w:r>");
        if bold {
            self.out.push_str("<w:rPr><w:b/><w:bCs/></w:rPr>");
        }
        let _ = write!(
            self.out,
            r#"<w:t xml:space="preserve">{}</w:t></w:r>"#,
            esc(text)
        );
    }

    fn section(&mut self, section: &Section) {
        self.paragraph(Some("berschrift1"), &section.heading, false);
        if let Some(note) = &section.note {
            self.paragraph(None, note, false);
        }
        let mut rows: Vec<&Item> = Vec::new();
        for item in &section.items {
            match item {
                Item::Text(_) | Item::Choices { .. } => rows.push(item),
                Item::Checkbox(choice) => {
                    self.table(&std::mem::take(&mut rows));
                    self.out.push_str(
                        r#"<w:p><w:pPr><w:spacing w:after="60"/><w:ind w:left="284"/></w:pPr>"#,
                    );
                    self.checkbox(choice);
                    self.run(&format!(" {}", choice.label), false);
                    self.out.push_str("</w:p>");
                }
            }
        }
        self.table(&rows);
    }

    /// A two-column table: label | field (or checkboxes).
    fn table(&mut self, rows: &[&Item]) {
        if rows.is_empty() {
            return;
        }
        let _ = write!(
            self.out,
            r#"<w:tbl><w:tblPr><w:tblW w:w="{}" w:type="dxa"/><w:tblBorders><w:top w:val="single" w:sz="4" w:space="0" w:color="A0A0A0"/><w:left w:val="single" w:sz="4" w:space="0" w:color="A0A0A0"/><w:bottom w:val="single" w:sz="4" w:space="0" w:color="A0A0A0"/><w:right w:val="single" w:sz="4" w:space="0" w:color="A0A0A0"/><w:insideH w:val="single" w:sz="4" w:space="0" w:color="A0A0A0"/><w:insideV w:val="single" w:sz="4" w:space="0" w:color="A0A0A0"/></w:tblBorders><w:tblLayout w:type="fixed"/><w:tblLook w:val="0000"/></w:tblPr><w:tblGrid><w:gridCol w:w="{LABEL_COLUMN}"/><w:gridCol w:w="{FIELD_COLUMN}"/></w:tblGrid>"#,
            LABEL_COLUMN + FIELD_COLUMN
        );
        for item in rows {
            let (label, lines) = match item {
                Item::Text(t) => (t.label.as_str(), t.lines),
                Item::Choices { label, .. } => (label.as_str(), 1),
                Item::Checkbox(_) => continue,
            };
            self.out.push_str("<w:tr>");
            if lines > 1 {
                let _ = write!(
                    self.out,
                    r#"<w:trPr><w:trHeight w:val="{}"/></w:trPr>"#,
                    u32::from(lines) * 300 + 120
                );
            }
            let _ = write!(
                self.out,
                r#"<w:tc><w:tcPr><w:tcW w:w="{LABEL_COLUMN}" w:type="dxa"/><w:shd w:val="clear" w:color="auto" w:fill="F2F2F2"/></w:tcPr><w:p><w:pPr><w:spacing w:before="40" w:after="40"/></w:pPr>"#
            );
            self.run(label, false);
            let _ = write!(
                self.out,
                r#"</w:p></w:tc><w:tc><w:tcPr><w:tcW w:w="{FIELD_COLUMN}" w:type="dxa"/></w:tcPr><w:p><w:pPr><w:spacing w:before="40" w:after="40"/></w:pPr>"#
            );
            match item {
                Item::Text(t) => self.text_field(t),
                Item::Choices { boxes, .. } => {
                    for (i, choice) in boxes.iter().enumerate() {
                        if i > 0 {
                            self.run("    ", false);
                        }
                        self.checkbox(choice);
                        self.run(&format!(" {}", choice.label), false);
                    }
                }
                Item::Checkbox(_) => {}
            }
            self.out.push_str("</w:p></w:tc></w:tr>");
        }
        self.out.push_str("</w:tbl>");
        // Word needs a paragraph between two tables and after the last one.
        self.out
            .push_str(r#"<w:p><w:pPr><w:spacing w:after="0"/></w:pPr></w:p>"#);
    }

    /// A plain-text content control showing [`PLACEHOLDER`].
    fn text_field(&mut self, field: &TextField) {
        let id = self.id();
        let multi = if field.lines > 1 {
            r#" w:multiLine="1""#
        } else {
            ""
        };
        let _ = write!(
            self.out,
            r#"<w:sdt><w:sdtPr><w:alias w:val="{}"/><w:tag w:val="{}"/><w:id w:val="{id}"/><w:showingPlcHdr/><w:text{multi}/></w:sdtPr><w:sdtContent><w:r><w:rPr><w:rStyle w:val="Platzhaltertext"/></w:rPr><w:t>{}</w:t></w:r></w:sdtContent></w:sdt>"#,
            esc(&field.tooltip),
            esc(field.name),
            esc(PLACEHOLDER)
        );
    }

    /// An unchecked checkbox content control (☐, ☒ when checked).
    fn checkbox(&mut self, choice: &Choice) {
        let id = self.id();
        let fonts = format!(
            r#"<w:rFonts w:ascii="{BOX_FONT}" w:eastAsia="{BOX_FONT}" w:hAnsi="{BOX_FONT}" w:hint="eastAsia"/>"#
        );
        let _ = write!(
            self.out,
            r#"<w:sdt><w:sdtPr><w:rPr>{fonts}</w:rPr><w:alias w:val="{}"/><w:tag w:val="{}"/><w:id w:val="{id}"/><w14:checkbox><w14:checked w14:val="0"/><w14:checkedState w14:val="2612" w14:font="{BOX_FONT}"/><w14:uncheckedState w14:val="2610" w14:font="{BOX_FONT}"/></w14:checkbox></w:sdtPr><w:sdtContent><w:r><w:rPr>{fonts}</w:rPr><w:t>☐</w:t></w:r></w:sdtContent></w:sdt>"#,
            esc(&choice.label),
            esc(&choice.name),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ews7, other_dates};
    use super::super::{FIELD_NAMES, questionnaire};
    use super::*;
    use crate::documents::{CheckboxKind, Limits, docx};
    use std::io::Read as _;

    fn document_of(package: &[u8]) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(package)).expect("zip");
        let mut xml = String::new();
        zip.by_name("word/document.xml")
            .expect("document.xml")
            .read_to_string(&mut xml)
            .expect("utf-8");
        xml
    }

    /// The package with `word/document.xml` replaced (other parts kept).
    fn with_document(package: &[u8], xml: &str) -> Vec<u8> {
        let mut zip = zip::ZipArchive::new(Cursor::new(package)).expect("zip");
        let mut out = ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        for i in 0..zip.len() {
            let mut file = zip.by_index(i).expect("member");
            let name = file.name().expect("member name").to_string();
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).expect("read");
            out.start_file(name.as_str(), opts).expect("start");
            if name == "word/document.xml" {
                out.write_all(xml.as_bytes()).expect("write");
            } else {
                out.write_all(&bytes).expect("write");
            }
        }
        out.finish().expect("finish").into_inner()
    }

    /// The content control tagged `tag`: (start, end) byte range of its `w:sdt`.
    fn sdt_range(xml: &str, tag: &str) -> (usize, usize) {
        let at = xml
            .find(&format!(r#"<w:tag w:val="{tag}"/>"#))
            .unwrap_or_else(|| panic!("no content control {tag}"));
        let start = xml[..at].rfind("<w:sdt>").expect("sdt start");
        let end = at + xml[at..].find("</w:sdt>").expect("sdt end") + "</w:sdt>".len();
        (start, end)
    }

    /// Ticks the checkbox tagged `tag` the way Word does.
    fn tick(xml: &str, tag: &str) -> String {
        let (start, end) = sdt_range(xml, tag);
        let sdt = xml[start..end]
            .replace(
                r#"<w14:checked w14:val="0"/>"#,
                r#"<w14:checked w14:val="1"/>"#,
            )
            .replace("<w:t>☐</w:t>", "<w:t>☒</w:t>");
        format!("{}{sdt}{}", &xml[..start], &xml[end..])
    }

    /// Types `value` into the text control tagged `tag` the way Word does.
    fn type_into(xml: &str, tag: &str, value: &str) -> String {
        let (start, end) = sdt_range(xml, tag);
        let sdt = &xml[start..end];
        let content = sdt.find("<w:sdtContent>").expect("content");
        let pr = sdt[..content].replace("<w:showingPlcHdr/>", "");
        let filled = format!(
            "{pr}<w:sdtContent><w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:sdtContent></w:sdt>",
            esc(value)
        );
        format!("{}{filled}{}", &xml[..start], &xml[end..])
    }

    fn boxes(x: &crate::documents::Extracted) -> Vec<(String, bool)> {
        x.checkboxes
            .iter()
            .map(|c| {
                assert_eq!(c.kind, CheckboxKind::ContentControl, "{c:?}");
                (c.label.clone(), c.checked)
            })
            .collect()
    }

    const TERMINE: [&str; 5] = [
        "Mo., 29.06.2026, 09:00–13:00 Uhr",
        "Di., 30.06.2026, 09:00–13:00 Uhr",
        "Mi., 01.07.2026, 09:00–16:00 Uhr",
        "Do., 02.07.2026, 09:00–13:00 Uhr",
        "Fr., 03.07.2026, 09:00–13:00 Uhr",
    ];

    #[test]
    fn blank_docx_is_read_back_with_all_boxes_unchecked() {
        let files = questionnaire(&ews7()).expect("questionnaire");
        let x = docx::extract(&files.docx, &Limits::default()).expect("readable");
        let mut expected: Vec<(String, bool)> = ["Stadt", "Gemeinde", "Kreis"]
            .iter()
            .map(|l| (l.to_string(), false))
            .collect();
        expected.extend(TERMINE.iter().map(|l| (l.to_string(), false)));
        assert_eq!(boxes(&x), expected);
        for needle in [
            "Fragebogen zur Bewerbung – EWS 7",
            "Bitte bis Fr., 19.06.2026 per E-Mail zurücksenden.",
            "Name der Kommune\t",
            "Wochenstunden für Engagementförderung (idealerweise mindestens 5)",
            "Art der Kommune\t☐ Stadt    ☐ Gemeinde    ☐ Kreis",
            "☐ Mo., 29.06.2026, 09:00–13:00 Uhr",
            PLACEHOLDER,
        ] {
            assert!(x.text.contains(needle), "{needle:?} missing in\n{}", x.text);
        }
        assert_eq!(x.pages, Some(1), "estimate without page breaks");
        // Every text field is a content control tagged with its name.
        let xml = document_of(&files.docx);
        for name in FIELD_NAMES {
            let (start, end) = sdt_range(&xml, name);
            assert!(xml[start..end].contains("<w:text"), "{name} is plain text");
        }
        assert!(xml.contains(r#"mc:Ignorable="w14""#));
    }

    #[test]
    fn every_package_part_is_well_formed_xml() {
        let files = questionnaire(&ews7()).expect("questionnaire");
        let mut zip = zip::ZipArchive::new(Cursor::new(&files.docx)).expect("zip");
        let mut names = Vec::new();
        for i in 0..zip.len() {
            let mut file = zip.by_index(i).expect("member");
            let name = file.name().expect("member name").to_string();
            names.push(name.clone());
            let mut xml = String::new();
            file.read_to_string(&mut xml).expect("utf-8");
            let mut reader = quick_xml::Reader::from_str(&xml);
            loop {
                match reader.read_event() {
                    Ok(quick_xml::events::Event::Eof) => break,
                    Ok(_) => {}
                    Err(e) => panic!("{name}: {e}"),
                }
            }
        }
        for part in [
            "[Content_Types].xml",
            "_rels/.rels",
            "word/document.xml",
            "word/_rels/document.xml.rels",
        ] {
            assert!(names.iter().any(|n| n == part), "{part} missing");
        }
    }

    #[test]
    fn filled_docx_is_read_back() {
        let files = questionnaire(&ews7()).expect("questionnaire");
        let mut xml = document_of(&files.docx);
        for tag in ["termin_2026_06_29", "termin_2026_07_01", "art_stadt"] {
            xml = tick(&xml, tag);
        }
        xml = type_into(&xml, "kommune_name", "Stadt Musterhausen");
        let filled = with_document(&files.docx, &xml);
        let x = docx::extract(&filled, &Limits::default()).expect("readable");
        let checked: Vec<String> = x
            .checkboxes
            .iter()
            .filter(|c| c.checked)
            .map(|c| c.label.clone())
            .collect();
        assert_eq!(
            checked,
            [
                "Stadt",
                "Mo., 29.06.2026, 09:00–13:00 Uhr",
                "Mi., 01.07.2026, 09:00–16:00 Uhr"
            ]
        );
        assert_eq!(x.checkboxes.len(), 8);
        assert!(
            x.text.contains("Name der Kommune\tStadt Musterhausen"),
            "{}",
            x.text
        );
        assert!(x.text.contains("☒ Stadt    ☐ Gemeinde"), "{}", x.text);
    }

    #[test]
    fn docx_follows_the_programme_dates() {
        let files = questionnaire(&other_dates()).expect("questionnaire");
        let x = docx::extract(&files.docx, &Limits::default()).expect("readable");
        let labels: Vec<&str> = x.checkboxes.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels.len(), 8);
        assert_eq!(
            labels[3],
            "Mi., 24.06.2026, 09:00–13:00 Uhr (Digital, via Zoom)"
        );
        assert_eq!(labels[7], "Fr., 10.07.2026, 10:00–12:00 Uhr (Rathaus Köln)");
        assert!(!x.text.contains("29.06.2026"));
        let xml = document_of(&files.docx);
        assert!(xml.contains(r#"<w:tag w:val="termin_2026_06_24"/>"#));
        assert!(!xml.contains("termin_2026_06_29"));
    }

    #[test]
    fn labels_with_markup_characters_are_escaped() {
        let mut form = super::super::Form::from_programme(&ews7());
        form.title = "A & B <C> \"D\"".into();
        let bytes = render(&form).expect("render");
        let x = docx::extract(&bytes, &Limits::default()).expect("readable");
        assert!(x.text.starts_with("A & B <C> \"D\""), "{}", x.text);
    }
}
