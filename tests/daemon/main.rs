//! Integration tests against real servers: private Dovecot (IMAP + LMTP) and
//! Postfix instances on loopback, real SQLite, the daemon in-process.

mod helpers;
mod mail_servers;

mod calendar_mail;
mod caps;
/// The three-engine .ics reader shared with the unit tests.
#[path = "../calendar/engines.rs"]
mod engines;

mod auto_replies;
mod binary;
mod cli;
mod crash;
mod digest;
mod documents;
mod end_to_end;
mod fixtures;
mod folders;
mod idle;
mod intake;
mod interviews;
mod operations;
mod outages;
mod overview;
mod own_domain;
mod ownership;
mod programme_year;
mod programmes;
mod restarts;
mod retention;
mod security;
mod selection;
mod sending;
mod servers_smoke;
mod shutdown;
mod takeover;
mod tls;
