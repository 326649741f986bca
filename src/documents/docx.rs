//! DOCX: text, checkboxes and a page estimate from `word/document.xml`.
//!
//! Checkboxes of every kind are read: content controls (`w14:checkbox`),
//! legacy form fields (`w:ffData/w:checkBox`) and glyphs typed into the text
//! (☒ ☐ …, also Wingdings symbols). The glyph a content control renders is not
//! counted a second time. The XML is read with quick-xml's streaming reader,
//! which does not expand DTD entities (no entity resolver is added).

use super::archive::{ZipReader, looks_like_zip};
use super::glyphs::{FIELD_MARK, FieldBox, checkboxes_with_fields, is_box_glyph};
use super::{CheckboxKind, ExtractError, Extracted, Limits};
use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

/// The header of an OLE compound file (Word 97-2003, or encrypted OOXML).
const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Text, checkboxes and page count (or estimate) of a DOCX document.
pub fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    if bytes.starts_with(&OLE_MAGIC[..4]) {
        // Password-protected OOXML is an OLE file with an "EncryptedPackage" stream.
        if contains_utf16le(bytes, "EncryptedPackage") {
            return Err(ExtractError::Encrypted);
        }
        return Err(ExtractError::Unsupported("Word 97-2003 .doc".into()));
    }
    if !looks_like_zip(bytes) {
        return Err(ExtractError::Malformed("not a DOCX (ZIP) file".into()));
    }
    let mut zip = ZipReader::open(bytes, limits)?;
    let document = match zip.read("word/document.xml")? {
        Some(d) => d,
        None => {
            let target = zip
                .read("_rels/.rels")?
                .and_then(|rels| main_part_from_rels(&xml_string(&rels)));
            match target {
                Some(t) if t != "word/document.xml" => zip.read(&t)?,
                _ => None,
            }
            .ok_or_else(|| ExtractError::Malformed("DOCX has no word/document.xml".into()))?
        }
    };
    let app_pages = match zip.read("docProps/app.xml") {
        Ok(Some(app)) => pages_from_app_xml(&xml_string(&app)),
        _ => None,
    };
    let doc = parse_document(&xml_string(&document))?;
    let estimate = doc.page_breaks.max(doc.rendered_breaks).saturating_add(1);
    Ok(Extracted {
        text: doc.text,
        checkboxes: doc.checkboxes,
        fields: doc.fields,
        pages: Some(app_pages.unwrap_or(estimate)),
        text_runs: Vec::new(),
    })
}

/// XML bytes as text: UTF-8 (lossy), or UTF-16 when it has a byte-order mark.
pub(crate) fn xml_string(bytes: &[u8]) -> String {
    let utf16 = |le: bool| {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    if bytes.starts_with(&[0xFF, 0xFE]) {
        utf16(true)
    } else if bytes.starts_with(&[0xFE, 0xFF]) {
        utf16(false)
    } else {
        let b = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        String::from_utf8_lossy(b).into_owned()
    }
}

/// The value of the attribute with this local name (prefix ignored).
pub(crate) fn attr(e: &BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == local).then(|| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_default()
        })
    })
}

/// Resolves `&amp;`-style and character references; anything else (an
/// entity from a DTD) is dropped, never expanded.
pub(crate) fn resolve_ref(name: &str) -> Option<String> {
    if let Some(num) = name.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse().ok(),
        };
        return n.and_then(char::from_u32).map(String::from);
    }
    resolve_predefined_entity(name).map(String::from)
}

pub(crate) fn xml_error(part: &str, e: impl std::fmt::Display) -> ExtractError {
    ExtractError::Malformed(format!("{part}: {e}"))
}

fn contains_utf16le(hay: &[u8], needle: &str) -> bool {
    let n: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
    hay.windows(n.len()).any(|w| w == n.as_slice())
}

fn main_part_from_rels(rels: &str) -> Option<String> {
    let mut r = Reader::from_str(rels);
    loop {
        match r.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "Relationship" => {
                let is_main = attr(&e, "Type").is_some_and(|t| t.ends_with("/officeDocument"));
                if is_main {
                    return attr(&e, "Target").map(|t| t.trim_start_matches('/').to_string());
                }
            }
            Ok(Event::Eof) | Err(_) => return None,
            _ => {}
        }
    }
}

