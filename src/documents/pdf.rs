//! PDF: page count, text and AcroForm fields, read with lopdf.
//!
//! lopdf has no forms module, so the AcroForm tree is walked here: Catalog
//! `/AcroForm` → `/Fields` → `/Kids`, reading `/T` (partial names joined with
//! '.'), the inheritable `/FT`, `/V` and `/Ff`, `/TU` (tooltip) and each widget's
//! `/AS` and `/AP /N`. A box is checked when its value is a name other than
//! `/Off`; the on-name varies (`/Yes`, `/On`, `/Ja`, ...).
//!
//! The parser runs through [`run_isolated`], so a panic in lopdf becomes
//! [`ExtractError::Malformed`] and a hang past [`PARSE_BUDGET`] becomes
//! [`ExtractError::Limit`].
//!
//! An image-only scan yields empty text and no fields; that is not an error.
//! The caller decides from that that a human must look at it.

use super::isolate::run_isolated;
use super::pdf_layout::{self, PageRef};
use super::{Checkbox, CheckboxKind, ExtractError, Extracted, Field, Limits, Place};
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

/// How long lopdf may take over one document.
pub const PARSE_BUDGET: Duration = Duration::from_secs(10);

/// Nesting of `/Kids` below `/Fields` that is still read; deeper is a limit.
pub const MAX_FIELD_DEPTH: usize = 32;

/// Field and widget dictionaries visited in one form; more is a limit.
pub const MAX_FIELD_NODES: usize = 10_000;

/// Field flags (PDF 32000-1, table 226).
const FF_RADIO: i64 = 1 << 15;
const FF_PUSHBUTTON: i64 = 1 << 16;

/// Reads page count, text and AcroForm fields from a PDF.
///
/// Errors: input over `limits.max_input_bytes`, decompressed content over
/// `limits.max_entry_bytes` or text over `limits.max_total_bytes` →
/// `Limit`; not a PDF or damaged beyond repair → `Malformed`; encrypted
/// (also with an empty user password) → `Encrypted`; an XFA form →
/// `Unsupported("XFA form")`.
pub fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(ExtractError::Limit(format!(
            "PDF is larger than {} bytes",
            limits.max_input_bytes
        )));
    }
    let bytes = bytes.to_vec();
    let limits = *limits;
    run_isolated(PARSE_BUDGET, move || extract_inner(&bytes, &limits))
}

fn extract_inner(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractError> {
    let max_decompressed = usize::try_from(limits.max_entry_bytes).unwrap_or(usize::MAX);
    let doc = Document::load_mem_with_options(
        bytes,
        LoadOptions::with_max_decompressed_size(max_decompressed),
    )
    .map_err(|e| load_error(bytes, e))?;
    if doc.trailer.has(b"Encrypt") || doc.was_encrypted() {
        return Err(ExtractError::Encrypted);
    }

    let pages = doc.get_pages();
    let page_refs = page_refs(&doc, &pages);
    let (fields, checkboxes) = read_form(&doc, &page_refs)?;
    // The text of the pages with boxes, placed, to find the label beside each.
    let with_boxes: BTreeSet<u32> = checkboxes
        .iter()
        .filter_map(|c| c.place.map(|p| p.page))
        .collect();
    let to_place: Vec<PageRef> = page_refs
        .iter()
        .filter(|p| with_boxes.contains(&p.number))
        .copied()
        .collect();
    let text_runs = pdf_layout::text_runs(&doc, &to_place, max_decompressed);

    let mut text = String::new();
    for &number in pages.keys() {
        match doc.extract_text_with_limit(&[number], max_decompressed) {
            Ok(page_text) => {
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&page_text);
            }
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                ..
            })) => {
                return Err(ExtractError::Limit(format!(
                    "page {number} decompresses to more than {max_decompressed} bytes"
                )));
            }
            Err(e) => tracing::debug!(page = number, error = %e, "no text from PDF page"),
        }
        if text.len() as u64 > limits.max_total_bytes {
            return Err(ExtractError::Limit(format!(
                "PDF text is longer than {} bytes",
                limits.max_total_bytes
            )));
        }
    }

    Ok(Extracted {
        text,
        checkboxes,
        fields,
        pages: Some(u32::try_from(pages.len()).unwrap_or(u32::MAX)),
        text_runs,
    })
}

/// Every page with its number and `/Rotate` (inherited from its parents).
fn page_refs(doc: &Document, pages: &std::collections::BTreeMap<u32, ObjectId>) -> Vec<PageRef> {
    pages
        .iter()
        .map(|(&number, &id)| {
            let mut rotate = 0;
            let mut node = doc.get_dictionary(id).ok();
            for _ in 0..MAX_FIELD_DEPTH {
                let Some(dict) = node else { break };
                if let Some(Object::Integer(r)) =
                    dict.get(b"Rotate").ok().and_then(|o| deref(doc, o))
                {
                    rotate = *r;
                    break;
                }
                node = match dict.get(b"Parent") {
                    Ok(Object::Reference(parent)) => doc.get_dictionary(*parent).ok(),
                    _ => None,
                };
            }
            PageRef { number, id, rotate }
        })
        .collect()
}

