//! Programme dates, their German presentation and iCalendar invitations.

pub mod german;
pub mod ics;
