//! ODT: text and checkboxes from `content.xml`.
//!
//! Form checkboxes (`form:checkbox` in `office:forms`) take their state from
//! `form:current-state`, falling back to `form:state`. The label is
//! `form:label`, else the text of the paragraph that anchors the control
//! (`draw:control draw:control="<id>"`), else `form:name`; the paragraph (or
//! table row) is the box's context. A control anchored to the page (outside
//! any paragraph) has no text of its own: it keeps its label or name and gets
//! a [`Place`] from `text:anchor-page-number`, `svg:x` and `svg:y`, so that
//! boxes can be put in page order. Glyphs typed into the text are checkboxes
//! too. Pages come from `meta.xml` when it has them.

use super::archive::{ZipReader, looks_like_zip};
use super::docx::{attr, resolve_ref, tidy_text, xml_error, xml_string};
use super::glyphs::{FIELD_MARK, FieldBox, checkboxes_with_fields};
use super::{Checkbox, CheckboxKind, ExtractError, Extracted, Limits, Place};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// Text, checkboxes and (when `meta.xml` has it) the page count of an ODT.
pub fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    if !looks_like_zip(bytes) {
        return Err(ExtractError::Malformed("not an ODF (ZIP) file".into()));
    }
    let mut zip = ZipReader::open(bytes, limits)?;
    if let Some(manifest) = zip.read("META-INF/manifest.xml")? {
        let manifest = xml_string(&manifest);
        if manifest.contains("encryption-data") || manifest.contains("encrypted-package") {
            return Err(ExtractError::Encrypted);
        }
    }
    let content = zip
        .read("content.xml")?
        .ok_or_else(|| ExtractError::Malformed("ODF has no content.xml".into()))?;
    let meta_pages = match zip.read("meta.xml") {
        Ok(Some(meta)) => pages_from_meta(&xml_string(&meta)),
        _ => None,
    };
    let content = xml_string(&content);
    let controls = collect_controls(&content)?;
    let body = parse_body(&content, &controls)?;
    let pages = meta_pages.or((body.soft_breaks > 0).then(|| body.soft_breaks.saturating_add(1)));
    Ok(Extracted {
        text: body.text,
        checkboxes: body.checkboxes,
        fields: Vec::new(),
        pages,
        text_runs: Vec::new(),
    })
}

#[derive(Debug, Clone)]
struct Control {
    id: Option<String>,
    checked: bool,
    label: Option<String>,
    name: Option<String>,
    anchored: bool,
    /// Where a control anchored to the page is drawn.
    place: Option<Place>,
}

/// An ODF length ("2.5cm", "10mm", "1in", "72pt") in points.
fn length_pt(s: &str) -> Option<f32> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f32 = n.trim().parse().ok()?;
    let factor = match unit {
        "pt" => 1.0,
        "cm" => 72.0 / 2.54,
        "mm" => 72.0 / 25.4,
        "in" => 72.0,
        "pc" => 12.0,
        "px" => 0.75,
        _ => return None,
    };
    let v = n * factor;
    (v.is_finite() && v.abs() < 1e5).then_some(v)
}

/// The place of a page-anchored `draw:control`, y turned upwards (ODF
/// measures from the top).
fn page_place(e: &BytesStart<'_>) -> Option<Place> {
    let page: u32 = attr(e, "anchor-page-number")?.trim().parse().ok()?;
    let x = length_pt(&attr(e, "x")?)?;
    let y = length_pt(&attr(e, "y")?)?;
    let w = attr(e, "width").and_then(|w| length_pt(&w)).unwrap_or(10.0);
    let h = attr(e, "height")
        .and_then(|h| length_pt(&h))
        .unwrap_or(10.0);
    Some(Place {
        page,
        rect: [x, -y - h, x + w, -y],
    })
}