fn load_error(bytes: &[u8], e: lopdf::Error) -> ExtractError {
    match e {
        lopdf::Error::Decryption(_)
        | lopdf::Error::InvalidPassword
        | lopdf::Error::AlreadyEncrypted => ExtractError::Encrypted,
        lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => {
            ExtractError::Limit(format!("PDF content decompresses too far: {e}"))
        }
        // lopdf reports some encrypted files it cannot open as parse errors.
        _ if contains(bytes, b"/Encrypt") => ExtractError::Encrypted,
        _ => ExtractError::Malformed(format!("not a readable PDF: {e}")),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------
// AcroForm

fn read_form(
    doc: &Document,
    pages: &[PageRef],
) -> Result<(Vec<Field>, Vec<Checkbox>), ExtractError> {
    // Which page each annotation is on, for widgets without /P.
    let mut annot_pages = HashMap::new();
    for page in pages {
        let Some(Object::Array(annots)) = doc
            .get_dictionary(page.id)
            .ok()
            .and_then(|p| p.get(b"Annots").ok())
            .and_then(|o| deref(doc, o))
        else {
            continue;
        };
        for a in annots.iter().take(MAX_FIELD_NODES) {
            if let Object::Reference(id) = a {
                annot_pages.entry(*id).or_insert(page.number);
            }
        }
        if annot_pages.len() >= MAX_FIELD_NODES {
            break;
        }
    }
    let mut walk = FormWalk {
        doc,
        seen: HashSet::new(),
        nodes: 0,
        fields: Vec::new(),
        checkboxes: Vec::new(),
        pages: pages.iter().map(|p| (p.id, (p.number, p.rotate))).collect(),
        annot_pages,
    };
    let Ok(catalog) = doc.catalog() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let Some(Object::Dictionary(acroform)) =
        catalog.get(b"AcroForm").ok().and_then(|o| deref(doc, o))
    else {
        return Ok((Vec::new(), Vec::new()));
    };
    if acroform.has(b"XFA") {
        return Err(ExtractError::Unsupported("XFA form".into()));
    }
    let Some(Object::Array(roots)) = acroform.get(b"Fields").ok().and_then(|o| deref(doc, o))
    else {
        return Ok((Vec::new(), Vec::new()));
    };
    for root in roots {
        if let Some(node) = walk.node(root)? {
            walk.visit(node, "", Inherited::default(), 0)?;
        }
    }
    Ok((walk.fields, walk.checkboxes))
}

/// Follows references; `None` for a dangling one or a reference loop.
fn deref<'a>(doc: &'a Document, obj: &'a Object) -> Option<&'a Object> {
    doc.dereference(obj).ok().map(|(_, o)| o)
}

/// Attributes a field passes on to its kids (PDF 32000-1, 12.7.3.1).
#[derive(Clone, Copy, Default)]
struct Inherited<'a> {
    ft: Option<&'a [u8]>,
    v: Option<&'a Object>,
    ff: i64,
}

struct FormWalk<'a> {
    doc: &'a Document,
    /// Indirect field and widget objects already visited: a second visit
    /// (a `/Kids` cycle or a shared kid) is skipped.
    seen: HashSet<ObjectId>,
    nodes: usize,
    fields: Vec<Field>,
    checkboxes: Vec<Checkbox>,
    /// Page number and `/Rotate` by page object.
    pages: HashMap<ObjectId, (u32, i64)>,
    /// Page number by annotation object (from the pages' `/Annots`).
    annot_pages: HashMap<ObjectId, u32>,
}

/// A field or widget dictionary and its object id (none when direct).
type Node<'a> = (Option<ObjectId>, &'a Dictionary);

