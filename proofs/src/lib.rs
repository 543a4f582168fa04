pub mod clocks;
pub mod logic;
pub mod timing;
