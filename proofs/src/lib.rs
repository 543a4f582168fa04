pub mod clocks;
pub mod fencing;
pub mod incr_tokens;
pub mod logic;
pub mod quorum;
pub mod restart;
pub mod timing;
pub mod window;
