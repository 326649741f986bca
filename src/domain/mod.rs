//! Domain types, parsed at the edges ("parse, don't validate").

mod email_address;
mod header_text;

pub use email_address::EmailAddress;
pub use header_text::HeaderText;
