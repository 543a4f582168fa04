//! The soak's PostgreSQL server as a run's lock server: each client's link to it, through which
//! the faults of a run reach it. The server is shared by the soak's runs (a cluster of its own
//! would cost an `initdb` a run) and is never paused or killed: a paused postmaster leaves its
//! sessions' backends running, and the fault that matters to an advisory lock is a session that
//! ends, which a dropped or blackholed connection is.

use crate::cluster::LockServers;
use crate::proxy::{Framing, Link};
use redlock_testkit::postgres::connection_string;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// The clients' links to the server. They close when dropped.
pub struct PostgresLinks {
    /// `links[client]`.
    links: Vec<Link>,
}

impl PostgresLinks {
    pub async fn open(server: SocketAddr, clients: usize) -> io::Result<PostgresLinks> {
        let mut links = Vec::with_capacity(clients);
        for client in 0..clients {
            links.push(Link::open(format!("client {client} -> postgres"), server, Framing::Raw, Duration::ZERO).await?);
        }
        Ok(PostgresLinks { links })
    }

    /// The connection string through which `client` reaches the server.
    pub fn connection_string(&self, client: usize) -> String {
        connection_string(self.links[client].addr())
    }
}

fn unsupported(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, format!("the soak does not {what} its shared PostgreSQL server"))
}

impl LockServers for PostgresLinks {
    fn nodes(&self) -> usize {
        1
    }

    fn link(&self, client: usize, _node: usize) -> &Link {
        &self.links[client]
    }

    fn is_up(&self, _node: usize) -> bool {
        true
    }

    fn pause_server(&self, _node: usize) -> io::Result<()> {
        Err(unsupported("pause"))
    }

    fn resume_server(&self, _node: usize) -> io::Result<()> {
        Err(unsupported("resume"))
    }

    /// Never drawn for PostgreSQL runs (see the module's note).
    fn crash(&mut self, _node: usize) {}

    async fn restart(&mut self, _node: usize) -> io::Result<()> {
        Err(unsupported("restart"))
    }
}
