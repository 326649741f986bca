//! The questionnaire as a fillable A4 PDF: page text in Helvetica
//! (WinAnsiEncoding, so umlauts and the en dash render), an AcroForm with
//! text fields (`/FT /Tx`) and checkboxes (`/FT /Btn`, on-state `/Ja`). Field
//! and widget share one dictionary; `/T` is the machine name, `/TU` the German
//! label. `/NeedAppearances true` lets viewers draw typed-in values.

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat, dictionary};

use super::{Choice, Form, Item, TextField};

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const LEFT: f32 = 56.7;
const RIGHT: f32 = PAGE_W - 56.7;
const TOP: f32 = PAGE_H - 56.7;
const BOTTOM: f32 = 56.7;
/// Where text fields and inline checkboxes begin.
const FIELD_X: f32 = 235.0;
/// Side of a checkbox.
const BOX: f32 = 11.0;

/// Field flag: multi-line text (PDF 32000-1, table 228).
const FF_MULTILINE: i64 = 1 << 12;

/// Renders the form as a PDF.
pub(super) fn render(form: &Form) -> anyhow::Result<Vec<u8>> {
    let mut p = Painter {
        pages: vec![Page::default()],
        y: TOP,
    };
    p.paragraph(&form.title, 16.0, true, LEFT, RIGHT - LEFT);
    p.paragraph(&form.subtitle, 10.0, false, LEFT, RIGHT - LEFT);
    p.y -= 6.0;
    for text in &form.intro {
        p.paragraph(text, 10.0, false, LEFT, RIGHT - LEFT);
    }
    p.paragraph(&form.deadline_line, 10.0, true, LEFT, RIGHT - LEFT);
    for section in &form.sections {
        p.y -= 10.0;
        // Keep a heading (and its note) with at least its first row.
        let note_h = section.note.as_ref().map_or(0.0, |n| {
            wrap(n, 9.5, false, RIGHT - LEFT).len() as f32 * 9.5 * 1.3 + 9.5 * 0.4
        });
        let first_h = section.items.first().map_or(0.0, item_height);
        p.ensure(12.0 * 1.7 + note_h + 2.0 + first_h);
        p.paragraph(&section.heading, 12.0, true, LEFT, RIGHT - LEFT);
        if let Some(note) = &section.note {
            p.paragraph(note, 9.5, false, LEFT, RIGHT - LEFT);
        }
        p.y -= 2.0;
        for item in &section.items {
            match item {
                Item::Text(field) => p.text_row(field),
                Item::Choices { label, boxes } => p.choices_row(label, boxes),
                Item::Checkbox(choice) => p.checkbox_row(choice),
            }
        }
    }
    build(form, p.pages)
}

/// Height of the row an item takes (see the `*_row` methods).
fn item_height(item: &Item) -> f32 {
    match item {
        Item::Text(field) => {
            let label = wrap(&field.label, 9.5, false, FIELD_X - LEFT - 10.0);
            (label.len() as f32 * 12.0).max(field_height(field)) + 6.0
        }
        Item::Choices { .. } => 24.0,
        Item::Checkbox(choice) => {
            let x = LEFT + 10.0;
            wrap(&choice.label, 10.0, false, RIGHT - x - BOX - 6.0).len() as f32 * 13.0 + 6.0
        }
    }
}

fn field_height(field: &TextField) -> f32 {
    if field.lines > 1 {
        f32::from(field.lines) * 13.0 + 6.0
    } else {
        18.0
    }
}

#[derive(Default)]
struct Page {
    ops: Vec<Operation>,
    widgets: Vec<Widget>,
}

struct Widget {
    name: String,
    tooltip: String,
    rect: [f32; 4],
    kind: WidgetKind,
}

enum WidgetKind {
    Text { multiline: bool },
    Check,
}

struct Painter {
    pages: Vec<Page>,
    /// Top of the free space on the current page.
    y: f32,
}