fn pages_from_app_xml(app: &str) -> Option<u32> {
    let mut r = Reader::from_str(app);
    let mut in_pages = false;
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) => in_pages = e.local_name().as_ref() == "Pages",
            Ok(Event::Text(t)) if in_pages => {
                return t
                    .xml10_content()
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&n: &u32| n > 0);
            }
            Ok(Event::End(_)) => in_pages = false,
            Ok(Event::Eof) | Err(_) => return None,
            _ => {}
        }
    }
}

#[derive(Debug, Default)]
struct Sdt {
    in_pr: bool,
    in_checkbox: bool,
    is_checkbox: bool,
    checked: bool,
    /// `w:tag`, the machine name of a text content control.
    tag: Option<String>,
    /// `w:showingPlcHdr`: the control shows its placeholder, so it is empty.
    placeholder: bool,
    /// The text typed into the control.
    value: String,
}

#[derive(Debug, Default)]
struct Legacy {
    checked: Option<bool>,
    default: Option<bool>,
}

struct Parsed {
    text: String,
    fields: Vec<super::Field>,
    checkboxes: Vec<super::Checkbox>,
    page_breaks: u32,
    rendered_breaks: u32,
}

#[derive(Default)]
struct State {
    /// The text as shown (with the glyphs of content controls).
    shown: String,
    /// The text scanned for boxes: controls as FIELD_MARK, their glyphs left out.
    scan: String,
    fields: Vec<FieldBox>,
    /// Filled-in text content controls, by tag.
    text_fields: Vec<super::Field>,
    sdts: Vec<Sdt>,
    legacy: Option<Legacy>,
    in_t: bool,
    run_depth: u32,
    cell_depth: u32,
    fallback_depth: u32,
    page_breaks: u32,
    rendered_breaks: u32,
}

impl State {
    fn in_checkbox_content(&self) -> bool {
        self.sdts.iter().any(|s| s.is_checkbox && !s.in_pr)
    }

    fn push_text(&mut self, s: &str) {
        if self.fallback_depth > 0 {
            return;
        }
        let hide_glyphs = self.in_checkbox_content();
        if let Some(sdt) = self
            .sdts
            .iter_mut()
            .rev()
            .find(|x| !x.in_pr && !x.is_checkbox && x.tag.is_some())
            && sdt.value.len() < 4096
        {
            sdt.value.push_str(s);
        }
        for c in s.chars() {
            let c = match c {
                FIELD_MARK => '\u{FFFD}',
                '\u{F0FE}' => '\u{2611}',
                '\u{F0FD}' | '\u{F078}' => '\u{2612}',
                '\u{F0A8}' | '\u{F06F}' => '\u{2610}',
                c => c,
            };
            self.shown.push(c);
            if !(hide_glyphs && is_box_glyph(c)) {
                self.scan.push(c);
            }
        }
    }

    fn push_break(&mut self, s: &str) {
        if self.fallback_depth > 0 {
            return;
        }
        self.shown.push_str(s);
        self.scan.push_str(s);
    }

    fn mark(&mut self, field: FieldBox) {
        if self.fallback_depth > 0 {
            return;
        }
        self.scan.push(FIELD_MARK);
        self.fields.push(field);
    }

    fn end_paragraph(&mut self) {
        if self.cell_depth > 0 {
            self.push_break(" ");
        } else {
            self.push_break("\n");
        }
    }
}

fn on_off(val: Option<String>) -> bool {
    match val.as_deref().map(str::trim) {
        None => true,
        Some(v) => matches!(v, "1" | "true" | "on"),
    }
}

