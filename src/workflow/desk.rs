//! What workflow code works with besides the caller's transaction: the
//! programme it acts for, the [`Mailer`] that writes every mail, and the
//! settings it reads (sender name and address, staff, folders). No store
//! and no signals: a workflow step reads and writes only through the
//! transaction it is given, so the caller decides when it commits.

use crate::config::settings::Settings;
use crate::config::{Programme, Programmes};
use crate::outbox::Mailer;

/// The programme, the mailer and the settings of one workflow step.
#[derive(Clone, Copy)]
pub struct Desk<'a> {
    pub programme: &'a Programme,
    /// Every programme of the instance, to resolve a code a staff command
    /// names ([`Desk::resolve_programme`]).
    pub programmes: &'a Programmes,
    pub mailer: &'a Mailer,
    /// Every mailer: the shared templates, and the programmes with a
    /// template folder of their own ([`Desk::for_programme`] picks).
    pub mailers: Mailers<'a>,
    pub settings: &'a Settings,
    /// Work that belongs to no programme in particular (a staff command
    /// reply naming several, alarms) with several programmes configured:
    /// staff mail is labelled with every active programme
    /// ([`Desk::staff_label`]) and written with the shared templates.
    pub neutral: bool,
}

/// The shared mailer and the programmes' own ones (by code).
#[derive(Clone, Copy)]
pub struct Mailers<'a> {
    pub shared: &'a Mailer,
    pub own: &'a [(String, Mailer)],
}

impl<'a> Mailers<'a> {
    /// The mailer of the programme with `code`: its own, else the shared.
    pub fn of(&self, code: &str) -> &'a Mailer {
        self.own
            .iter()
            .find(|(c, _)| c == code)
            .map_or(self.shared, |(_, m)| m)
    }
}

impl<'a> Desk<'a> {
    /// The programme a staff command means: the one with `code`, or without
    /// a code the only active one. Err: the refusal in German, listing the
    /// codes.
    pub fn resolve_programme(&self, code: Option<&str>) -> Result<&'a Programme, String> {
        self.programmes.pick(code).map_err(|e| e.german())
    }

    /// The desk of `programme`: its mailer (templates), the same settings.
    pub fn for_programme(&self, programme: &'a Programme) -> Desk<'a> {
        Desk {
            programme,
            mailer: self.mailers.of(&programme.code),
            neutral: false,
            ..*self
        }
    }

    /// What staff mail of this desk is labelled with ("[EWS 8] …"): the
    /// programme's short name, or on a neutral desk every active
    /// programme's ("EWS 7 / EWS 8").
    pub fn staff_label(&self) -> String {
        if self.neutral {
            self.programmes.label()
        } else {
            self.programme.short_name.clone()
        }
    }
}
