//! Where text is drawn on a PDF page: a small content-stream interpreter that
//! places every string a page shows, so that a checkbox widget can be matched
//! with the date printed beside it (see [`super::boxes`]).
//!
//! It follows the graphics state (`q`, `Q`, `cm`), the text state (`BT`/`ET`,
//! `Tm`, `Td`, `TD`, `T*`, `TL`, `Tf`, `Tc`, `Tw`, `Tz`) and the text-showing
//! operators `Tj`, `TJ`, `'` and `"`, and descends into form XObjects (`Do`).
//! Strings are decoded with the font's encoding as lopdf resolves it (the same
//! as the page text in [`super::pdf`]); advances use the font's `/Widths` (or
//! `/W` of a CID font), else an average glyph width, which is enough to know
//! where a label starts and ends.
//!
//! Only upright text that runs left to right (after the page's `/Rotate`) is
//! placed: rotated or mirrored text is not a label beside a box. A `TJ` gap of
//! more than one em ends a run (a table column drawn in one array).
//!
//! Bounded: at most [`MAX_OPERATIONS`] operators per document,
//! [`MAX_RUNS`] runs, [`MAX_FORM_DEPTH`] nested form XObjects, and every
//! stream decompressed with the document's size limit. Nothing here fails the
//! document: a page whose text cannot be placed gives no runs.

use super::TextRun;
use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Encoding, Object, ObjectId};
use std::collections::HashMap;
use std::rc::Rc;

/// Content-stream operators interpreted per document; the rest is skipped.
pub const MAX_OPERATIONS: usize = 500_000;

/// Text runs kept per document.
pub const MAX_RUNS: usize = 20_000;

/// Form XObjects nested inside each other that are still entered.
pub const MAX_FORM_DEPTH: usize = 4;

/// Characters kept per run.
const MAX_RUN_CHARS: usize = 500;

/// `q` nesting that is tracked; deeper saves are counted but not stored.
const MAX_STACK: usize = 64;

/// Glyph width (in 1/1000 em) when the font does not say.
const DEFAULT_WIDTH: f64 = 500.0;

/// A PDF page to place text on: its number (from 1), object and `/Rotate`.
#[derive(Debug, Clone, Copy)]
pub struct PageRef {
    pub number: u32,
    pub id: ObjectId,
    pub rotate: i64,
}

/// Places the text of `pages`, in page order. `max_decompressed` bounds every
/// stream that is decompressed.
pub fn text_runs(doc: &Document, pages: &[PageRef], max_decompressed: usize) -> Vec<TextRun> {
    let mut placer = Placer {
        doc,
        max_decompressed,
        ops_left: MAX_OPERATIONS,
        runs: Vec::new(),
        fonts: HashMap::new(),
    };
    for page in pages {
        if placer.ops_left == 0 || placer.runs.len() >= MAX_RUNS {
            tracing::debug!("PDF text placement stopped at its operator or run cap");
            break;
        }
        placer.page(*page);
    }
    placer.runs
}

/// `[a b c d e f]`, row-vector convention as in PDF 32000-1, 8.3.4.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Matrix([f64; 6]);

