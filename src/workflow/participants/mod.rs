//! Participants: the cohort's roster, from accepted applications or imported
//! from a CSV that staff keep.

pub mod csv;
pub mod roster;
pub mod welcome;