fn state(e: &BytesStart<'_>) -> bool {
    let s = attr(e, "current-state").or_else(|| attr(e, "state"));
    matches!(s.as_deref().map(str::trim), Some("checked"))
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

fn collect_controls(xml: &str) -> Result<Vec<Control>, ExtractError> {
    let mut r = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut forms_depth = 0u32;
    loop {
        match r.read_event().map_err(|e| xml_error("content.xml", e))? {
            Event::Start(e) if e.local_name().as_ref() == "forms" => forms_depth += 1,
            Event::End(e) if e.local_name().as_ref() == "forms" => {
                forms_depth = forms_depth.saturating_sub(1);
            }
            Event::Start(e) | Event::Empty(e)
                if forms_depth > 0 && e.local_name().as_ref() == "checkbox" =>
            {
                out.push(Control {
                    id: nonempty(attr(&e, "id")),
                    checked: state(&e),
                    label: nonempty(attr(&e, "label")),
                    name: nonempty(attr(&e, "name")),
                    anchored: false,
                    place: None,
                });
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

struct Body {
    text: String,
    checkboxes: Vec<Checkbox>,
    soft_breaks: u32,
}

fn parse_body(xml: &str, controls: &[Control]) -> Result<Body, ExtractError> {
    let mut controls = controls.to_vec();
    let mut r = Reader::from_str(xml);
    let mut shown = String::new();
    let mut scan = String::new();
    let mut fields = Vec::new();
    let mut in_body = false;
    let mut skip_depth = 0u32;
    let mut para_depth = 0u32;
    let mut cell_depth = 0u32;
    let mut soft_breaks = 0u32;
    let push = |shown: &mut String, scan: &mut String, s: &str| {
        for c in s.chars() {
            let c = if c == FIELD_MARK { '\u{FFFD}' } else { c };
            shown.push(c);
            scan.push(c);
        }
    };
    loop {
        let ev = r.read_event().map_err(|e| xml_error("content.xml", e))?;
        match ev {
            Event::Start(e) => match e.local_name().as_ref() {
                "body" => in_body = true,
                "forms" | "tracked-changes" | "annotation" | "notes-configuration" => {
                    skip_depth += 1;
                }
                "p" | "h" if skip_depth == 0 => para_depth += 1,
                "table-cell" if skip_depth == 0 => cell_depth += 1,
                _ => {}
            },
            Event::Empty(e) if in_body && skip_depth == 0 => match e.local_name().as_ref() {
                "s" => {
                    let n = attr(&e, "c")
                        .and_then(|c| c.trim().parse::<usize>().ok())
                        .unwrap_or(1)
                        .min(100);
                    push(&mut shown, &mut scan, &" ".repeat(n));
                }
                "tab" => push(&mut shown, &mut scan, "\t"),
                "line-break" => push(&mut shown, &mut scan, "\n"),
                "soft-page-break" => soft_breaks += 1,
                "control" if para_depth == 0 => {
                    // Anchored to the page: no paragraph labels it.
                    let id = attr(&e, "control");
                    if let Some(c) = controls
                        .iter_mut()
                        .find(|c| !c.anchored && c.id.is_some() && c.id == id)
                    {
                        c.place = c.place.or(page_place(&e));
                    }
                }
                "control" => {
                    let id = attr(&e, "control");
                    let found = controls
                        .iter_mut()
                        .find(|c| !c.anchored && c.id.is_some() && c.id == id);
                    if let Some(c) = found {
                        c.anchored = true;
                        shown.push(if c.checked { '\u{2612}' } else { '\u{2610}' });
                        scan.push(FIELD_MARK);
                        fields.push(FieldBox {
                            checked: c.checked,
                            kind: CheckboxKind::OdfForm,
                            label: c.label.clone(),
                            fallback_label: c.name.clone(),
                        });
                    }
                }
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                "body" => in_body = false,
                "forms" | "tracked-changes" | "annotation" | "notes-configuration" => {
                    skip_depth = skip_depth.saturating_sub(1);
                }
                "p" | "h" if skip_depth == 0 => {
                    para_depth = para_depth.saturating_sub(1);
                    let sep = if cell_depth > 0 { " " } else { "\n" };
                    push(&mut shown, &mut scan, sep);
                }
                "table-cell" if skip_depth == 0 => {
                    cell_depth = cell_depth.saturating_sub(1);
                    for s in [&mut shown, &mut scan] {
                        let n = s.trim_end_matches(' ').len();
                        s.truncate(n);
                        s.push('\t');
                    }
                }
                "table-row" if skip_depth == 0 => {
                    for s in [&mut shown, &mut scan] {
                        let n = s.trim_end_matches(['\t', ' ']).len();
                        s.truncate(n);
                        s.push('\n');
                    }
                }
                _ => {}
            },
            Event::Text(t) if in_body && skip_depth == 0 && para_depth > 0 => {
                push(&mut shown, &mut scan, &t.xml10_content());
            }
            Event::CData(t) if in_body && skip_depth == 0 && para_depth > 0 => {
                push(&mut shown, &mut scan, &t.xml10_content());
            }
            Event::GeneralRef(g) if in_body && skip_depth == 0 && para_depth > 0 => {
                if let Some(s) = resolve_ref(&g.xml10_content()) {
                    push(&mut shown, &mut scan, &s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut checkboxes = checkboxes_with_fields(&scan, &fields);
    // Controls no paragraph anchors: labelled by their own label or name.
    checkboxes.extend(controls.iter().filter(|c| !c.anchored).map(|c| {
        let label = c
            .label
            .clone()
            .or_else(|| c.name.clone())
            .unwrap_or_default();
        Checkbox {
            place: c.place,
            ..Checkbox::new(label, c.checked, CheckboxKind::OdfForm)
        }
    }));
    Ok(Body {
        text: tidy_text(&shown),
        checkboxes,
        soft_breaks,
    })
}

fn pages_from_meta(meta: &str) -> Option<u32> {
    let mut r = Reader::from_str(meta);
    loop {
        match r.read_event() {
            Ok(Event::Start(e) | Event::Empty(e))
                if e.local_name().as_ref() == "document-statistic" =>
            {
                return attr(&e, "page-count")
                    .and_then(|p| p.trim().parse().ok())
                    .filter(|&n: &u32| n > 0);
            }
            Ok(Event::Eof) | Err(_) => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::archive::tests::{build_zip, zero_bomb};

    const NS: &str = r#"xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:form="urn:oasis:names:tc:opendocument:xmlns:form:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:xml="http://www.w3.org/XML/1998/namespace""#;

    fn content(forms: &str, body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content {NS} office:version="1.3"><office:body><office:text><office:forms form:automatic-focus="false" form:apply-design-mode="false"><form:form form:name="Standard">{forms}</form:form></office:forms>{body}</office:text></office:body></office:document-content>"#
        )
    }

    fn odt(content: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let manifest = r#"<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
        let mut members: Vec<(&str, &[u8])> = vec![
            ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ("META-INF/manifest.xml", manifest.as_bytes()),
            ("content.xml", content.as_bytes()),
        ];
        members.extend(extra.iter().map(|(n, c)| (*n, c.as_bytes())));
        build_zip(&members)
    }

    fn checkbox(id: &str, attrs: &str) -> String {
        format!(
            r#"<form:checkbox form:name="{id}_name" form:control-implementation="ooo:com.sun.star.form.component.CheckBox" xml:id="{id}" form:id="{id}" {attrs} form:image-position="center"><form:properties/></form:checkbox>"#
        )
    }

    fn anchored(id: &str, text: &str) -> String {
        format!(
            r#"<text:p text:style-name="P1"><draw:control text:anchor-type="as-char" draw:z-index="0" draw:control="{id}"/>{text}</text:p>"#
        )
    }

    fn cb(label: &str, checked: bool) -> Checkbox {
        Checkbox::new(label, checked, CheckboxKind::OdfForm)
    }

    #[test]
    fn reads_paragraphs_headings_and_tables_with_umlauts() {
        let body = r#"<text:h text:outline-level="1">Anmeldung zur Fortbildung</text:h><text:p>Sehr geehrte Frau <text:span>Özdemir</text:span>,<text:s text:c="2"/>Grüße</text:p><table:table><table:table-row><table:table-cell><text:p>Straße</text:p></table:table-cell><table:table-cell><text:p>Hauptstraße 5</text:p></table:table-cell></table:table-row></table:table><text:p>Ä&amp;Ö<text:tab/>ß<text:line-break/>Ende</text:p>"#;
        let x = extract(&odt(&content("", body), &[]), &Limits::default()).unwrap();
        assert_eq!(
            x.text,
            "Anmeldung zur Fortbildung\nSehr geehrte Frau Özdemir,  Grüße\nStraße\tHauptstraße 5\nÄ&Ö\tß\nEnde"
        );
        assert!(x.checkboxes.is_empty());
        assert_eq!(x.pages, None);
    }

    #[test]
    fn form_checkboxes_use_current_state_then_state() {
        let forms = [
            checkbox(
                "c1",
                r#"form:current-state="checked" form:state="unchecked""#,
            ),
            checkbox(
                "c2",
                r#"form:current-state="unchecked" form:state="checked""#,
            ),
            checkbox("c3", r#"form:state="checked""#),
            checkbox("c4", r#"form:current-state="unknown""#),
            checkbox("c5", ""),
        ]
        .concat();
        let body = [
            anchored("c1", " Ich nehme teil"),
            anchored("c2", " Übernachtung"),
            anchored("c3", " Verpflegung"),
            anchored("c4", " Vielleicht"),
            anchored("c5", " Gar nichts"),
        ]
        .concat();
        let x = extract(&odt(&content(&forms, &body), &[]), &Limits::default()).unwrap();
        assert_eq!(
            x.checkboxes,
            vec![
                cb("Ich nehme teil", true),
                cb("Übernachtung", false),
                cb("Verpflegung", true),
                cb("Vielleicht", false),
                cb("Gar nichts", false),
            ]
        );
        assert!(
            x.text.starts_with("☒ Ich nehme teil\n☐ Übernachtung"),
            "{}",
            x.text
        );
    }

    #[test]
    fn form_label_wins_then_paragraph_then_name() {
        let forms = [
            checkbox(
                "a",
                r#"form:label="Datenschutz akzeptiert" form:current-state="checked""#,
            ),
            checkbox("b", r#"form:current-state="checked""#),
            checkbox(
                "c",
                r#"form:label="Nicht verankert" form:current-state="unchecked""#,
            ),
        ]
        .concat();
        let body = [anchored("a", " steht hier"), anchored("b", "")].concat();
        let x = extract(&odt(&content(&forms, &body), &[]), &Limits::default()).unwrap();
        assert_eq!(
            x.checkboxes,
            vec![
                Checkbox {
                    context: Some("steht hier".into()),
                    ..cb("Datenschutz akzeptiert", true)
                },
                cb("b_name", true),
                cb("Nicht verankert", false),
            ]
        );
    }

    #[test]
    fn controls_anchored_to_the_page_keep_their_names_and_get_a_place() {
        let forms = [
            checkbox(
                "a",
                r#"form:label="Markierfeld 1" form:current-state="checked""#,
            ),
            checkbox("b", r#"form:label="Markierfeld 2""#),
        ]
        .concat();
        // LibreOffice writes page-anchored shapes before the first paragraph.
        let body = r#"<draw:control text:anchor-type="page" text:anchor-page-number="1" svg:width="0.4cm" svg:height="0.4cm" svg:x="2cm" svg:y="12cm" draw:control="b"/><draw:control text:anchor-type="page" text:anchor-page-number="1" svg:width="4mm" svg:height="4mm" svg:x="2cm" svg:y="11cm" draw:control="a"/><text:p>Fragebogen</text:p>"#;
        let x = extract(&odt(&content(&forms, body), &[]), &Limits::default()).unwrap();
        let got: Vec<(&str, bool, u32, f32)> = x
            .checkboxes
            .iter()
            .map(|c| {
                let p = c.place.unwrap();
                (c.label.as_str(), c.checked, p.page, p.rect[3])
            })
            .collect();
        let top = |cm: f32| -cm * 72.0 / 2.54;
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[0].1, got[0].2), ("Markierfeld 1", true, 1));
        assert!((got[0].3 - top(11.0)).abs() < 0.01 && (got[1].3 - top(12.0)).abs() < 0.01);
        assert!(x.checkboxes.iter().all(|c| c.context.is_none()));
        assert_eq!(x.text, "Fragebogen");
        assert_eq!(length_pt("1in"), Some(72.0));
        assert_eq!(length_pt("12"), None);
        assert_eq!(length_pt("1e30cm"), None);
    }

    #[test]
    fn glyphs_in_odt_text_are_checkboxes() {
        let body = "<text:p>☒ Bahnfahrt</text:p><text:p>☐ Parkplatz</text:p>";
        let x = extract(&odt(&content("", body), &[]), &Limits::default()).unwrap();
        let got: Vec<(String, bool, CheckboxKind)> = x
            .checkboxes
            .into_iter()
            .map(|c| (c.label, c.checked, c.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Bahnfahrt".into(), true, CheckboxKind::Glyph),
                ("Parkplatz".into(), false, CheckboxKind::Glyph),
            ]
        );
    }

    #[test]
    fn deleted_text_in_tracked_changes_is_not_read() {
        let body = r#"<text:tracked-changes><text:changed-region xml:id="ct1"><text:deletion><text:p>alt und gelöscht</text:p></text:deletion></text:changed-region></text:tracked-changes><text:p>neu</text:p>"#;
        let x = extract(&odt(&content("", body), &[]), &Limits::default()).unwrap();
        assert_eq!(x.text, "neu");
    }

    #[test]
    fn page_count_comes_from_meta_xml() {
        let meta = r#"<?xml version="1.0"?><office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"><office:meta><meta:document-statistic meta:table-count="0" meta:page-count="4" meta:word-count="10"/></office:meta></office:document-meta>"#;
        let d = odt(&content("", "<text:p>a</text:p>"), &[("meta.xml", meta)]);
        assert_eq!(extract(&d, &Limits::default()).unwrap().pages, Some(4));
        let body = "<text:p>a</text:p><text:p><text:soft-page-break/>b</text:p>";
        let d = odt(&content("", body), &[]);
        assert_eq!(extract(&d, &Limits::default()).unwrap().pages, Some(2));
    }

    #[test]
    fn encrypted_odt_is_encrypted() {
        let manifest = r#"<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" manifest:size="1234"><manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="x"/></manifest:file-entry></manifest:manifest>"#;
        let z = build_zip(&[
            ("META-INF/manifest.xml", manifest.as_bytes()),
            ("content.xml", &[0x8Fu8, 0x22, 0x01][..]),
        ]);
        assert_eq!(
            extract(&z, &Limits::default()),
            Err(ExtractError::Encrypted)
        );
    }

    #[test]
    fn zip_without_content_xml_or_not_a_zip_is_malformed() {
        let z = build_zip(&[("word/document.xml", b"<x/>")]);
        assert!(matches!(
            extract(&z, &Limits::default()),
            Err(ExtractError::Malformed(_))
        ));
        assert!(matches!(
            extract(b"not a zip at all", &Limits::default()),
            Err(ExtractError::Malformed(_))
        ));
    }

    #[test]
    fn content_xml_bomb_is_a_limit_error() {
        let z = zero_bomb("content.xml", 2 * 1024 * 1024);
        let l = Limits {
            max_entry_bytes: 1024 * 1024,
            ..Limits::default()
        };
        assert!(matches!(extract(&z, &l), Err(ExtractError::Limit(_))));
    }

    #[test]
    fn truncated_odt_at_any_length_is_an_error_never_a_panic() {
        let forms = checkbox("c1", r#"form:current-state="checked""#);
        let d = odt(&content(&forms, &anchored("c1", " Ja")), &[]);
        assert!(extract(&d, &Limits::default()).is_ok());
        for len in 0..d.len() {
            assert!(
                extract(&d[..len], &Limits::default()).is_err(),
                "truncated at {len}"
            );
        }
    }
}
