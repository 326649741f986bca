//! The workflow: what a classified mail means for an application, and which
//! mails it causes. Each step writes its state change and its outbox rows in
//! the caller's transaction, with a [`desk::Desk`] (programme, mailer,
//! settings).

pub mod actions;
pub mod applications;
pub mod commands;
pub mod desk;
pub mod interviews;
pub mod mails;
pub mod notices;
pub mod overview;
pub mod ownership;
pub mod participants;
pub mod people;
pub mod reminders;
pub mod replies;
pub mod review;
pub mod selection;
