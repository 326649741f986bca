//! Interviews: cutting the interview days into slots, planning who gets
//! which, releasing the invitations (.ics), moves and cancellations.

pub mod invitations;
pub mod plan;
pub mod schedule;
