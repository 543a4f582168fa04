//! A replicated store's servers for a run (etcd members, ZooKeeper servers, from the testkit),
//! each client's links to them, and the faults on them. Every fault is carried out on the real
//! processes and sockets and recorded in the run's history.
//!
//! Client `c` reaches server `m` only through its own [`Link`] (raw framing: etcd's gRPC over
//! HTTP/2 and ZooKeeper's jute packets are not cut into messages by the proxy), so the harness
//! can delay, drop or blackhole that client's traffic to that server alone. Servers talk to each
//! other directly: the faults here are between clients and the store, and on the servers'
//! processes.
//!
//! To the lock the store is one linearizable node (its history's node 0, as in the model); a
//! server's pause or death is, to a client, a reply that comes late or never. The history
//! records it as [`Fault::MemberDown`]/[`Fault::MemberUp`], which the judge reads as notes.

use crate::cluster::LockServers;
use crate::history::History;
use crate::proxy::{Framing, Link};
use redlock_client::event::{Event, Fault};
use redlock_testkit::etcd::EtcdCluster;
use redlock_testkit::Ensemble;
use std::io;
use std::time::Duration;

/// The servers and links of a run. Everything stops when it is dropped.
pub struct EnsembleServers<E: Ensemble> {
    ensemble: E,
    /// `links[client][server]`.
    links: Vec<Vec<Link>>,
    history: History,
}

/// An etcd cluster's members for a run.
pub type EtcdServers = EnsembleServers<EtcdCluster>;

impl<E: Ensemble> EnsembleServers<E> {
    /// Starts the store with `start` (which waits until it serves) and a link from each client
    /// to each server.
    pub async fn start(start: impl FnOnce() -> io::Result<E> + Send + 'static, clients: usize, history: History) -> io::Result<Self> {
        // The testkit waits for the store with blocking sleeps: off the runtime's workers.
        let ensemble = tokio::task::spawn_blocking(start).await.map_err(io::Error::other)??;
        let mut links = Vec::with_capacity(clients);
        for client in 0..clients {
            let mut row = Vec::with_capacity(ensemble.size());
            for server in 0..ensemble.size() {
                let upstream = ([127, 0, 0, 1], ensemble.client_port(server)).into();
                row.push(Link::open(format!("client {client} -> member {server}"), upstream, Framing::Raw, Duration::ZERO).await?);
            }
            links.push(row);
        }
        Ok(EnsembleServers { ensemble, links, history })
    }

    /// The addresses (`127.0.0.1:port`) through which `client` reaches every server.
    pub fn addrs(&self, client: usize) -> Vec<String> {
        self.links[client].iter().map(|l| l.addr().to_string()).collect()
    }

    fn record(&self, fault: Fault) {
        self.history.record(Event::Fault { fault });
    }
}

impl EtcdServers {
    /// Starts `members` etcd members (waiting for a leader) and a link from each client to each.
    pub async fn start_etcd(members: usize, clients: usize, history: History) -> io::Result<EtcdServers> {
        EnsembleServers::start(move || EtcdCluster::start(members), clients, history).await
    }

    /// The endpoints through which `client` reaches every member (`http://` URLs).
    pub fn urls(&self, client: usize) -> Vec<String> {
        self.addrs(client).into_iter().map(|a| format!("http://{a}")).collect()
    }

    /// Waits up to `within` until `key` is gone from the store (its lease expired or it was
    /// deleted), asking the members directly.
    pub async fn wait_key_gone(&self, key: &str, within: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + within;
        let mut store = redlock_client::etcd_client::Client::connect(self.ensemble.urls(), None).await.map_err(|e| e.to_string())?;
        loop {
            let found = store.get(key, None).await.map_err(|e| e.to_string())?.kvs().len();
            if found == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("the key {key:?} is still in etcd after {within:?}"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl<E: Ensemble> LockServers for EnsembleServers<E> {
    fn nodes(&self) -> usize {
        self.ensemble.size()
    }

    fn link(&self, client: usize, node: usize) -> &Link {
        &self.links[client][node]
    }

    fn is_up(&self, node: usize) -> bool {
        self.ensemble.is_running(node)
    }

    /// SIGSTOP: the server keeps its sockets and answers nothing, to clients or peers.
    fn pause_server(&self, node: usize) -> io::Result<()> {
        self.ensemble.pause(node)?;
        self.record(Fault::MemberDown { member: node as u32, killed: false });
        Ok(())
    }

    fn resume_server(&self, node: usize) -> io::Result<()> {
        self.ensemble.resume(node)?;
        self.record(Fault::MemberUp { member: node as u32 });
        Ok(())
    }

    /// SIGKILL. etcd and ZooKeeper write their log to disk before they acknowledge, so a
    /// restart loses nothing.
    fn crash(&mut self, node: usize) {
        self.ensemble.kill(node);
        self.record(Fault::MemberDown { member: node as u32, killed: true });
    }

    /// Starts a killed server again from its data directory and waits until the store serves
    /// (a single server elects itself).
    async fn restart(&mut self, node: usize) -> io::Result<()> {
        tokio::task::block_in_place(|| self.ensemble.restart(node))?;
        self.record(Fault::MemberUp { member: node as u32 });
        Ok(())
    }

    /// Asks only the servers `usable` allows: a paused one would not answer.
    fn leader(&self, usable: &dyn Fn(usize) -> bool) -> Option<usize> {
        (0..self.nodes()).filter(|&m| usable(m)).find(|&m| tokio::task::block_in_place(|| self.ensemble.is_leader(m)))
    }
}
