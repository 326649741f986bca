//! Documents (part 2, in progress): text and form fields from the attachments
//! municipalities send. Extractors are pure functions over bytes with hard
//! limits; they are not wired into the intake yet.

pub mod analyse;
pub mod archive;
pub mod dates;
pub mod docx;
pub mod forms;
pub mod glyphs;
pub mod isolate;
pub mod limits;
pub mod odt;
pub mod pdf;
pub mod tnef;

pub use limits::Limits;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkbox {
    pub label: String,
    pub checked: bool,
    pub kind: CheckboxKind,
}

/// A named form field with its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: String,
    pub value: String,
}

/// What an extractor read from one document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Extracted {
    pub text: String,
    pub checkboxes: Vec<Checkbox>,
    pub fields: Vec<Field>,
    /// Pages, where the format knows them (PDF), or an estimate (DOCX).
    pub pages: Option<u32>,
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
