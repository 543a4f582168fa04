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

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
pub mod clock;
#[cfg(feature = "client")]
mod commands;
#[cfg(feature = "client")]
mod config;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
pub mod fence;
#[cfg(feature = "client")]
mod guard;
#[cfg(feature = "client")]
mod keep_alive;
#[cfg(feature = "client")]
mod lane;
#[cfg(feature = "client")]
mod lock;
#[cfg(feature = "client")]
mod node;
#[cfg(feature = "client")]
pub mod recorder;
#[cfg(feature = "client")]
mod value;

#[cfg(feature = "client")]
pub use crate::{
    client::Client,
    config::{ClientBuilder, ConfigError, Fencing, FENCE_KEY_SUFFIX},
    error::{AcquireError, ExtendError, FencedError, LockError, ReleaseError},
    guard::Guard,
    keep_alive::LockContext,
    recorder::Recorder,
    value::LockValue,
};
/// The redis-rs version this crate is built with (for [`fence::RedisFenced`] connections).
#[cfg(feature = "client")]
pub use redis;
/// The tokio-postgres version this crate is built with (for [`fence::PostgresFenced`]).
#[cfg(feature = "postgres")]
pub use tokio_postgres;
/// The cancellation token type of [`LockContext::lost_token`].
#[cfg(feature = "client")]
pub use tokio_util::sync::CancellationToken;
