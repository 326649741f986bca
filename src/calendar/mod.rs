//! Programme dates, their German presentation and iCalendar invitations.

pub mod alarm;
pub mod clock;
pub mod cron;
pub mod digest;
pub mod events;
pub mod german;
pub mod ics;
pub mod notify;
pub mod reminders;
pub mod scheduler;
pub mod timeline;