impl Painter {
    fn page(&mut self) -> &mut Page {
        if self.pages.is_empty() {
            self.pages.push(Page::default());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page unless `height` points are left on this one.
    fn ensure(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.pages.push(Page::default());
            self.y = TOP;
        }
    }

    fn text(&mut self, x: f32, baseline: f32, size: f32, bold: bool, s: &str) {
        let font = if bold { "F2" } else { "F1" };
        let ops = &mut self.page().ops;
        ops.push(Operation::new("BT", vec![]));
        ops.push(Operation::new("Tf", vec![font.into(), real(size)]));
        ops.push(Operation::new("Td", vec![real(x), real(baseline)]));
        ops.push(Operation::new(
            "Tj",
            vec![Object::String(win_ansi(s), StringFormat::Literal)],
        ));
        ops.push(Operation::new("ET", vec![]));
    }

    /// Wrapped text, one line below the other, from the current position.
    fn paragraph(&mut self, s: &str, size: f32, bold: bool, x: f32, width: f32) {
        let leading = size * 1.3;
        for line in wrap(s, size, bold, width) {
            self.ensure(leading);
            self.y -= leading;
            self.text(x, self.y + size * 0.28, size, bold, &line);
        }
        self.y -= size * 0.4;
    }

    fn rectangle(&mut self, rect: [f32; 4]) {
        let [x0, y0, x1, y1] = rect;
        let ops = &mut self.page().ops;
        ops.push(Operation::new("q", vec![]));
        ops.push(Operation::new("G", vec![real(0.55)]));
        ops.push(Operation::new("w", vec![real(0.6)]));
        ops.push(Operation::new(
            "re",
            vec![real(x0), real(y0), real(x1 - x0), real(y1 - y0)],
        ));
        ops.push(Operation::new("S", vec![]));
        ops.push(Operation::new("Q", vec![]));
    }

    fn widget(&mut self, name: &str, tooltip: &str, rect: [f32; 4], kind: WidgetKind) {
        self.page().widgets.push(Widget {
            name: name.to_string(),
            tooltip: tooltip.to_string(),
            rect,
            kind,
        });
    }

    /// Label on the left, a bordered text field on the right.
    fn text_row(&mut self, field: &TextField) {
        const SIZE: f32 = 9.5;
        let label = wrap(&field.label, SIZE, false, FIELD_X - LEFT - 10.0);
        let field_h = field_height(field);
        let row_h = item_height(&Item::Text(field.clone()));
        self.ensure(row_h);
        let top = self.y - 3.0;
        for (i, line) in label.iter().enumerate() {
            self.text(LEFT, top - 12.0 - i as f32 * 12.0, SIZE, false, line);
        }
        let rect = [FIELD_X, top - field_h, RIGHT, top];
        self.rectangle(rect);
        self.widget(
            field.name,
            &field.tooltip,
            rect,
            WidgetKind::Text {
                multiline: field.lines > 1,
            },
        );
        self.y -= row_h;
    }

    /// Label on the left, then "☐ Stadt  ☐ Gemeinde  ☐ Kreis".
    fn choices_row(&mut self, label: &str, boxes: &[Choice]) {
        const SIZE: f32 = 9.5;
        let row_h = 24.0;
        self.ensure(row_h);
        let top = self.y - 3.0;
        let baseline = top - 13.0;
        self.text(LEFT, baseline, SIZE, false, label);
        let mut x = FIELD_X;
        for choice in boxes {
            let rect = [x, baseline - 2.0, x + BOX, baseline - 2.0 + BOX];
            self.rectangle(rect);
            self.widget(&choice.name, &choice.label, rect, WidgetKind::Check);
            self.text(x + BOX + 4.0, baseline, SIZE, false, &choice.label);
            x += BOX + 4.0 + text_width(&choice.label, SIZE, false) + 22.0;
        }
        self.y -= row_h;
    }

    /// "☐ Mo., 29.06.2026, 09:00–13:00 Uhr" on a line of its own.
    fn checkbox_row(&mut self, choice: &Choice) {
        const SIZE: f32 = 10.0;
        let x = LEFT + 10.0;
        let label = wrap(&choice.label, SIZE, false, RIGHT - x - BOX - 6.0);
        let row_h = label.len() as f32 * 13.0 + 6.0;
        self.ensure(row_h);
        let baseline = self.y - 13.0;
        let rect = [x, baseline - 2.0, x + BOX, baseline - 2.0 + BOX];
        // Drawn on the page as well: viewers that regenerate appearances
        // (NeedAppearances) may draw the box without a border.
        self.rectangle(rect);
        self.widget(&choice.name, &choice.label, rect, WidgetKind::Check);
        for (i, line) in label.iter().enumerate() {
            self.text(x + BOX + 6.0, baseline - i as f32 * 13.0, SIZE, false, line);
        }
        self.y -= row_h;
    }
}

/// A number rounded to 1/100 point.
fn real(v: f32) -> Object {
    Object::Real((v * 100.0).round() / 100.0)
}

/// Assembles pages, fonts, widgets and the AcroForm.
fn build(form: &Form, pages: Vec<Page>) -> anyhow::Result<Vec<u8>> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let helv = doc.add_object(font("Helvetica", Some("Helv")));
    let helv_bold = doc.add_object(font("Helvetica-Bold", None));
    let zadb = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "ZapfDingbats",
        "Name" => "ZaDb",
    });
    let check_on = doc.add_object(check_appearance(zadb, true));
    let check_off = doc.add_object(check_appearance(zadb, false));

    let mut kids = Vec::new();
    let mut fields = Vec::new();
    for page in pages {
        let page_id = doc.new_object_id();
        let mut annots = Vec::new();
        for w in page.widgets {
            let id = widget(&mut doc, &w, page_id, (check_on, check_off));
            annots.push(Object::Reference(id));
            fields.push(Object::Reference(id));
        }
        let content = Content {
            operations: page.ops,
        }
        .encode()?;
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        doc.objects.insert(
            page_id,
            Object::Dictionary(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "MediaBox" => vec![0.into(), 0.into(), real(PAGE_W), real(PAGE_H)],
                "Contents" => content_id,
                "Resources" => dictionary! {
                    "Font" => dictionary! { "F1" => helv, "F2" => helv_bold },
                    "ProcSet" => vec!["PDF".into(), "Text".into()],
                },
                "Annots" => annots,
            }),
        );
        kids.push(Object::Reference(page_id));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    let catalog = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
        "Lang" => text_string("de-DE"),
        "AcroForm" => dictionary! {
            "Fields" => fields,
            "NeedAppearances" => true,
            "DA" => Object::string_literal("/Helv 0 Tf 0 g"),
            "DR" => dictionary! {
                "Font" => dictionary! { "Helv" => helv, "ZaDb" => zadb },
            },
        },
    });
    let info = doc.add_object(dictionary! {
        "Title" => text_string(&form.title),
        "Subject" => text_string(&form.subtitle),
        "Producer" => text_string("postbote"),
    });
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info);
    let mut out = Vec::new();
    doc.save_to(&mut out)?;
    Ok(out)
}

