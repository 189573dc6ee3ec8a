//! Components the pages share: inputs bound to a signal, and the chart on a canvas.

pub mod chart;
pub mod choice;
pub mod number;
