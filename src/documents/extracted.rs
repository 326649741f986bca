//! What an extractor returns: the text, the checkboxes (with their context
//! and place), the form fields and the page count of one document, or why it
//! could not be read.

use serde::Serialize;

/// How a checkbox was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckboxKind {
    /// DOCX content control (`w14:checkbox`).
    ContentControl,
    /// DOCX legacy form field (`w:ffData/w:checkBox`).
    LegacyFormField,
    /// A glyph such as ☒ ☑ ✓ ✔ or an "x" beside an option.
    Glyph,
    /// ODF `form:checkbox`.
    OdfForm,
    /// PDF AcroForm button field.
    AcroForm,
}

/// A checkbox and the text that labels it (the rest of its paragraph or table
/// row, or the field name).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checkbox {
    pub label: String,
    pub checked: bool,
    pub kind: CheckboxKind,
    /// The whole paragraph or table row the box stands in (DOCX, ODT, text),
    /// when that says more than `label`: e.g. the row "Mo., 29.06.2026 ☐ ja
    /// ☐ nein" of the box labelled "ja", or the paragraph of an ODF control
    /// whose own label is "Markierfeld 1".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Where the box is drawn (PDF widgets with a page and a `/Rect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<Place>,
}

impl Checkbox {
    /// A box with a label only (no context, no place).
    pub fn new(label: impl Into<String>, checked: bool, kind: CheckboxKind) -> Self {
        Checkbox {
            label: label.into(),
            checked,
            kind,
            context: None,
            place: None,
        }
    }
}

/// A rectangle on a page: `page` counts from 1; `rect` is `[x0, y0, x1, y1]`
/// in points with `x0 <= x1`, `y0 <= y1`, x to the right and y upwards as the
/// page is shown (a page's `/Rotate` already applied).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Place {
    pub page: u32,
    pub rect: [f32; 4],
}

/// One string drawn on a PDF page, placed by [`pdf_layout`]: from `x0` to
/// `x1` along the baseline `y` (same coordinates as [`Place`]), in a font of
/// `size` points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextRun {
    pub page: u32,
    pub x0: f32,
    pub x1: f32,
    pub y: f32,
    pub size: f32,
    pub text: String,
}

/// A named form field with its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: String,
    pub value: String,
}

/// What an extractor read from one document.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Extracted {
    pub text: String,
    pub checkboxes: Vec<Checkbox>,
    pub fields: Vec<Field>,
    /// Pages, where the format knows them (PDF), or an estimate (DOCX).
    pub pages: Option<u32>,
    /// The text of the pages with checkboxes, placed (PDF only; empty where
    /// the text could not be placed). Used to find the date printed beside a
    /// box; not stored.
    #[serde(skip)]
    pub text_runs: Vec<TextRun>,
}

/// Why a document could not be read. Every variant means "store it and ask a
/// human"; none may crash the daemon.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExtractError {
    #[error("document exceeds a limit: {0}")]
    Limit(String),
    #[error("document is encrypted")]
    Encrypted,
    #[error("format not supported: {0}")]
    Unsupported(String),
    #[error("document is damaged or not what it claims to be: {0}")]
    Malformed(String),
}