fn font(base: &str, name: Option<&str>) -> Dictionary {
    let mut d = dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => base,
        "Encoding" => "WinAnsiEncoding",
    };
    if let Some(name) = name {
        d.set("Name", name);
    }
    d
}

/// The box (and, when `on`, a ZapfDingbats check mark) as a form XObject.
fn check_appearance(zadb: ObjectId, on: bool) -> Stream {
    let mut ops = vec![
        Operation::new("q", vec![]),
        Operation::new("g", vec![real(1.0)]),
        Operation::new("re", vec![real(0.0), real(0.0), real(BOX), real(BOX)]),
        Operation::new("f", vec![]),
        Operation::new("G", vec![real(0.0)]),
        Operation::new("w", vec![real(0.8)]),
        Operation::new(
            "re",
            vec![real(0.4), real(0.4), real(BOX - 0.8), real(BOX - 0.8)],
        ),
        Operation::new("S", vec![]),
        Operation::new("Q", vec![]),
    ];
    if on {
        ops.extend([
            Operation::new("q", vec![]),
            Operation::new("BT", vec![]),
            Operation::new("g", vec![real(0.0)]),
            Operation::new("Tf", vec!["ZaDb".into(), real(8.5)]),
            Operation::new("Td", vec![real(1.7), real(2.2)]),
            Operation::new("Tj", vec![Object::string_literal("4")]),
            Operation::new("ET", vec![]),
            Operation::new("Q", vec![]),
        ]);
    }
    let content = Content { operations: ops }.encode().unwrap_or_default();
    Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Form",
            "BBox" => vec![real(0.0), real(0.0), real(BOX), real(BOX)],
            "Resources" => dictionary! { "Font" => dictionary! { "ZaDb" => zadb } },
        },
        content,
    )
}

