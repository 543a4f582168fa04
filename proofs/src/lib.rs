pub mod clocks;
pub mod fencing;
pub mod logic;
pub mod quorum;
pub mod restart;
pub mod timing;
