//! The sans-IO core: the rules of the locks, their events and their judge, with no clock, socket
//! or runtime (a driver passes in the time and carries out the outputs). The model checks this
//! code; the async client in `client/` drives it. Nothing here imports the client.

pub mod event;
pub mod history;
pub mod judge;
pub mod lease_lock;
pub mod observe;
pub mod params;
pub mod protocol;
pub mod scripts;
pub mod time;
