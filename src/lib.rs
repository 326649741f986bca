//! postbote: an email-driven workflow daemon for training programmes.
//!
//! A mail flows through the crate in this order:
//!
//! 1. [`mailbox`] reads it from IMAP (or a Maildir) without relying on `\Seen`;
//! 2. [`intake`] stores it raw (content-addressed), deduplicates and classifies it;
//! 3. [`documents`] reads its attachments (PDF, DOCX, ODT, ZIP, winmail.dat);
//! 4. [`workflow`] decides what it means for an application and queues replies;
//! 5. [`outbox`] renders, queues (in the same transaction) and sends them over SMTP.
//!
//! Beside the flow: [`calendar`] (programme dates, reminders, digest, iCalendar),
//! [`config`], [`store`] (SQLite), [`context`] (what the stages share), [`cli`]
//! (the administrator's commands) and [`startup`] (boot order and supervision).

pub mod calendar;
pub mod cli;
pub mod config;
pub mod context;
pub mod documents;
pub mod domain;
pub mod intake;
pub mod mailbox;
pub mod memory;
pub mod outbox;
pub mod retention;
pub mod startup;
pub mod store;
pub mod systemd;
pub mod telemetry;
#[doc(hidden)]
pub mod test_noise;
pub mod workflow;