impl<'a> FormWalk<'a> {
    /// The dictionary behind a `/Fields` or `/Kids` entry, or `None` if it is
    /// not one or was visited before.
    fn node(&mut self, obj: &'a Object) -> Result<Option<Node<'a>>, ExtractError> {
        let Ok((id, obj)) = self.doc.dereference(obj) else {
            return Ok(None);
        };
        if let Some(id) = id
            && !self.seen.insert(id)
        {
            return Ok(None);
        }
        self.nodes += 1;
        if self.nodes > MAX_FIELD_NODES {
            return Err(ExtractError::Limit(format!(
                "form has more than {MAX_FIELD_NODES} fields and widgets"
            )));
        }
        Ok(match obj {
            Object::Dictionary(dict) => Some((id, dict)),
            _ => None,
        })
    }

    fn get(&self, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
        dict.get(key).ok().and_then(|o| deref(self.doc, o))
    }

    fn visit(
        &mut self,
        (id, dict): Node<'a>,
        parent: &str,
        inherited: Inherited<'a>,
        depth: usize,
    ) -> Result<(), ExtractError> {
        if depth > MAX_FIELD_DEPTH {
            return Err(ExtractError::Limit(format!(
                "form fields nest deeper than {MAX_FIELD_DEPTH}"
            )));
        }
        let name = match self.get(dict, b"T").and_then(text_string) {
            Some(partial) if parent.is_empty() => partial,
            Some(partial) => format!("{parent}.{partial}"),
            None => parent.to_string(),
        };
        let inherited = Inherited {
            ft: match self.get(dict, b"FT") {
                Some(Object::Name(ft)) => Some(ft.as_slice()),
                _ => inherited.ft,
            },
            v: self.get(dict, b"V").or(inherited.v),
            ff: match self.get(dict, b"Ff") {
                Some(Object::Integer(ff)) => *ff,
                _ => inherited.ff,
            },
        };

        // Kids are either fields (with /T) or this field's widgets.
        let mut child_fields = Vec::new();
        let mut widgets = Vec::new();
        let mut has_kids = false;
        if let Some(Object::Array(kids)) = self.get(dict, b"Kids") {
            for kid in kids {
                has_kids = true;
                if let Some(kid) = self.node(kid)? {
                    if kid.1.has(b"T") {
                        child_fields.push(kid);
                    } else {
                        widgets.push(kid);
                    }
                }
            }
        }
        for child in &child_fields {
            self.visit(*child, &name, inherited, depth + 1)?;
        }
        if !child_fields.is_empty() && widgets.is_empty() {
            return Ok(());
        }
        if !has_kids {
            // Field and widget merged into one dictionary.
            widgets.push((id, dict));
        }
        let tooltip = self.get(dict, b"TU").and_then(text_string);
        self.terminal(name, tooltip, inherited, &widgets);
        Ok(())
    }

    fn terminal(
        &mut self,
        name: String,
        tooltip: Option<String>,
        inherited: Inherited<'a>,
        widgets: &[Node<'a>],
    ) {
        let ft = inherited.ft.or(match inherited.v {
            // No /FT (sloppy producers): guess from the value.
            Some(Object::String(..)) => Some(b"Tx".as_slice()),
            Some(Object::Name(_)) => Some(b"Btn".as_slice()),
            _ if widgets.iter().any(|(_, w)| w.has(b"AS")) => Some(b"Btn".as_slice()),
            _ => None,
        });
        match ft {
            Some(b"Tx" | b"Ch") => self.fields.push(Field {
                name,
                value: inherited
                    .v
                    .map(|v| value_text(self.doc, v))
                    .unwrap_or_default(),
            }),
            Some(b"Btn") if inherited.ff & FF_PUSHBUTTON == 0 => {
                let label = tooltip.filter(|t| !t.trim().is_empty()).unwrap_or(name);
                self.button(label, inherited, widgets);
            }
            _ => {} // signatures, push buttons, unknown types
        }
    }

    fn button(&mut self, label: String, inherited: Inherited<'a>, widgets: &[Node<'a>]) {
        let value = match inherited.v {
            Some(Object::Name(v)) => Some(v.as_slice()),
            _ => None,
        };
        // Each widget's on-state name, its current appearance state and place.
        let states: Vec<_> = widgets
            .iter()
            .map(|&(id, w)| {
                (
                    self.on_state(w),
                    self.appearance_state(w),
                    self.place(id, w),
                )
            })
            .collect();
        let mut on_names: Vec<&[u8]> = Vec::new();
        for on in states.iter().filter_map(|(on, _, _)| *on) {
            if !on_names.contains(&on) {
                on_names.push(on);
            }
        }
        let radio = inherited.ff & FF_RADIO != 0;
        if on_names.is_empty() || (!radio && on_names.len() == 1) {
            let checked = match value {
                Some(v) => v != b"Off",
                None => states
                    .iter()
                    .any(|(_, st, _)| st.is_some_and(|s| s != b"Off")),
            };
            self.checkboxes.push(Checkbox {
                place: states.iter().find_map(|(_, _, place)| *place),
                ..Checkbox::new(label, checked, CheckboxKind::AcroForm)
            });
            return;
        }
        // A radio group (or boxes sharing a name): one checkbox per option.
        for on in on_names {
            let checked = match value {
                Some(v) => v == on,
                None => states
                    .iter()
                    .any(|(o, st, _)| *o == Some(on) && *st == Some(on)),
            };
            let place = states
                .iter()
                .find(|(o, _, _)| *o == Some(on))
                .and_then(|(_, _, place)| *place);
            self.checkboxes.push(Checkbox {
                place,
                ..Checkbox::new(
                    format!("{label}: {}", name_text(on)),
                    checked,
                    CheckboxKind::AcroForm,
                )
            });
        }
    }

    /// Where a widget is drawn: its page (by `/P`, else by the page whose
    /// `/Annots` lists it) and its `/Rect`, turned as the page is shown.
    fn place(&self, id: Option<ObjectId>, widget: &'a Dictionary) -> Option<Place> {
        let by_p = match widget.get(b"P") {
            Ok(Object::Reference(page)) => self.pages.get(page).copied(),
            _ => None,
        };
        let (page, rotate) = match by_p {
            Some(p) => p,
            None => {
                let number = *self.annot_pages.get(&id?)?;
                let rotate = self
                    .pages
                    .values()
                    .find(|(n, _)| *n == number)
                    .map_or(0, |(_, r)| *r);
                (number, rotate)
            }
        };
        let Some(Object::Array(rect)) = self.get(widget, b"Rect") else {
            return None;
        };
        let v: Vec<f32> = rect
            .iter()
            .filter_map(|o| match deref(self.doc, o)? {
                Object::Integer(i) => Some(*i as f32),
                Object::Real(r) => Some(*r),
                _ => None,
            })
            .filter(|v| v.is_finite() && v.abs() < 1e5)
            .collect();
        let [x0, y0, x1, y1] = v.as_slice() else {
            return None;
        };
        let turn = |x: f32, y: f32| match rotate.rem_euclid(360) {
            90 => (y, -x),
            180 => (-x, -y),
            270 => (-y, x),
            _ => (x, y),
        };
        let (ax, ay) = turn(*x0, *y0);
        let (bx, by) = turn(*x1, *y1);
        Some(Place {
            page,
            rect: [ax.min(bx), ay.min(by), ax.max(bx), ay.max(by)],
        })
    }

    /// The name a widget's "on" appearance has: the key of `/AP /N` other
    /// than `/Off`, else `/AS` if it is not `/Off`.
    fn on_state(&self, widget: &'a Dictionary) -> Option<&'a [u8]> {
        if let Some(Object::Dictionary(ap)) = self.get(widget, b"AP")
            && let Some(Object::Dictionary(normal)) = self.get(ap, b"N")
            && let Some((key, _)) = normal.iter().find(|(k, _)| k.as_slice() != b"Off")
        {
            return Some(key.as_slice());
        }
        self.appearance_state(widget).filter(|s| *s != b"Off")
    }

    fn appearance_state(&self, widget: &'a Dictionary) -> Option<&'a [u8]> {
        match self.get(widget, b"AS") {
            Some(Object::Name(s)) => Some(s.as_slice()),
            _ => None,
        }
    }
}

/// The value of a text or choice field as text.
fn value_text(doc: &Document, v: &Object) -> String {
    match v {
        Object::String(..) => text_string(v).unwrap_or_default(),
        Object::Name(n) => name_text(n),
        Object::Array(items) => items
            .iter()
            .filter_map(|item| deref(doc, item))
            .map(|item| value_text(doc, item))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        Object::Integer(i) => i.to_string(),
        Object::Real(r) => r.to_string(),
        _ => String::new(),
    }
}

/// Decodes a PDF text string: UTF-16BE or UTF-8 with a byte order mark, else
/// PDFDocEncoding (falling back to Latin-1 for codes it leaves undefined).
fn text_string(obj: &Object) -> Option<String> {
    let Object::String(bytes, _) = obj else {
        return None;
    };
    let text = match bytes.as_slice() {
        [0xFE, 0xFF, rest @ ..] => {
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        _ => lopdf::decode_text_string(obj)
            .unwrap_or_else(|_| bytes.iter().map(|&b| char::from(b)).collect()),
    };
    Some(text.trim_end_matches('\0').to_string())
}

/// A PDF name as text: UTF-8 if it is, else Latin-1.
fn name_text(name: &[u8]) -> String {
    match std::str::from_utf8(name) {
        Ok(s) => s.to_string(),
        Err(_) => name.iter().map(|&b| char::from(b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{Stream, StringFormat, dictionary};
    use std::time::Instant;

    const HELLO_PAGE: &[u8] = b"BT /F1 12 Tf 72 700 Td (Anmeldung EWS 7) Tj ET";

    /// A PDF with one page per content stream (Helvetica as /F1) and, if
    /// `form` returns one, that dictionary as the catalog's /AcroForm.
    fn build_pdf(
        page_contents: &[&[u8]],
        form: impl FnOnce(&mut Document) -> Option<Dictionary>,
    ) -> Document {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => "Helvetica",
        });
        let mut kids = Vec::new();
        for content in page_contents {
            let content_id = doc.add_object(Stream::new(dictionary! {}, content.to_vec()));
            let page_id = doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "Contents" => content_id,
                "Resources" => dictionary! { "Font" => dictionary! { "F1" => font_id } },
                "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            });
            kids.push(Object::Reference(page_id));
        }
        let count = kids.len() as i64;
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
        );
        let mut catalog = dictionary! { "Type" => "Catalog", "Pages" => pages_id };
        if let Some(acroform) = form(&mut doc) {
            catalog.set("AcroForm", acroform);
        }
        let catalog_id = doc.add_object(catalog);
        doc.trailer.set("Root", catalog_id);
        doc
    }

    fn save(mut doc: Document) -> Vec<u8> {
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    fn literal(bytes: &[u8]) -> Object {
        Object::String(bytes.to_vec(), StringFormat::Literal)
    }

    fn utf16(text: &str) -> Object {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes, StringFormat::Hexadecimal)
    }

    fn checkbox_widget(doc: &mut Document, on: &str, state: &str) -> Object {
        let on_ap = doc.add_object(Stream::new(dictionary! {}, Vec::new()));
        let off_ap = doc.add_object(Stream::new(dictionary! {}, Vec::new()));
        Object::Reference(doc.add_object(dictionary! {
            "Type" => "Annot",
            "Subtype" => "Widget",
            "AS" => state,
            "AP" => dictionary! { "N" => dictionary! { on => on_ap, "Off" => off_ap } },
        }))
    }

    fn registration_form(doc: &mut Document) -> Option<Dictionary> {
        let mut fields = Vec::new();
        let mut add = |doc: &mut Document, dict: Dictionary| {
            fields.push(Object::Reference(doc.add_object(dict)));
        };
        add(
            doc,
            dictionary! { "T" => literal(b"stadt"), "FT" => "Tx", "V" => utf16("Stadt Münster") },
        );
        add(
            doc,
            dictionary! { "T" => literal(b"stadt_latin1"), "FT" => "Tx", "V" => literal(b"Stadt M\xfcnster") },
        );
        add(doc, dictionary! { "T" => literal(b"leer"), "FT" => "Tx" });
        add(
            doc,
            dictionary! {
                "T" => literal(b"kb_yes"), "FT" => "Btn", "V" => "Yes", "AS" => "Yes", "Subtype" => "Widget",
            },
        );
        add(
            doc,
            dictionary! { "T" => literal(b"kb_on"), "FT" => "Btn", "V" => "On", "AS" => "On" },
        );
        add(
            doc,
            dictionary! {
                "T" => literal(b"kb_ja"), "FT" => "Btn", "V" => "Ja", "TU" => utf16("Ich nehme teil (ja)"),
            },
        );
        add(
            doc,
            dictionary! { "T" => literal(b"kb_off"), "FT" => "Btn", "V" => "Off", "AS" => "Off" },
        );
        let widget = checkbox_widget(doc, "Ja", "Ja");
        add(
            doc,
            dictionary! { "T" => literal(b"kb_widget"), "FT" => "Btn", "Kids" => vec![widget] },
        );
        let widget = checkbox_widget(doc, "Ja", "Off");
        add(
            doc,
            dictionary! { "T" => literal(b"kb_widget_off"), "FT" => "Btn", "Kids" => vec![widget] },
        );
        let mo = doc.add_object(
            dictionary! { "T" => literal(b"mo"), "FT" => "Tx", "V" => literal(b"10:00") },
        );
        let di = doc.add_object(dictionary! { "T" => literal(b"di"), "FT" => "Btn", "V" => "Yes" });
        add(
            doc,
            dictionary! { "T" => literal(b"termine"), "Kids" => vec![mo.into(), di.into()] },
        );
        let frau = checkbox_widget(doc, "Frau", "Frau");
        let herr = checkbox_widget(doc, "Herr", "Off");
        add(
            doc,
            dictionary! {
                "T" => literal(b"anrede"), "FT" => "Btn", "Ff" => FF_RADIO, "V" => "Frau",
                "Kids" => vec![frau, herr],
            },
        );
        add(
            doc,
            dictionary! { "T" => literal(b"senden"), "FT" => "Btn", "Ff" => FF_PUSHBUTTON },
        );
        add(
            doc,
            dictionary! { "T" => literal(b"ohne_ap"), "FT" => "Btn", "Ff" => FF_RADIO, "V" => "Off" },
        );
        add(
            doc,
            dictionary! { "T" => literal(b"unterschrift"), "FT" => "Sig" },
        );
        Some(dictionary! { "Fields" => fields })
    }

    fn checkbox(label: &str, checked: bool) -> Checkbox {
        Checkbox::new(label, checked, CheckboxKind::AcroForm)
    }

    fn field(name: &str, value: &str) -> Field {
        Field {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn reads_text_fields_checkboxes_and_page_text_of_a_registration_form() {
        let pdf = save(build_pdf(&[HELLO_PAGE], registration_form));
        let got = extract(&pdf, &Limits::default()).unwrap();
        assert_eq!(got.pages, Some(1));
        assert!(got.text.contains("Anmeldung EWS 7"), "{:?}", got.text);
        assert_eq!(
            got.fields,
            vec![
                field("stadt", "Stadt Münster"),
                field("stadt_latin1", "Stadt Münster"),
                field("leer", ""),
                field("termine.mo", "10:00"),
            ]
        );
        assert_eq!(
            got.checkboxes,
            vec![
                checkbox("kb_yes", true),
                checkbox("kb_on", true),
                checkbox("Ich nehme teil (ja)", true),
                checkbox("kb_off", false),
                checkbox("kb_widget", true),
                checkbox("kb_widget_off", false),
                checkbox("termine.di", true),
                checkbox("anrede: Frau", true),
                checkbox("anrede: Herr", false),
                checkbox("ohne_ap", false),
            ]
        );
    }

    #[test]
    fn an_image_only_scan_is_read_with_empty_text_not_an_error() {
        let pdf = save(build_pdf(&[b""], |_| None));
        let got = extract(&pdf, &Limits::default()).unwrap();
        assert_eq!(got.text.trim(), "");
        assert!(got.fields.is_empty() && got.checkboxes.is_empty());
        assert_eq!(got.pages, Some(1));
    }

    #[test]
    fn counts_the_pages_of_a_two_page_letter() {
        let pdf = save(build_pdf(
            &[HELLO_PAGE, b"BT /F1 12 Tf 72 700 Td (Seite zwei) Tj ET"],
            |_| None,
        ));
        let got = extract(&pdf, &Limits::default()).unwrap();
        assert_eq!(got.pages, Some(2));
        assert!(got.text.contains("Anmeldung EWS 7"), "{:?}", got.text);
        assert!(got.text.contains("Seite zwei"), "{:?}", got.text);
    }

    #[test]
    fn random_bytes_are_malformed() {
        let mut next = crate::test_noise::xorshift(0x2545_f491_4f6c_dd1d);
        let noise = crate::test_noise::noise(&mut next, 4096);
        assert!(matches!(
            extract(&noise, &Limits::default()),
            Err(ExtractError::Malformed(_))
        ));
        assert!(matches!(
            extract(b"", &Limits::default()),
            Err(ExtractError::Malformed(_))
        ));
        assert!(matches!(
            extract(b"Sehr geehrte Damen und Herren", &Limits::default()),
            Err(ExtractError::Malformed(_))
        ));
    }

    #[test]
    fn a_truncated_pdf_never_crashes_the_daemon() {
        let pdf = save(build_pdf(&[HELLO_PAGE], registration_form));
        let start = Instant::now();
        let (mut ok, mut panicked) = (0, 0);
        for len in 0..pdf.len() {
            match extract(&pdf[..len], &Limits::default()) {
                Ok(_) => ok += 1,
                Err(ExtractError::Malformed(m)) if m.starts_with("parser panicked") => {
                    panicked += 1
                }
                Err(_) => {}
            }
        }
        eprintln!(
            "{} bytes, truncations: {ok} read, {panicked} lopdf panics caught, {:?}",
            pdf.len(),
            start.elapsed()
        );
    }

    #[test]
    fn a_corrupted_pdf_never_crashes_the_daemon() {
        let pdf = save(build_pdf(&[HELLO_PAGE], registration_form));
        let mut next = crate::test_noise::xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..300 {
            let mut damaged = pdf.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() % damaged.len() as u64) as usize;
                damaged[at] = next() as u8;
            }
            // Ok or any error is fine; returning at all is the point.
            let _ = extract(&damaged, &Limits::default());
        }
    }

    #[test]
    fn input_over_the_size_limit_is_refused_before_parsing() {
        let pdf = save(build_pdf(&[HELLO_PAGE], |_| None));
        let limits = Limits {
            max_input_bytes: pdf.len() as u64 - 1,
            ..Limits::default()
        };
        assert!(matches!(
            extract(&pdf, &limits),
            Err(ExtractError::Limit(_))
        ));
    }

    #[test]
    fn a_password_protected_pdf_is_reported_as_encrypted() {
        let mut doc = build_pdf(&[HELLO_PAGE], registration_form);
        doc.trailer.set(
            "ID",
            vec![literal(b"0123456789abcdef"), literal(b"0123456789abcdef")],
        );
        let state = lopdf::EncryptionState::try_from(lopdf::EncryptionVersion::V2 {
            document: &doc,
            owner_password: "amt",
            user_password: "geheim",
            key_length: 128,
            permissions: lopdf::Permissions::all(),
        })
        .unwrap();
        doc.encrypt(&state).unwrap();
        let pdf = save(doc);
        assert_eq!(
            extract(&pdf, &Limits::default()),
            Err(ExtractError::Encrypted)
        );
    }

    #[test]
    fn an_owner_password_only_pdf_is_still_reported_as_encrypted() {
        // Readable with the empty user password, but postbote does not read
        // encrypted documents at all (see `extract`).
        let mut doc = build_pdf(&[HELLO_PAGE], registration_form);
        doc.trailer.set(
            "ID",
            vec![literal(b"0123456789abcdef"), literal(b"0123456789abcdef")],
        );
        let state = lopdf::EncryptionState::try_from(lopdf::EncryptionVersion::V2 {
            document: &doc,
            owner_password: "amt",
            user_password: "",
            key_length: 128,
            permissions: lopdf::Permissions::PRINTABLE,
        })
        .unwrap();
        doc.encrypt(&state).unwrap();
        let pdf = save(doc);
        assert_eq!(
            extract(&pdf, &Limits::default()),
            Err(ExtractError::Encrypted)
        );
    }

    #[test]
    fn a_bare_encrypt_entry_in_the_trailer_is_reported_as_encrypted() {
        let mut doc = build_pdf(&[HELLO_PAGE], |_| None);
        let encrypt = doc.add_object(dictionary! {
            "Filter" => "Standard", "V" => 1, "R" => 2, "P" => -4,
            "O" => literal(&[7; 32]), "U" => literal(&[9; 32]),
        });
        doc.trailer.set("Encrypt", encrypt);
        doc.trailer.set(
            "ID",
            vec![literal(b"abcdefghabcdefgh"), literal(b"abcdefghabcdefgh")],
        );
        let pdf = save(doc);
        assert_eq!(
            extract(&pdf, &Limits::default()),
            Err(ExtractError::Encrypted)
        );
    }

    #[test]
    fn an_xfa_form_is_unsupported() {
        let pdf = save(build_pdf(&[HELLO_PAGE], |doc| {
            let xfa = doc.add_object(Stream::new(dictionary! {}, b"<xdp:xdp/>".to_vec()));
            Some(dictionary! { "Fields" => Vec::<Object>::new(), "XFA" => xfa })
        }));
        assert_eq!(
            extract(&pdf, &Limits::default()),
            Err(ExtractError::Unsupported("XFA form".into()))
        );
    }

    #[test]
    fn a_cycle_in_form_kids_terminates() {
        let pdf = save(build_pdf(&[HELLO_PAGE], |doc| {
            let a = doc.new_object_id();
            let b = doc.new_object_id();
            doc.objects.insert(
                a,
                Object::Dictionary(dictionary! { "T" => literal(b"a"), "FT" => "Tx", "V" => literal(b"x"), "Kids" => vec![b.into()] }),
            );
            doc.objects.insert(
                b,
                Object::Dictionary(dictionary! { "T" => literal(b"b"), "Kids" => vec![a.into()] }),
            );
            Some(dictionary! { "Fields" => vec![a.into(), b.into()] })
        }));
        let got = extract(&pdf, &Limits::default()).unwrap();
        // "a.b" is reached once; its kid "a" was seen and is skipped, so
        // "a.b" is a field with no widgets of its own, inheriting /V "x".
        assert_eq!(got.fields, vec![field("a.b", "x")]);
    }

    #[test]
    fn an_absurdly_deep_field_tree_is_a_limit_not_a_stack_overflow() {
        let pdf = save(build_pdf(&[HELLO_PAGE], |doc| {
            let mut kid = doc.add_object(dictionary! { "T" => literal(b"x"), "FT" => "Tx" });
            for _ in 0..200 {
                kid = doc
                    .add_object(dictionary! { "T" => literal(b"x"), "Kids" => vec![kid.into()] });
            }
            Some(dictionary! { "Fields" => vec![kid.into()] })
        }));
        assert!(matches!(
            extract(&pdf, &Limits::default()),
            Err(ExtractError::Limit(_))
        ));
    }

    // -----------------------------------------------------------------------
    // Forms as office suites make them: boxes named termin_1, Kontrollkästchen1
    // or Check Box 1, the date printed beside each box.

    use crate::documents::boxes;
    use crate::documents::dates::Confidence;
    use chrono::NaiveDate;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    /// The five interview days of `config/ews7.toml`.
    fn days() -> Vec<NaiveDate> {
        vec![day(6, 29), day(6, 30), day(7, 1), day(7, 2), day(7, 3)]
    }

    /// A checkbox widget as Acrobat, Word and LibreOffice write it: field
    /// and widget in one dictionary, `/Rect`, `/MK`, `/AP /N` with the
    /// on-state and `/Off`, `/DA`.
    struct OfficeBox<'a> {
        name: &'a [u8],
        on: &'a str,
        checked: bool,
        rect: [f32; 4],
        page: usize,
    }

    /// A one- or more-page form: `pages` are content streams (Helvetica
    /// WinAnsi as /F1, with real Helvetica widths for digits and letters
    /// approximated), `boxes` in the AcroForm in the order given, each page's
    /// `/Annots` in page order (top to bottom). With `with_p`, widgets name
    /// their page by `/P` (Acrobat, LibreOffice); without, only `/Annots`
    /// says it (some Word exports).
    fn office_form(pages: &[&[u8]], boxes: &[OfficeBox<'_>], with_p: bool) -> Vec<u8> {
        let mut doc = Document::with_version("1.6");
        let pages_id = doc.new_object_id();
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
            "Encoding" => "WinAnsiEncoding", "FirstChar" => 32, "LastChar" => 255,
            "Widths" => (32..=255).map(|c: i64| Object::Integer(match c {
                32 => 278, 44 | 46 => 278, 48..=57 => 556, 65..=90 => 667, _ => 500,
            })).collect::<Vec<_>>(),
        });
        let zadb = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "ZapfDingbats",
        });
        let page_ids: Vec<ObjectId> = pages.iter().map(|_| doc.new_object_id()).collect();
        let mut widgets: Vec<(usize, f32, ObjectId)> = Vec::new();
        let mut fields = Vec::new();
        for b in boxes {
            let [x0, y0, x1, y1] = b.rect;
            let (w, h) = (x1 - x0, y1 - y0);
            let on_ap = doc.add_object(Stream::new(
                dictionary! { "Type" => "XObject", "Subtype" => "Form",
                "BBox" => vec![0.into(), 0.into(), w.into(), h.into()],
                "Resources" => dictionary! { "Font" => dictionary! { "ZaDb" => zadb } } },
                format!("q 0 g BT /ZaDb {} Tf 1 1 Td (4) Tj ET Q", h - 2.0).into_bytes(),
            ));
            let off_ap = doc.add_object(Stream::new(
                dictionary! { "Type" => "XObject", "Subtype" => "Form",
                "BBox" => vec![0.into(), 0.into(), w.into(), h.into()] },
                Vec::new(),
            ));
            let state = if b.checked { b.on } else { "Off" };
            let mut widget = dictionary! {
                "Type" => "Annot", "Subtype" => "Widget", "FT" => "Btn", "F" => 4,
                "T" => Object::String(b.name.to_vec(), StringFormat::Literal),
                "V" => state, "AS" => state,
                "Rect" => vec![x0.into(), y0.into(), x1.into(), y1.into()],
                "MK" => dictionary! { "CA" => literal(b"4"), "BC" => vec![0.into()] },
                "DA" => literal(b"/ZaDb 0 Tf 0 g"),
                "AP" => dictionary! {
                    "N" => dictionary! { b.on => on_ap, "Off" => off_ap },
                    "D" => dictionary! { b.on => on_ap, "Off" => off_ap },
                },
            };
            if with_p {
                widget.set("P", page_ids[b.page]);
            }
            let id = doc.add_object(widget);
            fields.push(Object::Reference(id));
            widgets.push((b.page, -y1, id));
        }
        widgets.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        for (n, content) in pages.iter().enumerate() {
            let contents = doc.add_object(Stream::new(dictionary! {}, content.to_vec()));
            let annots: Vec<Object> = widgets
                .iter()
                .filter(|(p, _, _)| *p == n)
                .map(|(_, _, id)| Object::Reference(*id))
                .collect();
            doc.objects.insert(
                page_ids[n],
                Object::Dictionary(dictionary! {
                    "Type" => "Page", "Parent" => pages_id, "Contents" => contents,
                    "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
                    "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
                    "Annots" => annots,
                }),
            );
        }
        let count = pages.len() as i64;
        let kids: Vec<Object> = page_ids.iter().map(|id| Object::Reference(*id)).collect();
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
        );
        let catalog = doc.add_object(dictionary! {
            "Type" => "Catalog", "Pages" => pages_id,
            "AcroForm" => dictionary! {
                "Fields" => fields, "NeedAppearances" => false, "DA" => literal(b"/Helv 0 Tf 0 g"),
                "DR" => dictionary! { "Font" => dictionary! { "Helv" => font, "ZaDb" => zadb } },
            },
        });
        doc.trailer.set("Root", catalog);
        save(doc)
    }

    /// The labels in WinAnsi (0x96 is the en dash).
    const LABELS: [&[u8]; 5] = [
        b"Mo., 29.06.2026, 9:00\x9613:00 Uhr",
        b"Di., 30.06.2026, 9:00\x9613:00 Uhr",
        b"Mi., 01.07.2026, 9:00\x9613:00 Uhr",
        b"Do., 02.07.2026, 13:00\x9617:00 Uhr",
        b"Fr., 03.07.2026, 9:00\x9613:00 Uhr",
    ];

    /// A page listing the five days top to bottom at `x`, 24 pt apart from
    /// y = 600, drawn as LibreOffice does (one `Td` per line, `TJ` with
    /// kerning), after a heading.
    fn list_page(x: f32) -> Vec<u8> {
        let mut c = b"q 0 0 0 rg BT /F1 14 Tf 72 700 Td (Fragebogen zur Bewerbung) Tj ET Q\n\
             BT /F1 11 Tf 72 650 Td (Bitte kreuzen Sie alle Termine an, die Ihnen passen:) Tj ET\n"
            .to_vec();
        for (n, label) in LABELS.iter().enumerate() {
            let (head, tail) = label.split_at(5);
            c.extend(format!("BT /F1 11 Tf {x} {} Td [(", 600 - 24 * n).bytes());
            c.extend_from_slice(head);
            c.extend_from_slice(b")-12(");
            c.extend_from_slice(tail);
            c.extend_from_slice(b")] TJ ET\n");
        }
        c
    }

    /// Box `n` (0..5) of a list page: a 10 pt square on line `n` at `x`.
    fn list_box<'a>(name: &'a [u8], on: &'a str, checked: bool, n: usize, x: f32) -> OfficeBox<'a> {
        let y = 600.0 - 24.0 * n as f32;
        OfficeBox {
            name,
            on,
            checked,
            rect: [x, y - 1.0, x + 10.0, y + 9.0],
            page: 0,
        }
    }

    fn read(pdf: &[u8]) -> boxes::BoxReading {
        let ex = extract(pdf, &Limits::default()).unwrap();
        boxes::read(&ex, &days())
    }

    fn ticked(r: &boxes::BoxReading) -> Vec<(NaiveDate, bool, Confidence)> {
        let mut v: Vec<_> = r
            .choices
            .iter()
            .map(|c| (c.day, c.available, c.confidence))
            .collect();
        v.sort();
        v
    }

    fn all(on: &[usize], confidence: Confidence) -> Vec<(NaiveDate, bool, Confidence)> {
        days()
            .into_iter()
            .enumerate()
            .map(|(n, d)| (d, on.contains(&n), confidence))
            .collect()
    }

    #[test]
    fn widgets_know_their_page_and_rect_by_p_or_by_annots() {
        for with_p in [true, false] {
            let page = list_page(90.0);
            let pdf = office_form(
                &[b"BT /F1 11 Tf 72 700 Td (Seite 1) Tj ET", &page],
                &[OfficeBox {
                    name: b"termin_1",
                    on: "Yes",
                    checked: true,
                    rect: [72.0, 599.0, 82.0, 609.0],
                    page: 1,
                }],
                with_p,
            );
            let ex = extract(&pdf, &Limits::default()).unwrap();
            assert_eq!(
                ex.checkboxes[0].place,
                Some(Place {
                    page: 2,
                    rect: [72.0, 599.0, 82.0, 609.0]
                }),
                "with /P: {with_p}"
            );
            // Only the page with the box is placed.
            assert!(ex.text_runs.iter().all(|r| r.page == 2));
            assert!(
                ex.text_runs
                    .iter()
                    .any(|r| r.text.starts_with("Mo., 29.06.2026")),
                "{:?}",
                ex.text_runs
            );
        }
    }

    #[test]
    fn boxes_named_termin_n_left_of_their_dates_map_to_those_dates() {
        // Listed in the AcroForm bottom to top, on-state /Yes.
        let names: [&[u8]; 5] = [
            b"termin_1",
            b"termin_2",
            b"termin_3",
            b"termin_4",
            b"termin_5",
        ];
        let boxes: Vec<OfficeBox> = (0..5)
            .rev()
            .map(|n| list_box(names[n], "Yes", n == 1 || n == 3, n, 72.0))
            .collect();
        let r = read(&office_form(&[&list_page(90.0)], &boxes, true));
        assert_eq!(ticked(&r), all(&[1, 3], Confidence::High));
        assert!(r.unmapped.is_empty());
        let source = &r
            .choices
            .iter()
            .find(|c| c.day == day(6, 30))
            .unwrap()
            .source;
        assert_eq!(
            source,
            "checkbox: \u{2612} termin_2 \u{2192} \u{201e}Di., 30.06.2026, 9:00\u{2013}13:00 Uhr\u{201c} (right of the box on page 1)"
        );
    }

    #[test]
    fn kontrollkaestchen_right_of_their_dates_found_through_annots_map_too() {
        // Word writes "Kontrollkästchen1" in PDFDocEncoding, on-state /Ja,
        // and may leave out /P.
        let names: [&[u8]; 5] = [
            b"Kontrollk\xe4stchen1",
            b"Kontrollk\xe4stchen2",
            b"Kontrollk\xe4stchen3",
            b"Kontrollk\xe4stchen4",
            b"Kontrollk\xe4stchen5",
        ];
        let boxes: Vec<OfficeBox> = [2, 0, 4, 1, 3]
            .into_iter()
            .map(|n| list_box(names[n], "Ja", n == 0 || n == 4, n, 400.0))
            .collect();
        let r = read(&office_form(&[&list_page(72.0)], &boxes, false));
        assert_eq!(ticked(&r), all(&[0, 4], Confidence::High));
        assert!(r.choices.iter().any(|c| {
            c.source
                .starts_with("checkbox: \u{2612} Kontrollkästchen1 \u{2192}")
        }));
    }

    #[test]
    fn in_a_grid_the_next_box_s_label_is_not_taken() {
        // "Mo 29.06. ☐   Di 30.06. ☐   Mi 01.07. ☐" / "Do 02.07. ☐   Fr 03.07. ☐":
        // to the right of each box is the next box's date, nearer than the
        // box's own date is on its left.
        let content = b"BT /F1 10 Tf 72 600 Td (Mo. 29.06.) Tj 140 0 Td (Di. 30.06.) Tj 140 0 Td (Mi. 01.07.) Tj ET\n\
                        BT /F1 10 Tf 72 570 Td (Do. 02.07.) Tj 140 0 Td (Fr. 03.07.) Tj ET";
        let at = |n: usize| {
            let (row, col) = (n / 3, n % 3);
            let x = 130.0 + 140.0 * col as f32;
            let y = 599.0 - 30.0 * row as f32;
            [x, y, x + 10.0, y + 10.0]
        };
        let names: [&[u8]; 5] = [
            b"Check Box 1",
            b"Check Box 2",
            b"Check Box 3",
            b"Check Box 4",
            b"Check Box 5",
        ];
        let boxes: Vec<OfficeBox> = (0..5)
            .map(|n| OfficeBox {
                name: names[n],
                on: "On",
                checked: n == 1 || n == 4,
                rect: at(n),
                page: 0,
            })
            .collect();
        let r = read(&office_form(&[content], &boxes, true));
        assert_eq!(ticked(&r), all(&[1, 4], Confidence::High));
        // And the other way round: "☐ Mo 29.06.   ☐ Di 30.06. …".
        let content = b"BT /F1 10 Tf 90 600 Td (Mo. 29.06.) Tj 140 0 Td (Di. 30.06.) Tj 140 0 Td (Mi. 01.07.) Tj ET\n\
                        BT /F1 10 Tf 90 570 Td (Do. 02.07.) Tj 140 0 Td (Fr. 03.07.) Tj ET";
        let boxes: Vec<OfficeBox> = (0..5)
            .map(|n| {
                let [_, y0, _, y1] = at(n);
                let x = 72.0 + 140.0 * (n % 3) as f32;
                OfficeBox {
                    name: names[n],
                    on: "On",
                    checked: n == 2,
                    rect: [x, y0, x + 10.0, y1],
                    page: 0,
                }
            })
            .collect();
        let r = read(&office_form(&[content], &boxes, true));
        assert_eq!(ticked(&r), all(&[2], Confidence::High));
    }

    #[test]
    fn word_style_scaled_text_split_into_runs_is_placed() {
        // Word: a flipped, scaled CTM for the page, each word its own Tm, and
        // kerning inside TJ; boxes at x = 72, labels from x = 90.
        let mut c = b"q 1 0 0 -1 0 842 cm 0.75 0 0 0.75 0 0 cm\n".to_vec();
        for (n, label) in LABELS.iter().enumerate() {
            let y = 600.0 - 24.0 * n as f32;
            // Text space is flipped back: 1 0 0 -1.
            let ty = (842.0 - y) / 0.75;
            let mut x = 90.0 / 0.75;
            c.extend_from_slice(b"BT /F1 14.667 Tf\n");
            for word in label.split(|&b| b == b' ') {
                c.extend(format!("1 0 0 -1 {x:.2} {ty:.2} Tm [(").bytes());
                c.extend_from_slice(word);
                c.extend_from_slice(b")-3()] TJ\n");
                x += (word.len() as f32 + 1.0) * 7.0;
            }
            c.extend_from_slice(b"ET\n");
        }
        c.extend_from_slice(b"Q\n");
        let names: [&[u8]; 5] = [
            b"Kontrollk\xe4stchen1",
            b"Kontrollk\xe4stchen2",
            b"Kontrollk\xe4stchen3",
            b"Kontrollk\xe4stchen4",
            b"Kontrollk\xe4stchen5",
        ];
        let boxes: Vec<OfficeBox> = (0..5)
            .map(|n| list_box(names[n], "Ja", n == 3, n, 72.0))
            .collect();
        let r = read(&office_form(&[&c], &boxes, true));
        assert_eq!(ticked(&r), all(&[3], Confidence::High));
    }

    #[test]
    fn without_placeable_text_five_date_boxes_map_in_page_order_with_medium_confidence() {
        // The labels are part of a scanned image: no text to place. The
        // AcroForm lists the boxes in another order than the page shows them.
        let content = b"q 400 0 0 200 72 450 cm /Im1 Do Q";
        let names: [&[u8]; 5] = [
            b"termin_1",
            b"termin_2",
            b"termin_3",
            b"termin_4",
            b"termin_5",
        ];
        let order = [3, 1, 4, 0, 2];
        let boxes: Vec<OfficeBox> = order
            .into_iter()
            .map(|n| list_box(names[n], "Yes", n == 0 || n == 2, n, 72.0))
            .collect();
        let r = read(&office_form(&[content], &boxes, true));
        assert_eq!(ticked(&r), all(&[0, 2], Confidence::Medium));
        assert!(
            r.choices
                .iter()
                .any(|c| c.source == "checkbox: \u{2612} termin_1 (box 1 of 5 in page order)"),
            "{:?}",
            r.choices
        );
        // Four boxes for five days: no guessing; the ticked ones are reported.
        let four: Vec<OfficeBox> = boxes
            .into_iter()
            .filter(|b| b.name != b"termin_5")
            .collect();
        let r = read(&office_form(&[content], &four, true));
        assert!(r.choices.is_empty());
        let mut unmapped: Vec<&str> = r.unmapped.iter().map(|u| u.label.as_str()).collect();
        unmapped.sort();
        assert_eq!(unmapped, vec!["termin_1", "termin_3"]);
        assert!(
            r.unmapped
                .iter()
                .all(|u| u.why == boxes::Why::NoDate && u.page == Some(1))
        );
    }

    #[test]
    fn a_ticked_box_with_no_date_beside_it_is_reported_not_dropped() {
        // Five listed days with boxes, and a sixth box ("weiterer Termin")
        // with nothing but a line beside it.
        let names: [&[u8]; 5] = [
            b"Check Box 1",
            b"Check Box 2",
            b"Check Box 3",
            b"Check Box 4",
            b"Check Box 5",
        ];
        let mut boxes: Vec<OfficeBox> = (0..5)
            .map(|n| list_box(names[n], "On", n == 0, n, 72.0))
            .collect();
        boxes.push(OfficeBox {
            name: b"Check Box 6",
            on: "On",
            checked: true,
            rect: [72.0, 299.0, 82.0, 309.0],
            page: 0,
        });
        // An agreement box with its own words beside it is no date box.
        boxes.push(OfficeBox {
            name: b"Check Box 7",
            on: "On",
            checked: true,
            rect: [72.0, 199.0, 82.0, 209.0],
            page: 0,
        });
        let mut page = list_page(90.0);
        page.extend_from_slice(b"\nBT /F1 10 Tf 90 200 Td (Ich bin mit der Verarbeitung meiner Daten einverstanden.) Tj ET");
        let r = read(&office_form(&[&page], &boxes, true));
        assert_eq!(ticked(&r), all(&[0], Confidence::High));
        assert_eq!(
            r.unmapped,
            vec![boxes::Unmapped {
                label: "Check Box 6".into(),
                beside: None,
                page: Some(1),
                why: boxes::Why::NoDate
            }]
        );
    }

    #[test]
    fn damaged_office_forms_never_crash_the_mapping() {
        let names: [&[u8]; 5] = [
            b"termin_1",
            b"termin_2",
            b"termin_3",
            b"termin_4",
            b"termin_5",
        ];
        let boxes: Vec<OfficeBox> = (0..5)
            .map(|n| list_box(names[n], "Yes", n % 2 == 0, n, 72.0))
            .collect();
        let pdf = office_form(&[&list_page(90.0)], &boxes, true);
        let mut next = crate::test_noise::xorshift(0x51_7cc1_b727_220a);
        for _ in 0..300 {
            let mut damaged = pdf.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() % damaged.len() as u64) as usize;
                damaged[at] = next() as u8;
            }
            if let Ok(ex) = extract(&damaged, &Limits::default()) {
                let _ = boxes::read(&ex, &days());
            }
        }
    }

    #[test]
    fn a_form_xobject_drawing_itself_stops_at_the_depth_cap() {
        let pdf = save(build_pdf(&[b"/X Do"], |doc| {
            let id = doc.new_object_id();
            let pages: Vec<ObjectId> = doc
                .objects
                .iter()
                .filter(|(_, o)| {
                    o.as_dict().is_ok_and(|d| {
                        d.get(b"Type").and_then(Object::as_name).ok() == Some(b"Page")
                    })
                })
                .map(|(id, _)| *id)
                .collect();
            let mut xobject = Stream::new(
                dictionary! { "Type" => "XObject", "Subtype" => "Form",
                "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()],
                "Resources" => dictionary! { "XObject" => dictionary! { "X" => id } } },
                b"BT /F1 10 Tf 0 0 Td (29.06.) Tj ET /X Do /X Do".to_vec(),
            );
            xobject.allows_compression = false;
            doc.objects.insert(id, Object::Stream(xobject));
            if let Ok(Object::Dictionary(page)) = doc.get_object_mut(pages[0])
                && let Ok(Object::Dictionary(resources)) = page.get_mut(b"Resources")
            {
                resources.set("XObject", dictionary! { "X" => id });
            }
            let widget = doc.add_object(dictionary! {
                "FT" => "Btn", "T" => literal(b"Check Box 1"), "V" => "On", "AS" => "On",
                "Rect" => vec![40.into(), 0.into(), 50.into(), 10.into()], "P" => pages[0],
            });
            Some(dictionary! { "Fields" => vec![widget.into()] })
        }));
        let start = Instant::now();
        let ex = extract(&pdf, &Limits::default()).unwrap();
        // The page calls it once; each call draws one run and calls it twice,
        // down to MAX_FORM_DEPTH (4) levels: 1 + 2 + 4 + 8 runs.
        assert_eq!(ex.text_runs.len(), 15);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        let r = boxes::read(&ex, &days());
        assert_eq!(r.choices.len(), 1, "{r:?}");
        assert_eq!(r.choices[0].day, day(6, 29));
    }
}
