//! The site's three sections, one module each.

pub mod measurements;
pub mod people;
pub mod planner;
pub mod prediction;
pub mod published;
pub mod study;