/// One merged field/widget dictionary.
fn widget(
    doc: &mut Document,
    w: &Widget,
    page: ObjectId,
    (check_on, check_off): (ObjectId, ObjectId),
) -> ObjectId {
    let [x0, y0, x1, y1] = w.rect;
    let mut d = dictionary! {
        "Type" => "Annot",
        "Subtype" => "Widget",
        "T" => text_string(&w.name),
        "TU" => text_string(&w.tooltip),
        "Rect" => vec![real(x0), real(y0), real(x1), real(y1)],
        "P" => page,
        "F" => 4,
    };
    match w.kind {
        WidgetKind::Text { multiline } => {
            d.set("FT", "Tx");
            d.set("DA", Object::string_literal("/Helv 10 Tf 0 g"));
            d.set("Ff", if multiline { FF_MULTILINE } else { 0 });
            let blank = doc.add_object(Stream::new(
                dictionary! {
                    "Type" => "XObject",
                    "Subtype" => "Form",
                    "BBox" => vec![real(0.0), real(0.0), real(x1 - x0), real(y1 - y0)],
                },
                b"/Tx BMC EMC".to_vec(),
            ));
            d.set("AP", dictionary! { "N" => blank });
            d.set("MK", dictionary! {});
        }
        WidgetKind::Check => {
            d.set("FT", "Btn");
            d.set("V", "Off");
            d.set("AS", "Off");
            d.set("DA", Object::string_literal("/ZaDb 0 Tf 0 g"));
            d.set("BS", dictionary! { "W" => 1, "S" => "S" });
            d.set(
                "MK",
                dictionary! {
                    "CA" => Object::string_literal("4"),
                    "BC" => vec![real(0.0)],
                    "BG" => vec![real(1.0)],
                },
            );
            d.set(
                "AP",
                dictionary! { "N" => dictionary! { "Ja" => check_on, "Off" => check_off } },
            );
        }
    }
    doc.add_object(d)
}

/// A PDF text string: ASCII as is, anything else as UTF-16BE with a BOM.
fn text_string(s: &str) -> Object {
    if s.is_ascii() {
        return Object::string_literal(s);
    }
    let mut bytes = vec![0xFE, 0xFF];
    bytes.extend(s.encode_utf16().flat_map(u16::to_be_bytes));
    Object::String(bytes, StringFormat::Hexadecimal)
}

/// Text in WinAnsiEncoding (Windows-1252); what it lacks becomes `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars().map(win_ansi_byte).collect()
}

fn win_ansi_byte(c: char) -> u8 {
    let code = u32::from(c);
    if (0x20..=0x7E).contains(&code) || (0xA0..=0xFF).contains(&code) {
        return code as u8;
    }
    match c {
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '\u{2018}' => 0x91,
        '\u{2019}' => 0x92,
        '\u{201C}' => 0x93,
        '\u{201D}' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        '\t' | '\n' | '\r' => b' ',
        _ => b'?',
    }
}

