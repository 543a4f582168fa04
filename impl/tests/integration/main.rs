//! Integration tests against real servers started by [`harness`].

mod harness;

mod config;
mod etcd;
mod fencing;
mod keep_alive;
mod lock;