impl Matrix {
    const IDENTITY: Matrix = Matrix([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    fn translate(tx: f64, ty: f64) -> Matrix {
        Matrix([1.0, 0.0, 0.0, 1.0, tx, ty])
    }

    /// `self × other`: first `self`, then `other`.
    fn then(self, other: Matrix) -> Matrix {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = other.0;
        Matrix([
            a * a2 + b * c2,
            a * b2 + b * d2,
            c * a2 + d * c2,
            c * b2 + d * d2,
            e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2,
        ])
    }

    fn apply(self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (x * a + y * c + e, x * b + y * d + f)
    }

    /// A vector (no translation).
    fn apply_vector(self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, _, _] = self.0;
        (x * a + y * c, x * b + y * d)
    }

    fn finite(self) -> bool {
        self.0.iter().all(|v| v.is_finite() && v.abs() < 1e7)
    }

    fn from_operands(ops: &[Object]) -> Option<Matrix> {
        let v: Vec<f64> = ops.iter().filter_map(number).collect();
        let m: [f64; 6] = v.get(..6)?.try_into().ok()?;
        let m = Matrix(m);
        m.finite().then_some(m)
    }
}

/// The page's `/Rotate` as a transform from user space to the page as shown.
fn rotation(rotate: i64) -> Matrix {
    match rotate.rem_euclid(360) {
        90 => Matrix([0.0, -1.0, 1.0, 0.0, 0.0, 0.0]),
        180 => Matrix([-1.0, 0.0, 0.0, -1.0, 0.0, 0.0]),
        270 => Matrix([0.0, 1.0, -1.0, 0.0, 0.0, 0.0]),
        _ => Matrix::IDENTITY,
    }
}

fn number(o: &Object) -> Option<f64> {
    match o {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    }
    .filter(|v| v.is_finite())
}

/// Glyph widths of a font, in 1/1000 em.
enum Widths {
    /// A simple font: `/FirstChar` and `/Widths`.
    Simple {
        first: u32,
        widths: Vec<f64>,
        missing: f64,
    },
    /// A CID font: `/DW` and the ranges of `/W`, sorted by first code.
    Cid {
        default: f64,
        ranges: Vec<(u32, u32, f64)>,
    },
}

impl Widths {
    fn of(&self, code: u32) -> f64 {
        match self {
            Widths::Simple {
                first,
                widths,
                missing,
            } => code
                .checked_sub(*first)
                .and_then(|i| widths.get(i as usize))
                .copied()
                .unwrap_or(*missing),
            Widths::Cid { default, ranges } => {
                let i = ranges.partition_point(|(start, _, _)| *start <= code);
                i.checked_sub(1)
                    .and_then(|i| ranges.get(i))
                    .filter(|(_, end, _)| code <= *end)
                    .map_or(*default, |(_, _, w)| *w)
            }
        }
    }
}

struct Font<'a> {
    encoding: Option<Encoding<'a>>,
    two_byte: bool,
    widths: Widths,
}

/// Resource dictionaries in lookup order (the innermost first).
type Resources<'a> = Vec<&'a Dictionary>;

#[derive(Clone)]
struct GraphicsState<'a> {
    ctm: Matrix,
    font: Option<Rc<Font<'a>>>,
    size: f64,
    char_spacing: f64,
    word_spacing: f64,
    scale: f64,
    leading: f64,
}

struct Placer<'a> {
    doc: &'a Document,
    max_decompressed: usize,
    ops_left: usize,
    runs: Vec<TextRun>,
    /// Fonts by the address of their dictionary (which lives as long as `doc`).
    fonts: HashMap<usize, Rc<Font<'a>>>,
}

/// Where a run of text is being collected.
struct Pending {
    text: String,
    /// Characters in `text`.
    chars: usize,
    /// Text space advance so far.
    advance: f64,
    /// The text matrix at its start.
    start: Matrix,
}

/// What is interpreted on one content stream.
struct Stream<'s, 'a> {
    page: u32,
    view: Matrix,
    resources: &'s Resources<'a>,
    depth: usize,
}

impl<'a> Placer<'a> {
    fn deref(&self, o: &'a Object) -> Option<&'a Object> {
        self.doc.dereference(o).ok().map(|(_, o)| o)
    }

    fn dict(&self, o: &'a Object) -> Option<&'a Dictionary> {
        match self.deref(o)? {
            Object::Dictionary(d) => Some(d),
            Object::Stream(s) => Some(&s.dict),
            _ => None,
        }
    }

    fn page(&mut self, page: PageRef) {
        let Ok(content) = self
            .doc
            .get_page_content_with_limit(page.id, self.max_decompressed)
        else {
            tracing::debug!(page = page.number, "no content to place text from");
            return;
        };
        let resources = self.page_resources(page.id);
        let state = GraphicsState {
            ctm: Matrix::IDENTITY,
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            leading: 0.0,
        };
        let stream = Stream {
            page: page.number,
            view: rotation(page.rotate),
            resources: &resources,
            depth: 0,
        };
        self.run(&content, &stream, state);
    }

    /// The page's own resources, then those it inherits.
    fn page_resources(&self, page_id: ObjectId) -> Resources<'a> {
        let mut out = Vec::new();
        if let Ok((own, inherited)) = self.doc.get_page_resources(page_id) {
            out.extend(own);
            for id in inherited {
                if let Ok(d) = self.doc.get_dictionary(id) {
                    out.push(d);
                }
            }
        }
        out
    }

    /// The entry `name` of the `category` dictionary (`Font`, `XObject`) of
    /// the first resources that has one.
    fn resource(
        &self,
        resources: &Resources<'a>,
        category: &[u8],
        name: &[u8],
    ) -> Option<&'a Object> {
        resources.iter().find_map(|r| {
            let cat = self.dict(r.get(category).ok()?)?;
            cat.get(name).ok()
        })
    }