/// Helvetica advance widths (1/1000 em) of ASCII 0x20–0x7E (Adobe AFM).
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];

/// Width of one character in 1/1000 em (Helvetica; bold is estimated wider).
fn char_width(c: char) -> f32 {
    let base = match c {
        ' '..='~' => HELVETICA[c as usize - 0x20],
        'Ä' | 'À' | 'Á' | 'Â' | 'Ã' | 'Å' => 667,
        'Ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' => 778,
        'Ü' | 'Ù' | 'Ú' | 'Û' => 722,
        'É' | 'È' | 'Ê' | 'Ë' => 667,
        'ß' => 611,
        'ì' | 'í' | 'î' | 'ï' => 278,
        '–' => 556,
        '—' | '…' | '‰' => 1000,
        '„' | '\u{201C}' | '\u{201D}' => 333,
        '\u{2018}' | '\u{2019}' | '‚' => 222,
        '•' => 350,
        '€' => 556,
        _ => 556,
    };
    f32::from(base)
}

/// Width of `s` in points.
fn text_width(s: &str, size: f32, bold: bool) -> f32 {
    let w: f32 = s.chars().map(char_width).sum();
    // Helvetica-Bold is up to ~12 % wider than Helvetica for German text.
    let factor = if bold { 1.12 } else { 1.0 };
    w * size / 1000.0 * factor
}

