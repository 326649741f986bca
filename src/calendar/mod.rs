//! Programme dates and their German presentation.

pub mod german;