    fn font(&mut self, resources: &Resources<'a>, name: &[u8]) -> Option<Rc<Font<'a>>> {
        let dict = self.dict(self.resource(resources, b"Font", name)?)?;
        let key = std::ptr::from_ref(dict) as usize;
        if let Some(f) = self.fonts.get(&key) {
            return Some(Rc::clone(f));
        }
        let font = Rc::new(self.load_font(dict));
        self.fonts.insert(key, Rc::clone(&font));
        Some(font)
    }

    fn load_font(&self, dict: &'a Dictionary) -> Font<'a> {
        let encoding = dict
            .get_font_encoding_with_limit(self.doc, self.max_decompressed)
            .ok();
        let subtype = dict.get(b"Subtype").and_then(Object::as_name).ok();
        if subtype == Some(b"Type0".as_slice()) {
            let descendant = dict
                .get(b"DescendantFonts")
                .ok()
                .and_then(|o| self.deref(o))
                .and_then(|o| o.as_array().ok())
                .and_then(|a| a.first())
                .and_then(|o| self.dict(o));
            let widths = match descendant {
                Some(d) => self.cid_widths(d),
                None => Widths::Cid {
                    default: 1000.0,
                    ranges: Vec::new(),
                },
            };
            return Font {
                encoding,
                two_byte: true,
                widths,
            };
        }
        let first = dict
            .get(b"FirstChar")
            .ok()
            .and_then(|o| self.deref(o))
            .and_then(number)
            .filter(|f| (0.0..=255.0).contains(f))
            .map_or(0, |f| f as u32);
        let widths: Vec<f64> = dict
            .get(b"Widths")
            .ok()
            .and_then(|o| self.deref(o))
            .and_then(|o| o.as_array().ok())
            .map(|a| {
                a.iter()
                    .take(256)
                    .map(|w| {
                        self.deref(w)
                            .and_then(number)
                            .filter(|w| (0.0..10_000.0).contains(w))
                            .unwrap_or(DEFAULT_WIDTH)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let missing = dict
            .get(b"FontDescriptor")
            .ok()
            .and_then(|o| self.dict(o))
            .and_then(|d| d.get(b"MissingWidth").ok())
            .and_then(|o| self.deref(o))
            .and_then(number)
            .filter(|w| *w > 0.0 && *w < 10_000.0)
            .unwrap_or(DEFAULT_WIDTH);
        Font {
            encoding,
            two_byte: false,
            widths: Widths::Simple {
                first,
                widths,
                missing,
            },
        }
    }

    /// `/DW` and `/W` of a CID font (PDF 32000-1, 9.7.4.3), at most 10,000
    /// ranges.
    fn cid_widths(&self, d: &'a Dictionary) -> Widths {
        let default = d
            .get(b"DW")
            .ok()
            .and_then(|o| self.deref(o))
            .and_then(number)
            .filter(|w| (0.0..10_000.0).contains(w))
            .unwrap_or(1000.0);
        let mut ranges = Vec::new();
        let items: &[Object] = d
            .get(b"W")
            .ok()
            .and_then(|o| self.deref(o))
            .and_then(|o| o.as_array().ok())
            .map_or(&[], Vec::as_slice);
        let mut i = 0;
        while i < items.len() && ranges.len() < 10_000 {
            let Some(first) = items.get(i).and_then(|o| self.deref(o)).and_then(number) else {
                break;
            };
            let first = first.clamp(0.0, f64::from(u32::MAX)) as u32;
            match items.get(i + 1).and_then(|o| self.deref(o)) {
                Some(Object::Array(ws)) => {
                    for (k, w) in ws.iter().take(10_000).enumerate() {
                        let w = self.deref(w).and_then(number).unwrap_or(default);
                        let code = first.saturating_add(k as u32);
                        ranges.push((code, code, w));
                    }
                    i += 2;
                }
                Some(last) => {
                    let (Some(last), Some(w)) = (
                        number(last),
                        items
                            .get(i + 2)
                            .and_then(|o| self.deref(o))
                            .and_then(number),
                    ) else {
                        break;
                    };
                    let last = last.clamp(0.0, f64::from(u32::MAX)) as u32;
                    if last >= first {
                        ranges.push((first, last, w));
                    }
                    i += 3;
                }
                None => break,
            }
        }
        ranges.sort_by_key(|(start, _, _)| *start);
        Widths::Cid { default, ranges }
    }

    /// Interprets one content stream.
    fn run(&mut self, content: &[u8], stream: &Stream<'_, 'a>, mut gs: GraphicsState<'a>) {
        let mut saved: Vec<GraphicsState<'a>> = Vec::new();
        let mut unsaved = 0usize;
        let mut tm = Matrix::IDENTITY;
        let mut tlm = Matrix::IDENTITY;
        for op in Content::decode_iter(content) {
            let Ok(op) = op else {
                tracing::debug!(page = stream.page, "content stream ends in a syntax error");
                break;
            };
            if self.ops_left == 0 || self.runs.len() >= MAX_RUNS {
                return;
            }
            self.ops_left -= 1;
            let Operation { operator, operands } = op;
            let num = |i: usize| operands.get(i).and_then(number);
            match operator.as_str() {
                "q" => {
                    if saved.len() < MAX_STACK {
                        saved.push(gs.clone());
                    } else {
                        unsaved += 1;
                    }
                }
                "Q" => {
                    if unsaved > 0 {
                        unsaved -= 1;
                    } else if let Some(s) = saved.pop() {
                        gs = s;
                    }
                }
                "cm" => {
                    if let Some(m) = Matrix::from_operands(&operands) {
                        let ctm = m.then(gs.ctm);
                        if ctm.finite() {
                            gs.ctm = ctm;
                        }
                    }
                }
                "BT" => {
                    tm = Matrix::IDENTITY;
                    tlm = Matrix::IDENTITY;
                }
                "Tf" => {
                    if let (Some(Object::Name(name)), Some(size)) = (operands.first(), num(1)) {
                        gs.font = self.font(stream.resources, name);
                        gs.size = size.clamp(-10_000.0, 10_000.0);
                    }
                }
                "Tc" => gs.char_spacing = num(0).unwrap_or(gs.char_spacing),
                "Tw" => gs.word_spacing = num(0).unwrap_or(gs.word_spacing),
                "Tz" => gs.scale = num(0).map_or(gs.scale, |z| z / 100.0),
                "TL" => gs.leading = num(0).unwrap_or(gs.leading),
                "Tm" => {
                    if let Some(m) = Matrix::from_operands(&operands) {
                        tm = m;
                        tlm = m;
                    }
                }
                "Td" | "TD" => {
                    if let (Some(tx), Some(ty)) = (num(0), num(1)) {
                        if operator == "TD" {
                            gs.leading = -ty;
                        }
                        tlm = Matrix::translate(tx, ty).then(tlm);
                        tm = tlm;
                    }
                }
                "T*" => {
                    tlm = Matrix::translate(0.0, -gs.leading).then(tlm);
                    tm = tlm;
                }
                "Tj" | "'" | "\"" | "TJ" => {
                    if operator == "'" || operator == "\"" {
                        if operator == "\"" {
                            gs.word_spacing = num(0).unwrap_or(gs.word_spacing);
                            gs.char_spacing = num(1).unwrap_or(gs.char_spacing);
                        }
                        tlm = Matrix::translate(0.0, -gs.leading).then(tlm);
                        tm = tlm;
                    }
                    let shown = match operator.as_str() {
                        "\"" => operands.get(2),
                        _ => operands.first(),
                    };
                    if let Some(shown) = shown {
                        tm = self.show(shown, tm, &gs, stream);
                    }
                }
                "Do" => {
                    if let Some(Object::Name(name)) = operands.first() {
                        self.form(name, stream, &gs);
                    }
                }
                _ => {}
            }
        }
    }

    /// A form XObject: its content with its own matrix and resources.
    fn form(&mut self, name: &[u8], stream: &Stream<'_, 'a>, gs: &GraphicsState<'a>) {
        if stream.depth >= MAX_FORM_DEPTH {
            return;
        }
        let Some(Object::Stream(xobject)) = self
            .resource(stream.resources, b"XObject", name)
            .and_then(|o| self.deref(o))
        else {
            return;
        };
        if xobject.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form".as_slice()) {
            return;
        }
        let Ok(content) = xobject.get_plain_content_with_limit(self.max_decompressed) else {
            return;
        };
        let matrix = xobject
            .dict
            .get(b"Matrix")
            .ok()
            .and_then(|o| self.deref(o))
            .and_then(|o| o.as_array().ok())
            .and_then(|a| Matrix::from_operands(a))
            .unwrap_or(Matrix::IDENTITY);
        let mut resources = Vec::new();
        if let Some(own) = xobject
            .dict
            .get(b"Resources")
            .ok()
            .and_then(|o| self.dict(o))
        {
            resources.push(own);
        }
        resources.extend(stream.resources.iter().copied());
        let mut inner = gs.clone();
        inner.ctm = matrix.then(gs.ctm);
        if !inner.ctm.finite() {
            return;
        }
        let nested = Stream {
            page: stream.page,
            view: stream.view,
            resources: &resources,
            depth: stream.depth + 1,
        };
        self.run(&content, &nested, inner);
    }

    /// Shows a string or a `TJ` array; returns the text matrix after it.
    fn show(
        &mut self,
        shown: &Object,
        tm: Matrix,
        gs: &GraphicsState<'a>,
        stream: &Stream<'_, 'a>,
    ) -> Matrix {
        let mut pending = Pending {
            text: String::new(),
            chars: 0,
            advance: 0.0,
            start: tm,
        };
        let em = gs.size * gs.scale;
        match shown {
            Object::String(bytes, _) => self.add_string(&mut pending, bytes, gs),
            Object::Array(items) => {
                for item in items {
                    // Each element of a TJ array counts as an operator.
                    if self.ops_left == 0 {
                        break;
                    }
                    self.ops_left -= 1;
                    match item {
                        Object::String(bytes, _) => self.add_string(&mut pending, bytes, gs),
                        other => {
                            let Some(n) = number(other) else { continue };
                            let gap = -n / 1000.0 * em;
                            if gap.abs() > 1.0 * em.abs() && gap > 0.0 {
                                // A column gap: the next text is a run of its own.
                                let next = Matrix::translate(pending.advance + gap, 0.0)
                                    .then(pending.start);
                                self.flush(&pending, gs, stream);
                                pending = Pending {
                                    text: String::new(),
                                    chars: 0,
                                    advance: 0.0,
                                    start: next,
                                };
                                continue;
                            }
                            if gap > 0.2 * em.abs()
                                && !pending.text.ends_with(' ')
                                && pending.chars < MAX_RUN_CHARS
                            {
                                pending.text.push(' ');
                                pending.chars += 1;
                            }
                            pending.advance += gap;
                        }
                    }
                }
            }
            _ => {}
        }
        self.flush(&pending, gs, stream);
        let after = Matrix::translate(pending.advance, 0.0).then(pending.start);
        if after.finite() { after } else { tm }
    }

    fn add_string(&self, pending: &mut Pending, bytes: &[u8], gs: &GraphicsState<'a>) {
        let Some(font) = &gs.font else {
            pending.advance += bytes.len() as f64 * DEFAULT_WIDTH / 1000.0 * gs.size * gs.scale;
            return;
        };
        let codes: Vec<u32> = if font.two_byte {
            bytes
                .chunks_exact(2)
                .map(|c| u32::from(c[0]) << 8 | u32::from(c[1]))
                .collect()
        } else {
            bytes.iter().map(|&b| u32::from(b)).collect()
        };
        for code in codes {
            let w = font.widths.of(code) / 1000.0;
            let space = if !font.two_byte && code == 32 {
                gs.word_spacing
            } else {
                0.0
            };
            pending.advance += (w * gs.size + gs.char_spacing + space) * gs.scale;
        }
        if pending.chars < MAX_RUN_CHARS
            && let Some(enc) = &font.encoding
            && let Ok(text) = enc.bytes_to_string(bytes)
        {
            let room = MAX_RUN_CHARS - pending.chars;
            for c in text
                .chars()
                .filter(|c| !c.is_control() && *c != '\u{FFFD}')
                .take(room)
            {
                pending.text.push(c);
                pending.chars += 1;
            }
        }
    }

    /// Stores a collected run if it is upright, left-to-right text.
    fn flush(&mut self, pending: &Pending, gs: &GraphicsState<'a>, stream: &Stream<'_, 'a>) {
        let text = pending.text.trim();
        if text.is_empty() || self.runs.len() >= MAX_RUNS {
            return;
        }
        // Text space → user space → the page as shown.
        let m = pending.start.then(gs.ctm).then(stream.view);
        let (x0, y0) = m.apply(0.0, 0.0);
        let (x1, y1) = m.apply(pending.advance, 0.0);
        let (ux, uy) = m.apply_vector(0.0, gs.size);
        let size = ux.hypot(uy);
        let values = [x0, y0, x1, y1, size];
        if values.iter().any(|v| !v.is_finite() || v.abs() > 1e6) || size < 0.5 {
            return;
        }
        let upright = uy > 0.8 * size;
        let (dx, dy) = (x1 - x0, y1 - y0);
        let forwards = dx >= -0.5 && dy.abs() <= 0.3 * dx.abs() + 0.5;
        if !upright || !forwards {
            return;
        }
        self.runs.push(TextRun {
            page: stream.page,
            x0: x0 as f32,
            x1: x1.max(x0) as f32,
            y: y0 as f32,
            size: size as f32,
            text: text.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{Stream as PdfStream, dictionary};

    /// A one-page document with `content`, Helvetica (WinAnsi, with Widths
    /// of 500 for every code) as /F1 and a form XObject /X1 drawing "Innen".
    fn doc_with(content: &[u8], rotate: i64) -> (Document, PageRef) {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
            "Encoding" => "WinAnsiEncoding", "FirstChar" => 32,
            "Widths" => (32..=255).map(|_| Object::Integer(500)).collect::<Vec<_>>(),
        });
        let xobject = doc.add_object(PdfStream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form",
            "BBox" => vec![0.into(), 0.into(), 100.into(), 20.into()],
            "Matrix" => vec![1.into(), 0.into(), 0.into(), 1.into(), 300.into(), 0.into()] },
            b"BT /F1 10 Tf 0 5 Td (Innen) Tj ET".to_vec(),
        ));
        let contents = doc.add_object(PdfStream::new(dictionary! {}, content.to_vec()));
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => contents, "Rotate" => rotate,
            "Resources" => dictionary! {
                "Font" => dictionary! { "F1" => font },
                "XObject" => dictionary! { "X1" => xobject },
            },
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(
                dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 },
            ),
        );
        (
            doc,
            PageRef {
                number: 1,
                id: page,
                rotate,
            },
        )
    }

    fn runs(content: &[u8]) -> Vec<(String, f32, f32, f32)> {
        let (doc, page) = doc_with(content, 0);
        text_runs(&doc, &[page], 1 << 20)
            .into_iter()
            .map(|r| (r.text, r.x0, r.x1, r.y))
            .collect()
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 0.01
    }

    #[test]
    fn td_tm_and_t_star_place_each_line() {
        let got = runs(
            b"BT /F1 10 Tf 14 TL 100 700 Td (Mo) Tj T* (Di) Tj 1 0 0 1 50 600 Tm (Mi) Tj 0 -20 TD (Do) Tj (Fr) ' ET",
        );
        let want = [
            ("Mo", 100.0, 110.0, 700.0),
            ("Di", 100.0, 110.0, 686.0),
            ("Mi", 50.0, 60.0, 600.0),
            ("Do", 50.0, 60.0, 580.0),
            // TD set the leading to 20.
            ("Fr", 50.0, 60.0, 560.0),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.0, w.0);
            assert!(
                close(g.1, w.1) && close(g.2, w.2) && close(g.3, w.3),
                "{g:?} != {w:?}"
            );
        }
    }

    #[test]
    fn tj_arrays_advance_and_split_at_column_gaps() {
        // 5 glyphs of 5 pt, then -100 (0.5 pt back), then a gap of 3 em.
        let got = runs(b"BT /F1 10 Tf 100 500 Td [(29.06) 100 (.2026) -3000 (ja)] TJ ET");
        assert_eq!(got[0].0, "29.06.2026");
        assert!(close(got[0].1, 100.0) && close(got[0].2, 149.0), "{got:?}");
        assert_eq!(got[1].0, "ja");
        assert!(close(got[1].1, 179.0), "{got:?}");
    }

    #[test]
    fn the_ctm_scales_and_moves_text_and_q_restores_it() {
        let got = runs(
            b"q 2 0 0 2 10 20 cm BT /F1 10 Tf 5 5 Td (ab) Tj ET Q BT /F1 10 Tf 5 5 Td (cd) Tj ET",
        );
        assert_eq!(got[0].0, "ab");
        assert!(close(got[0].1, 20.0) && close(got[0].3, 30.0) && close(got[0].2, 40.0));
        assert_eq!(got[1].0, "cd");
        assert!(close(got[1].1, 5.0) && close(got[1].3, 5.0));
    }

    #[test]
    fn form_xobjects_are_entered() {
        let got = runs(b"q 1 0 0 1 0 100 cm /X1 Do Q");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "Innen");
        assert!(close(got[0].1, 300.0) && close(got[0].3, 105.0), "{got:?}");
    }