/// Greedy word wrap to `width` points; a word longer than a line stays whole.
fn wrap(s: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if !line.is_empty() && text_width(&candidate, size, bold) > width {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ews7, other_dates};
    use super::super::{FIELD_NAMES, KOMMUNE_ART_NAMES, questionnaire};
    use super::*;
    use crate::documents::{CheckboxKind, Extracted, Field, Limits, pdf};

    const TERMINE: [&str; 5] = [
        "Mo., 29.06.2026, 09:00–13:00 Uhr",
        "Di., 30.06.2026, 09:00–13:00 Uhr",
        "Mi., 01.07.2026, 09:00–16:00 Uhr",
        "Do., 02.07.2026, 09:00–13:00 Uhr",
        "Fr., 03.07.2026, 09:00–13:00 Uhr",
    ];

    fn read(bytes: &[u8]) -> Extracted {
        pdf::extract(bytes, &Limits::default()).expect("readable PDF")
    }

    /// The field dictionary whose `/T` is `name`.
    fn field_id(doc: &Document, name: &str) -> ObjectId {
        doc.objects
            .iter()
            .find_map(|(id, obj)| match obj {
                Object::Dictionary(d) => match d.get(b"T") {
                    Ok(Object::String(t, _)) if t == name.as_bytes() => Some(*id),
                    _ => None,
                },
                _ => None,
            })
            .unwrap_or_else(|| panic!("no field {name}"))
    }

    fn fill(blank: &[u8]) -> Vec<u8> {
        let mut doc = Document::load_mem(blank).expect("lopdf loads the form");
        for name in ["termin_2026_06_29", "termin_2026_07_01"] {
            let id = field_id(&doc, name);
            let d = doc.get_object_mut(id).unwrap().as_dict_mut().unwrap();
            d.set("V", Object::Name(b"Ja".to_vec()));
            d.set("AS", Object::Name(b"Ja".to_vec()));
        }
        let id = field_id(&doc, "kommune_name");
        doc.get_object_mut(id)
            .unwrap()
            .as_dict_mut()
            .unwrap()
            .set("V", Object::string_literal("Stadt Musterhausen"));
        let mut out = Vec::new();
        doc.save_to(&mut out).expect("saved");
        out
    }

    #[test]
    fn blank_pdf_is_read_back_with_empty_fields_and_unchecked_boxes() {
        let files = questionnaire(&ews7()).expect("questionnaire");
        assert!(files.pdf.starts_with(b"%PDF-1.7"));
        let x = read(&files.pdf);
        let expected: Vec<Field> = FIELD_NAMES
            .iter()
            .map(|n| Field {
                name: n.to_string(),
                value: String::new(),
            })
            .collect();
        assert_eq!(x.fields, expected);
        let boxes: Vec<(&str, bool)> = x
            .checkboxes
            .iter()
            .map(|c| {
                assert_eq!(c.kind, CheckboxKind::AcroForm);
                (c.label.as_str(), c.checked)
            })
            .collect();
        let mut want = vec![("Stadt", false), ("Gemeinde", false), ("Kreis", false)];
        want.extend(TERMINE.iter().map(|t| (*t, false)));
        assert_eq!(boxes, want);
        for needle in [
            "Fragebogen zur Bewerbung – EWS 7",
            "Entwicklungswerkstatt für kommunale Engagementstrategien (EWS 7)",
            "Bitte bis Fr., 19.06.2026 per E-Mail zurücksenden.",
            "Wochenstunden für",
            "Engagementförderung (idealerweise",
            "Mo., 29.06.2026, 09:00–13:00 Uhr",
            "Mi., 01.07.2026, 09:00–16:00 Uhr",
            "Bitte füllen Sie diesen Fragebogen aus",
        ] {
            assert!(x.text.contains(needle), "{needle:?} missing in\n{}", x.text);
        }
        assert_eq!(x.pages, Some(2), "{}", x.text);
    }

    #[test]
    fn form_structure_is_what_viewers_need() {
        let files = questionnaire(&ews7()).expect("questionnaire");
        let doc = Document::load_mem(&files.pdf).expect("loads");
        let acroform = doc
            .catalog()
            .unwrap()
            .get(b"AcroForm")
            .unwrap()
            .as_dict()
            .unwrap();
        assert_eq!(
            acroform.get(b"NeedAppearances").unwrap(),
            &Object::Boolean(true)
        );
        let dr_fonts = acroform
            .get(b"DR")
            .unwrap()
            .as_dict()
            .unwrap()
            .get(b"Font")
            .unwrap()
            .as_dict()
            .unwrap();
        assert!(dr_fonts.has(b"Helv") && dr_fonts.has(b"ZaDb"));
        let pages = doc.get_pages();
        let annots: usize = pages
            .values()
            .map(|&p| {
                let page = doc.get_dictionary(p).unwrap();
                page.get(b"Annots").unwrap().as_array().unwrap().len()
            })
            .sum();
        assert_eq!(annots, FIELD_NAMES.len() + KOMMUNE_ART_NAMES.len() + 5);
        let box_id = field_id(&doc, "termin_2026_06_29");
        let d = doc.get_dictionary(box_id).unwrap();
        assert_eq!(d.get(b"FT").unwrap().as_name().unwrap(), b"Btn");
        assert_eq!(d.get(b"AS").unwrap().as_name().unwrap(), b"Off");
        let normal = d
            .get(b"AP")
            .unwrap()
            .as_dict()
            .unwrap()
            .get(b"N")
            .unwrap()
            .as_dict()
            .unwrap();
        assert!(normal.has(b"Ja") && normal.has(b"Off"));
        assert!(d.has(b"MK") && d.has(b"P"));
        let text_id = field_id(&doc, "vorerfahrung");
        let d = doc.get_dictionary(text_id).unwrap();
        assert_eq!(d.get(b"DA").unwrap().as_str().unwrap(), b"/Helv 10 Tf 0 g");
        assert_eq!(d.get(b"Ff").unwrap().as_i64().unwrap(), FF_MULTILINE);
        // Page fonts are WinAnsi-encoded Helvetica.
        let first = *pages.values().next().unwrap();
        let fonts = doc.get_page_fonts(first).unwrap();
        for f in fonts.values() {
            assert_eq!(
                f.get(b"Encoding").unwrap().as_name().unwrap(),
                b"WinAnsiEncoding"
            );
        }
    }

    #[test]
    fn widgets_stay_on_the_page_and_do_not_overlap() {
        let files = questionnaire(&ews7()).expect("questionnaire");
        let doc = Document::load_mem(&files.pdf).expect("loads");
        for (_, &page) in doc.get_pages().iter() {
            let page = doc.get_dictionary(page).unwrap();
            let rects: Vec<[f32; 4]> = page
                .get(b"Annots")
                .unwrap()
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let d = doc.get_dictionary(r.as_reference().unwrap()).unwrap();
                    let v: Vec<f32> = d
                        .get(b"Rect")
                        .unwrap()
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|n| n.as_float().unwrap())
                        .collect();
                    [v[0], v[1], v[2], v[3]]
                })
                .collect();
            for (i, a) in rects.iter().enumerate() {
                assert!(a[0] >= LEFT - 0.01 && a[2] <= RIGHT + 0.01, "{a:?}");
                assert!(a[1] >= BOTTOM - 0.01 && a[3] <= TOP + 0.01, "{a:?}");
                for b in &rects[i + 1..] {
                    let overlap = a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
                    assert!(!overlap, "{a:?} overlaps {b:?}");
                }
            }
        }
    }

    #[test]
    fn filled_pdf_is_read_back() {
        let files = questionnaire(&ews7()).expect("questionnaire");
        let x = read(&fill(&files.pdf));
        let checked: Vec<&str> = x
            .checkboxes
            .iter()
            .filter(|c| c.checked)
            .map(|c| c.label.as_str())
            .collect();
        assert_eq!(checked, [TERMINE[0], TERMINE[2]]);
        assert_eq!(x.checkboxes.len(), 8);
        let kommune = x.fields.iter().find(|f| f.name == "kommune_name").unwrap();
        assert_eq!(kommune.value, "Stadt Musterhausen");
        assert!(
            x.fields
                .iter()
                .filter(|f| f.name != "kommune_name")
                .all(|f| f.value.is_empty())
        );
    }

    #[test]
    fn pdf_follows_the_programme_dates() {
        let files = questionnaire(&other_dates()).expect("questionnaire");
        let x = read(&files.pdf);
        let labels: Vec<&str> = x.checkboxes.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels[3..],
            [
                "Mi., 24.06.2026, 09:00–13:00 Uhr (Digital, via Zoom)",
                "Di., 30.06.2026, 09:00–13:00 Uhr (Digital, via Zoom)",
                "Mi., 01.07.2026, 09:00–16:00 Uhr (Digital, via Zoom)",
                "Do., 02.07.2026, 09:00–13:00 Uhr (Digital, via Zoom)",
                "Fr., 10.07.2026, 10:00–12:00 Uhr (Rathaus Köln)",
            ]
        );
        assert!(!x.text.contains("29.06.2026"));
        assert!(x.text.contains("Rathaus Köln"), "{}", x.text);
        let doc = Document::load_mem(&files.pdf).unwrap();
        field_id(&doc, "termin_2026_06_24");
        field_id(&doc, "termin_2026_07_10");
    }

    #[test]
    fn win_ansi_covers_german_text() {
        assert_eq!(win_ansi("Äöüß–€"), [0xC4, 0xF6, 0xFC, 0xDF, 0x96, 0x80]);
        assert_eq!(win_ansi("→"), b"?");
    }

    #[test]
    fn wrap_keeps_lines_within_the_width() {
        let text = "Bitte kreuzen Sie alle Termine an, die Ihnen möglich sind. Das digitale \
                    Informations- und Kennenlerngespräch dauert ca. 20 Minuten.";
        let lines = wrap(text, 10.0, false, 200.0);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| text_width(l, 10.0, false) <= 200.0));
        assert_eq!(
            lines.join(" "),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        assert_eq!(wrap("", 10.0, false, 100.0), [""]);
    }
}
