//! What workflow code works with besides the caller's transaction: the
//! programme it acts for, the [`Mailer`] that writes every mail, and the
//! settings it reads (sender name and address, staff, folders). No store
//! and no signals: a workflow step reads and writes only through the
//! transaction it is given, so the caller decides when it commits.

use crate::config::Programme;
use crate::config::settings::Settings;
use crate::outbox::Mailer;

/// The programme, the mailer and the settings of one workflow step.
#[derive(Clone, Copy)]
pub struct Desk<'a> {
    pub programme: &'a Programme,
    pub mailer: &'a Mailer,
    pub settings: &'a Settings,
}
