//! Staff commands by mail: a member of the programme office writes plain German
//! commands into the body of a mail ("ZUSAGE EWS7-0003 2 PERSONEN"), postbote
//! carries them out and replies with what it did.
//!
//! This module is pure: [`parse()`] reads the commands from the body text and
//! [`auth`] decides whether the mail may command at all (DKIM or SPF as
//! reported by a trusted receiving server, or the installation's secret).
//! Whether the From address belongs to staff is the caller's check.

pub mod auth;
pub mod execute;
pub mod parse;

pub use auth::{
    AuthResults, MethodResult, Policy, Verdict, Via, authenticate, authentication_results,
    boundary_results, dmarc_failed, secret_matches,
};
pub use parse::{Command, LineError, Outcome, Parsed, parse};
