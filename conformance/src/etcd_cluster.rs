//! An etcd cluster for a run: its members (Debian's `etcd-server`, from the testkit), each
//! client's links to them, and the faults on them. Every fault is carried out on the real
//! processes and sockets and recorded in the run's history.
//!
//! Client `c` reaches member `m` only through its own [`Link`] (raw framing: etcd speaks gRPC
//! over HTTP/2, whose frames the proxy does not cut into messages), so the harness can delay,
//! drop or blackhole that client's traffic to that member alone. Members talk to each other
//! directly: the faults here are between clients and the store, and on the members' processes.
//!
//! To the lock the store is one linearizable node (its history's node 0, as in the model); a
//! member's pause or death is, to a client, a reply that comes late or never. The history
//! records it as [`Fault::MemberDown`]/[`Fault::MemberUp`], which the judge reads as notes.

use crate::cluster::LockServers;
use crate::history::History;
use crate::proxy::{Framing, Link};
use redlock_client::event::{Event, Fault};
use redlock_testkit::etcd::EtcdCluster;
use std::io;
use std::time::Duration;

/// The members and links of a run. Everything stops when it is dropped.
pub struct EtcdServers {
    cluster: EtcdCluster,
    /// `links[client][member]`.
    links: Vec<Vec<Link>>,
    history: History,
}

impl EtcdServers {
    /// Starts `members` members (waiting for a leader) and a link from each client to each.
    pub async fn start(members: usize, clients: usize, history: History) -> io::Result<EtcdServers> {
        // The testkit waits for the cluster with blocking sleeps: off the runtime's workers.
        let cluster = tokio::task::spawn_blocking(move || EtcdCluster::start(members)).await.map_err(io::Error::other)??;
        let mut links = Vec::with_capacity(clients);
        for client in 0..clients {
            let mut row = Vec::with_capacity(members);
            for (member, m) in cluster.members.iter().enumerate() {
                let upstream = ([127, 0, 0, 1], m.client_port).into();
                row.push(Link::open(format!("client {client} -> member {member}"), upstream, Framing::Raw, Duration::ZERO).await?);
            }
            links.push(row);
        }
        Ok(EtcdServers { cluster, links, history })
    }

    /// The endpoints through which `client` reaches every member (`http://` URLs).
    pub fn urls(&self, client: usize) -> Vec<String> {
        self.links[client].iter().map(|l| format!("http://{}", l.addr())).collect()
    }

    /// Waits up to `within` until `key` is gone from the store (its lease expired or it was
    /// deleted), asking the members directly.
    pub async fn wait_key_gone(&self, key: &str, within: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + within;
        let mut store = redlock_client::etcd_client::Client::connect(self.cluster.urls(), None).await.map_err(|e| e.to_string())?;
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

    fn record(&self, fault: Fault) {
        self.history.record(Event::Fault { fault });
    }
}

impl LockServers for EtcdServers {
    fn nodes(&self) -> usize {
        self.cluster.members.len()
    }

    fn link(&self, client: usize, node: usize) -> &Link {
        &self.links[client][node]
    }

    fn is_up(&self, node: usize) -> bool {
        self.cluster.members[node].is_running()
    }

    /// SIGSTOP: the member keeps its sockets and answers nothing, to clients or peers.
    fn pause_server(&self, node: usize) -> io::Result<()> {
        self.cluster.pause(node)?;
        self.record(Fault::MemberDown { member: node as u32, killed: false });
        Ok(())
    }

    fn resume_server(&self, node: usize) -> io::Result<()> {
        self.cluster.resume(node)?;
        self.record(Fault::MemberUp { member: node as u32 });
        Ok(())
    }

    /// SIGKILL. etcd fsyncs its log before it acknowledges, so a restart loses nothing.
    fn crash(&mut self, node: usize) {
        self.cluster.kill(node);
        self.record(Fault::MemberDown { member: node as u32, killed: true });
    }

    /// Starts a killed member again from its data directory and waits until the cluster has a
    /// leader (a single member elects itself).
    async fn restart(&mut self, node: usize) -> io::Result<()> {
        tokio::task::block_in_place(|| self.cluster.restart(node))?;
        self.record(Fault::MemberUp { member: node as u32 });
        Ok(())
    }

    /// Asks only the members `usable` allows: a paused one would not answer.
    fn leader(&self, usable: &dyn Fn(usize) -> bool) -> Option<usize> {
        (0..self.nodes()).filter(|&m| usable(m)).find(|&m| tokio::task::block_in_place(|| self.cluster.is_leader(m)))
    }
}