    #[test]
    fn word_spacing_char_spacing_and_quote_operator() {
        // " sets Tw 10 and Tc 1: "a b" = 3 glyphs × (5 + 1) + 10 for the space.
        let got = runs(b"BT /F1 10 Tf 12 TL 0 100 Td 10 1 (a b) \" ET");
        assert_eq!(got[0].0, "a b");
        assert!(close(got[0].3, 88.0) && close(got[0].2, 28.0), "{got:?}");
    }

    #[test]
    fn rotated_and_mirrored_text_is_not_placed() {
        assert!(runs(b"BT /F1 10 Tf 0 1 -1 0 100 100 Tm (hoch) Tj ET").is_empty());
        assert!(runs(b"BT /F1 10 Tf 1 0 0 -1 100 100 Tm (kopf) Tj ET").is_empty());
    }

    #[test]
    fn a_rotated_page_is_placed_as_shown() {
        // /Rotate 90: user space y becomes x, x becomes -y; text drawn upwards
        // in user space reads left to right.
        let (doc, page) = doc_with(b"BT /F1 10 Tf 0 1 -1 0 100 200 Tm (quer) Tj ET", 90);
        let got = text_runs(&doc, &[page], 1 << 20);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            close(got[0].x0, 200.0) && close(got[0].y, -100.0),
            "{got:?}"
        );
    }

    #[test]
    fn garbage_operands_and_unbalanced_states_never_panic() {
        for content in [
            &b"Q Q Q ET BT Tf Tj TJ Td TD Tm cm"[..],
            b"BT /F1 1e38 Tf 1e38 1e38 Td (x) Tj ET",
            b"BT /Nope 10 Tf (x) Tj [(a) /N 5 (b)] TJ ET",
            b"1 0 0 1 NaN 0 cm BT /F1 10 Tf (x) Tj ET",
            b"q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q q Q Q",
            b"BT /F1 10 Tf (unterminated",
            b"/X1 Do /X1 Do /Missing Do",
        ] {
            let _ = runs(content);
        }
    }

    #[test]
    fn work_is_capped() {
        let mut content = Vec::new();
        for i in 0..(MAX_RUNS + 10) {
            content.extend_from_slice(format!("BT /F1 10 Tf 10 {i} Td (x) Tj ET\n").as_bytes());
        }
        assert_eq!(runs(&content).len(), MAX_RUNS);
    }
}