fn sym_glyph(e: &BytesStart<'_>) -> Option<char> {
    let font = attr(e, "font").unwrap_or_default().to_ascii_lowercase();
    let code = u32::from_str_radix(attr(e, "char")?.trim(), 16).ok()?;
    if !(0xF000..=0xF0FF).contains(&code) && !(0x20..=0xFF).contains(&code) {
        return char::from_u32(code).filter(|c| !('\u{E000}'..='\u{F8FF}').contains(c));
    }
    let low = code & 0xFF;
    if font.starts_with("wingdings 2") {
        match low {
            0x50 => Some('\u{2713}'),
            0x51 | 0x53 | 0x54 => Some('\u{2612}'),
            0x52 => Some('\u{2611}'),
            0xA3 => Some('\u{2610}'),
            _ => None,
        }
    } else if font.starts_with("wingdings") {
        match low {
            0xFE => Some('\u{2611}'),
            0xFD | 0x78 => Some('\u{2612}'),
            0xFC => Some('\u{2714}'),
            0xA8 | 0x6F => Some('\u{2610}'),
            _ => None,
        }
    } else {
        None
    }
}

fn parse_document(xml: &str) -> Result<Parsed, ExtractError> {
    const PART: &str = "word/document.xml";
    let mut r = Reader::from_str(xml);
    let mut st = State::default();
    loop {
        let ev = r.read_event().map_err(|e| xml_error(PART, e))?;
        match ev {
            Event::Start(e) => {
                let name = e.local_name();
                match name.as_ref() {
                    "t" => st.in_t = true,
                    "r" => st.run_depth += 1,
                    "tc" => st.cell_depth += 1,
                    "Fallback" => st.fallback_depth += 1,
                    "sdt" => st.sdts.push(Sdt::default()),
                    "sdtPr" => {
                        if let Some(s) = st.sdts.last_mut() {
                            s.in_pr = true;
                        }
                    }
                    "checkbox" => {
                        if let Some(s) = st.sdts.last_mut().filter(|s| s.in_pr) {
                            s.is_checkbox = true;
                            s.in_checkbox = true;
                        }
                    }
                    "ffData" => {}
                    "checkBox" => st.legacy = Some(Legacy::default()),
                    _ => on_empty(&mut st, &e),
                }
            }
            Event::Empty(e) => match e.local_name().as_ref() {
                "checkbox" => {
                    if let Some(s) = st.sdts.last_mut().filter(|s| s.in_pr) {
                        s.is_checkbox = true;
                    }
                }
                "checkBox" => {
                    // <w:checkBox/> without children: unchecked by default.
                    st.mark(FieldBox {
                        checked: false,
                        kind: CheckboxKind::LegacyFormField,
                        label: None,
                        fallback_label: None,
                    });
                    st.shown.push('\u{2610}');
                }
                _ => on_empty(&mut st, &e),
            },
            Event::End(e) => match e.local_name().as_ref() {
                "t" => st.in_t = false,
                "r" => st.run_depth = st.run_depth.saturating_sub(1),
                "p" => st.end_paragraph(),
                "tc" => {
                    st.cell_depth = st.cell_depth.saturating_sub(1);
                    trim_end_spaces(&mut st);
                    st.push_break("\t");
                }
                "tr" => {
                    trim_end_tabs(&mut st);
                    st.push_break("\n");
                }
                "Fallback" => st.fallback_depth = st.fallback_depth.saturating_sub(1),
                "checkbox" => {
                    if let Some(s) = st.sdts.last_mut() {
                        s.in_checkbox = false;
                    }
                }
                "sdtPr" => {
                    let mut field = None;
                    if let Some(s) = st.sdts.last_mut() {
                        s.in_pr = false;
                        if s.is_checkbox {
                            field = Some(s.checked);
                        }
                    }
                    if let Some(checked) = field {
                        st.mark(FieldBox {
                            checked,
                            kind: CheckboxKind::ContentControl,
                            label: None,
                            fallback_label: None,
                        });
                    }
                }
                "sdt" => {
                    if let Some(sdt) = st.sdts.pop()
                        && !sdt.is_checkbox
                        && let Some(tag) = sdt.tag
                    {
                        let value = if sdt.placeholder {
                            String::new()
                        } else {
                            tidy_text(&sdt.value)
                        };
                        st.text_fields.push(super::Field { name: tag, value });
                    }
                }
                "checkBox" => {
                    if let Some(l) = st.legacy.take() {
                        let checked = l.checked.or(l.default).unwrap_or(false);
                        st.mark(FieldBox {
                            checked,
                            kind: CheckboxKind::LegacyFormField,
                            label: None,
                            fallback_label: None,
                        });
                        if st.fallback_depth == 0 {
                            st.shown.push(if checked { '\u{2612}' } else { '\u{2610}' });
                        }
                    }
                }
                _ => {}
            },
            Event::Text(t) if st.in_t => st.push_text(&t.xml10_content()),
            Event::CData(t) if st.in_t => st.push_text(&t.xml10_content()),
            Event::GeneralRef(g) if st.in_t => {
                if let Some(s) = resolve_ref(&g.xml10_content()) {
                    st.push_text(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let checkboxes = checkboxes_with_fields(&st.scan, &st.fields);
    Ok(Parsed {
        text: tidy_text(&st.shown),
        fields: st.text_fields,
        checkboxes,
        page_breaks: st.page_breaks,
        rendered_breaks: st.rendered_breaks,
    })
}

/// Elements that matter whether written `<x/>` or `<x></x>`.
fn on_empty(st: &mut State, e: &BytesStart<'_>) {
    match e.local_name().as_ref() {
        "tag" => {
            if let Some(s) = st.sdts.last_mut().filter(|s| s.in_pr) {
                s.tag = attr(e, "val")
                    .map(|t| t.chars().filter(|c| !c.is_control()).take(100).collect());
            }
        }
        "showingPlcHdr" => {
            if let Some(s) = st.sdts.last_mut().filter(|s| s.in_pr) {
                s.placeholder = !matches!(attr(e, "val").as_deref(), Some("0" | "false" | "off"));
            }
        }
        "checked" => {
            let val = attr(e, "val");
            if let Some(s) = st.sdts.last_mut().filter(|s| s.in_checkbox) {
                s.checked = on_off(val);
            } else if let Some(l) = st.legacy.as_mut() {
                l.checked = Some(on_off(val));
            }
        }
        "default" => {
            if let Some(l) = st.legacy.as_mut() {
                l.default = Some(on_off(attr(e, "val")));
            }
        }
        "tab" if st.run_depth > 0 => st.push_text("\t"),
        "br" | "cr" if st.run_depth > 0 => {
            if attr(e, "type").as_deref() == Some("page") && st.fallback_depth == 0 {
                st.page_breaks += 1;
            }
            st.push_break("\n");
        }
        "lastRenderedPageBreak" if st.fallback_depth == 0 => st.rendered_breaks += 1,
        "noBreakHyphen" if st.run_depth > 0 => st.push_text("-"),
        "sym" if st.run_depth > 0 => {
            if let Some(c) = sym_glyph(e) {
                st.push_text(c.encode_utf8(&mut [0; 4]));
            }
        }
        _ => {}
    }
}

fn trim_end_spaces(st: &mut State) {
    for s in [&mut st.shown, &mut st.scan] {
        let n = s.trim_end_matches(' ').len();
        s.truncate(n);
    }
}

fn trim_end_tabs(st: &mut State) {
    for s in [&mut st.shown, &mut st.scan] {
        let n = s.trim_end_matches(['\t', ' ']).len();
        s.truncate(n);
    }
}

/// Trailing blanks of lines removed and runs of empty lines collapsed.
pub(crate) fn tidy_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    let n = out.trim_end().len();
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::archive::tests::{build_zip, zero_bomb};
    use crate::documents::{Checkbox, Field};

    const NS: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml""#;

    fn document(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {NS}><w:body>{body}</w:body></w:document>"#
        )
    }

    fn docx(body: &str) -> Vec<u8> {
        docx_with(body, None)
    }

    fn docx_with(body: &str, app: Option<&str>) -> Vec<u8> {
        let ct = r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
        let rels = r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;
        let doc = document(body);
        let mut members: Vec<(&str, &[u8])> = vec![
            ("[Content_Types].xml", ct.as_bytes()),
            ("_rels/.rels", rels.as_bytes()),
            ("word/document.xml", doc.as_bytes()),
        ];
        if let Some(app) = app {
            members.push(("docProps/app.xml", app.as_bytes()));
        }
        build_zip(&members)
    }

    fn p(text: &str) -> String {
        format!("<w:p><w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>")
    }

    fn sdt_checkbox(val: Option<&str>, glyph: &str) -> String {
        let checked = match val {
            Some(v) => format!("<w14:checked w14:val=\"{v}\"/>"),
            None => String::new(),
        };
        format!(
            r#"<w:sdt><w:sdtPr><w:id w:val="1"/><w14:checkbox>{checked}<w14:checkedState w14:val="2612" w14:font="MS Gothic"/><w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox></w:sdtPr><w:sdtContent><w:r><w:rPr><w:rFonts w:ascii="MS Gothic"/></w:rPr><w:t>{glyph}</w:t></w:r></w:sdtContent></w:sdt>"#
        )
    }

    fn legacy_checkbox(inner: &str) -> String {
        format!(
            r#"<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Kontrollkästchen1"/><w:enabled/><w:calcOnExit w:val="0"/><w:checkBox><w:sizeAuto/>{inner}</w:checkBox></w:ffData></w:fldChar></w:r><w:r><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>"#
        )
    }

    fn cb(label: &str, checked: bool, kind: CheckboxKind) -> Checkbox {
        Checkbox::new(label, checked, kind)
    }

    #[test]
    fn reads_paragraph_text_with_umlauts() {
        let d = docx(
            &(p("Sehr geehrte Frau Müller,")
                + &p("anbei die Unterlagen für die Schulung &amp; Prüfung.")
                + &p("Grüße aus Köln")),
        );
        let x = extract(&d, &Limits::default()).unwrap();
        assert_eq!(
            x.text,
            "Sehr geehrte Frau Müller,\nanbei die Unterlagen für die Schulung & Prüfung.\nGrüße aus Köln"
        );
        assert!(x.checkboxes.is_empty());
        assert_eq!(x.pages, Some(1));
    }

    #[test]
    fn table_cells_are_separated_by_tabs_and_rows_by_newlines() {
        let row = |a: &str, b: &str| {
            format!(
                "<w:tr><w:tc><w:tcPr/>{}</w:tc><w:tc>{}</w:tc></w:tr>",
                p(a),
                p(b)
            )
        };
        let body = format!(
            "<w:tbl><w:tblPr/>{}{}</w:tbl>{}",
            row("Name", "Jürgen Weiß"),
            row("Ort", "Düsseldorf"),
            p("Ende")
        );
        let x = extract(&docx(&body), &Limits::default()).unwrap();
        assert_eq!(x.text, "Name\tJürgen Weiß\nOrt\tDüsseldorf\nEnde");
    }

    #[test]
    fn content_control_checkboxes_checked_and_unchecked_with_labels() {
        let body = format!(
            "<w:p>{}<w:r><w:t xml:space=\"preserve\"> Ich nehme teil</w:t></w:r></w:p><w:p>{}<w:r><w:t xml:space=\"preserve\"> Übernachtung</w:t></w:r></w:p><w:p>{}<w:r><w:t> Anreise am Vortag</w:t></w:r></w:p>",
            sdt_checkbox(Some("1"), "☒"),
            sdt_checkbox(Some("0"), "☐"),
            sdt_checkbox(Some("true"), "☒"),
        );
        let x = extract(&docx(&body), &Limits::default()).unwrap();
        assert_eq!(
            x.checkboxes,
            vec![
                cb("Ich nehme teil", true, CheckboxKind::ContentControl),
                cb("Übernachtung", false, CheckboxKind::ContentControl),
                cb("Anreise am Vortag", true, CheckboxKind::ContentControl),
            ],
            "the rendered glyphs are not counted again"
        );
        assert!(
            x.text.starts_with("☒ Ich nehme teil\n☐ Übernachtung"),
            "{}",
            x.text
        );
    }

    #[test]
    fn content_control_state_comes_from_the_xml_not_from_the_glyph() {
        // A stale glyph must not win over w14:checked.
        let body = format!(
            "<w:p>{}<w:r><w:t> Ja</w:t></w:r></w:p>",
            sdt_checkbox(Some("0"), "☒")
        );
        let x = extract(&docx(&body), &Limits::default()).unwrap();
        assert_eq!(
            x.checkboxes,
            vec![cb("Ja", false, CheckboxKind::ContentControl)]
        );
        let body = format!(
            "<w:p>{}<w:r><w:t> Ja</w:t></w:r></w:p>",
            sdt_checkbox(None, "☐")
        );
        let x = extract(&docx(&body), &Limits::default()).unwrap();
        assert_eq!(
            x.checkboxes,
            vec![cb("Ja", false, CheckboxKind::ContentControl)]
        );
    }

    #[test]
    fn content_control_in_a_table_row_is_labelled_by_the_row() {
        let body = format!(
            "<w:tbl><w:tr><w:tc>{}</w:tc><w:tc><w:p>{}</w:p></w:tc></w:tr><w:tr><w:tc>{}</w:tc><w:tc><w:p>{}</w:p></w:tc></w:tr></w:tbl>",
            p("Führungszeugnis liegt bei"),
            sdt_checkbox(Some("1"), "☒"),
            p("Schwerbehinderung"),
            sdt_checkbox(Some("0"), "☐"),
        );
        let x = extract(&docx(&body), &Limits::default()).unwrap();
        assert_eq!(
            x.checkboxes,
            vec![
                cb(
                    "Führungszeugnis liegt bei",
                    true,
                    CheckboxKind::ContentControl
                ),
                cb("Schwerbehinderung", false, CheckboxKind::ContentControl),
            ]
        );
    }

    #[test]
    fn legacy_form_field_checkboxes_use_checked_then_default() {
        let body = [
            ("<w:checked/>", " Vollzeit", true),
            ("<w:checked w:val=\"0\"/>", " Teilzeit", false),
            (
                "<w:checked w:val=\"false\"/><w:default w:val=\"1\"/>",
                " Minijob",
                false,
            ),
            ("<w:default w:val=\"1\"/>", " Präsenz", true),
            ("<w:default w:val=\"0\"/>", " Online", false),
            ("", " Hybrid", false),
        ]
        .iter()
        .map(|(inner, label, _)| {
            format!(
                "<w:p>{}<w:r><w:t xml:space=\"preserve\">{label}</w:t></w:r></w:p>",
                legacy_checkbox(inner)
            )
        })
        .collect::<String>();
        let x = extract(&docx(&body), &Limits::default()).unwrap();
        let got: Vec<(String, bool, CheckboxKind)> = x
            .checkboxes
            .into_iter()
            .map(|c| (c.label, c.checked, c.kind))
            .collect();
        let k = CheckboxKind::LegacyFormField;
        assert_eq!(
            got,
            vec![
                ("Vollzeit".into(), true, k),
                ("Teilzeit".into(), false, k),
                ("Minijob".into(), false, k),
                ("Präsenz".into(), true, k),
                ("Online".into(), false, k),
                ("Hybrid".into(), false, k),
            ]
        );
        assert!(!x.text.contains("FORMCHECKBOX"));
        assert!(x.text.starts_with("☒ Vollzeit\n☐ Teilzeit"), "{}", x.text);
    }

    #[test]
    fn typed_glyphs_and_wingdings_symbols_are_checkboxes() {
        let body = format!(
            "{}{}{}<w:p><w:r><w:sym w:font=\"Wingdings\" w:char=\"F0FE\"/><w:t xml:space=\"preserve\"> Bahn</w:t></w:r></w:p><w:p><w:r><w:sym w:font=\"Wingdings\" w:char=\"F0A8\"/><w:t xml:space=\"preserve\"> Auto</w:t></w:r></w:p>",
            p("☒ Verpflegung gewünscht"),
            p("☐ Kinderbetreuung"),
            p("[x] Datenschutzerklärung gelesen"),
        );
        let x = extract(&docx(&body), &Limits::default()).unwrap();
        let k = CheckboxKind::Glyph;
        assert_eq!(
            x.checkboxes,
            vec![
                cb("Verpflegung gewünscht", true, k),
                cb("Kinderbetreuung", false, k),
                cb("Datenschutzerklärung gelesen", true, k),
                cb("Bahn", true, k),
                cb("Auto", false, k),
            ]
        );
    }

    #[test]
    fn mixed_kinds_on_one_line_keep_their_order() {
        let body = format!(
            "<w:p><w:r><w:t xml:space=\"preserve\">Teilnahme: </w:t></w:r>{}<w:r><w:t xml:space=\"preserve\"> Ja </w:t></w:r>{}<w:r><w:t xml:space=\"preserve\"> Nein ☐ Weiß nicht</w:t></w:r></w:p>",
            sdt_checkbox(Some("1"), "☒"),
            legacy_checkbox("<w:checked w:val=\"0\"/>"),
        );
        let x = extract(&docx(&body), &Limits::default()).unwrap();
        let line = |c: Checkbox| Checkbox {
            context: Some("Teilnahme: Ja Nein Weiß nicht".into()),
            ..c
        };
        assert_eq!(
            x.checkboxes,
            vec![
                line(cb("Ja", true, CheckboxKind::ContentControl)),
                line(cb("Nein", false, CheckboxKind::LegacyFormField)),
                line(cb("Weiß nicht", false, CheckboxKind::Glyph)),
            ]
        );
    }

    #[test]
    fn page_count_comes_from_app_xml_when_present() {
        let app = r#"<?xml version="1.0"?><Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Template>Normal.dotm</Template><Pages>7</Pages><Words>1200</Words></Properties>"#;
        let x = extract(&docx_with(&p("Hallo"), Some(app)), &Limits::default()).unwrap();
        assert_eq!(x.pages, Some(7));
    }

    #[test]
    fn page_count_is_estimated_from_page_breaks_without_app_xml() {
        let brk = "<w:p><w:r><w:br w:type=\"page\"/></w:r></w:p>";
        let body = format!("{}{brk}{}{brk}{}", p("Seite 1"), p("Seite 2"), p("Seite 3"));
        assert_eq!(
            extract(&docx(&body), &Limits::default()).unwrap().pages,
            Some(3)
        );
        let lr = "<w:p><w:r><w:lastRenderedPageBreak/><w:t>weiter</w:t></w:r></w:p>";
        let body = format!("{}{lr}{lr}{lr}", p("a"));
        assert_eq!(
            extract(&docx(&body), &Limits::default()).unwrap().pages,
            Some(4)
        );
        // A line break is not a page break.
        let body = "<w:p><w:r><w:t>a</w:t><w:br/><w:t>b</w:t></w:r></w:p>";
        let x = extract(&docx(body), &Limits::default()).unwrap();
        assert_eq!((x.text.as_str(), x.pages), ("a\nb", Some(1)));
    }

    #[test]
    fn dtd_entities_are_not_expanded() {
        let xml = format!(
            r#"<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "AAAAAAAAAA"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><w:document {NS}><w:body><w:p><w:r><w:t>x&b;y</w:t></w:r></w:p></w:body></w:document>"#
        );
        let d = build_zip(&[("word/document.xml", xml.as_bytes())]);
        let res = extract(&d, &Limits::default());
        match res {
            Ok(x) => assert!(!x.text.contains('A'), "{}", x.text),
            Err(e) => assert!(matches!(e, ExtractError::Malformed(_))),
        }
    }

    #[test]
    fn old_binary_doc_is_unsupported() {
        let mut doc = OLE_MAGIC.to_vec();
        doc.extend_from_slice(&[0u8; 1000]);
        assert_eq!(
            extract(&doc, &Limits::default()),
            Err(ExtractError::Unsupported("Word 97-2003 .doc".into()))
        );
    }

    #[test]
    fn password_protected_docx_is_encrypted() {
        let mut doc = OLE_MAGIC.to_vec();
        doc.extend_from_slice(&[0u8; 200]);
        doc.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(
            extract(&doc, &Limits::default()),
            Err(ExtractError::Encrypted)
        );
    }

    #[test]
    fn zip_without_word_document_is_malformed() {
        let z = build_zip(&[("content.xml", b"<x/>")]);
        assert!(matches!(
            extract(&z, &Limits::default()),
            Err(ExtractError::Malformed(_))
        ));
    }

    #[test]
    fn main_part_is_found_through_the_package_relationships() {
        let rels = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="r" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="/word/document2.xml"/></Relationships>"#;
        let doc = document(&p("Zweitname"));
        let z = build_zip(&[
            ("_rels/.rels", rels.as_bytes()),
            ("word/document2.xml", doc.as_bytes()),
        ]);
        assert_eq!(extract(&z, &Limits::default()).unwrap().text, "Zweitname");
    }

    #[test]
    fn not_a_zip_is_malformed() {
        for bytes in [
            &b""[..],
            b"%PDF-1.7",
            b"hello world, this is not a document",
        ] {
            assert!(matches!(
                extract(bytes, &Limits::default()),
                Err(ExtractError::Malformed(_))
            ));
        }
    }

    #[test]
    fn broken_xml_is_malformed() {
        let z = build_zip(&[("word/document.xml", b"<w:document><w:body><w:p></w:body>")]);
        assert!(matches!(
            extract(&z, &Limits::default()),
            Err(ExtractError::Malformed(_))
        ));
    }

    #[test]
    fn document_xml_bomb_is_a_limit_error() {
        let z = zero_bomb("word/document.xml", 2 * 1024 * 1024);
        let l = Limits {
            max_entry_bytes: 1024 * 1024,
            ..Limits::default()
        };
        assert!(matches!(extract(&z, &l), Err(ExtractError::Limit(_))));
    }

    #[test]
    fn truncated_docx_at_any_length_is_an_error_never_a_panic() {
        let body = format!(
            "{}<w:p>{}<w:r><w:t> Ja</w:t></w:r></w:p>",
            p("Anmeldung zur Schulung"),
            sdt_checkbox(Some("1"), "☒")
        );
        let d = docx(&body);
        assert!(extract(&d, &Limits::default()).is_ok());
        for len in 0..d.len() {
            let res = extract(&d[..len], &Limits::default());
            assert!(res.is_err(), "truncated at {len} accepted");
        }
    }

    #[test]
    fn random_and_flipped_bytes_never_panic() {
        let d = docx(&p("Prüfung"));
        let mut next = crate::test_noise::xorshift(0x2545_F491_4F6C_DD1D);
        for _ in 0..300 {
            let mut bad = d.clone();
            let pos = (next() % bad.len() as u64) as usize;
            bad[pos] ^= (next() as u8) | 1;
            let _ = extract(&bad, &Limits::default());
        }
        let random = crate::test_noise::noise(&mut next, 4096);
        assert!(extract(&random, &Limits::default()).is_err());
    }

    #[test]
    fn text_content_controls_become_named_fields_and_placeholders_read_as_empty() {
        let filled = r#"<w:p><w:sdt><w:sdtPr><w:tag w:val="kommune_name"/></w:sdtPr><w:sdtContent><w:r><w:t>Stadt Münster</w:t></w:r></w:sdtContent></w:sdt></w:p>"#;
        let empty = r#"<w:p><w:sdt><w:sdtPr><w:tag w:val="einwohnerzahl"/><w:showingPlcHdr/></w:sdtPr><w:sdtContent><w:r><w:t>Klicken oder tippen Sie hier, um Text einzugeben.</w:t></w:r></w:sdtContent></w:sdt></w:p>"#;
        let ex = extract(&docx(&format!("{filled}{empty}")), &Limits::default()).unwrap();
        assert_eq!(
            ex.fields,
            vec![
                Field {
                    name: "kommune_name".into(),
                    value: "Stadt Münster".into()
                },
                Field {
                    name: "einwohnerzahl".into(),
                    value: String::new()
                },
            ]
        );
    }
}
