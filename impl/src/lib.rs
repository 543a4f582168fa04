//! A Redlock client whose protocol is model-checked, with fencing and a checked contract.
//!
//! # Layout
//!
//! - [`time`]: the two kinds of time, real time and a node's local clock, as distinct types.
//! - [`params`]: the protocol's parameters, validated up front.
//! - [`protocol`]: the sans-IO Redlock state machine: the only place where the rules live.
//!   The async client and the model's client actors both drive it.
//! - [`event`]: one vocabulary of observable steps, and the NDJSON history record.
//! - [`judge`]: the invariants, written once, as a fold over events.
//!
//! The core, the events and the judge need nothing but `std`, `serde` and `rand`; with default
//! features off this crate compiles without tokio or redis.

pub mod event;
pub mod judge;
pub mod params;
pub mod protocol;
pub mod time;
