//! Intake: store every message raw (content-addressed) before acting on it,
//! deduplicate by location, content and Message-ID, classify, then hand it to
//! the workflow.

pub mod bounce;
pub mod classify;
pub mod health;
pub mod mask;
pub mod parse;
pub mod process;
pub mod route;
pub mod worker;

pub use classify::{Class, classify};
pub use parse::Incoming;
