//! The async client (feature `client`): tokio drivers of the core's state machines, their
//! connections, and what a held lock offers. Every rule they follow is the core's
//! (`sans_io/`); this folder only carries out its outputs, keeps time and records.

pub mod clock;
mod commands;
pub(crate) mod config;
pub(crate) mod error;
#[cfg(feature = "etcd")]
pub mod etcd;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod fence;
pub(crate) mod guard;
mod holding;
mod ident;
mod inner;
pub(crate) mod keep_alive;
mod lane;
mod lock;
mod node;
pub mod recorder;
pub(crate) mod redlock;
mod value;
