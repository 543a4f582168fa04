pub mod clocks;
pub mod logic;
pub mod restart;
pub mod timing;
