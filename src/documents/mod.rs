//! Documents: text, form fields and checkboxes from the attachments
//! municipalities send. Intake hands every application mail to
//! [`analyse::analyse_isolated`], which unpacks archives, detects each file by
//! its bytes and runs the extractors (pure functions over bytes with hard
//! limits) on a thread of its own; [`boxes`] and [`dates`] turn checkboxes and
//! text into interview dates.

pub mod analyse;
pub mod archive;
pub mod boxes;
pub mod dates;
pub mod docx;
pub mod extracted;
pub mod forms;
pub mod glyphs;
pub mod isolate;
pub mod limits;
pub mod odt;
pub mod pdf;
pub mod pdf_layout;
pub mod tnef;

pub use extracted::{Checkbox, CheckboxKind, ExtractError, Extracted, Field, Place, TextRun};
pub use limits::Limits;
