//! The workflow: what a classified mail means for an application, and which
//! mails it causes. Each step writes its state change and its outbox rows in
//! the caller's transaction.

pub mod applications;
pub mod mails;
pub mod notices;
pub mod reminders;
pub mod review;
