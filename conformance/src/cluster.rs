//! The lock servers of a run, each client's links to them, and the faults on them. Every fault
//! is carried out on the real processes and sockets and recorded in the run's history.
//!
//! Node `n` is one `redis-server` (and, for a failover, node 0's replicas: more `redis-server`s
//! that replicate from it, each through a link the harness can stall). Client `c` reaches node `n`
//! only through its own [`Link`], so the harness can delay, hold, drop or blackhole that
//! client's traffic to that node alone.

use crate::clock_jump;
use crate::history::History;
use crate::proxy::{Direction, Flow, Framing, Link};
use crate::redis_server::{Persistence, RedisServer};
use redlock_client::event::{Event, Fault, NodeId};
use redlock_client::redis;
use redlock_testkit::Sentinels;
use std::io;
use std::time::{Duration, Instant};

/// The shape of a run's lock service.
#[derive(Clone, Copy, Debug)]
pub struct ClusterSpec {
    pub servers: usize,
    pub clients: usize,
    pub persistence: Persistence,
    /// Node 0's asynchronous replicas (for a failover).
    pub replicas: usize,
    /// The replica a failover promotes: Sentinel promotes the replica with the lowest
    /// `replica-priority` first (then the largest replication offset), so this one gets 10 and
    /// the others 100, as an operator who prefers one replica would configure it.
    pub promoted: usize,
    /// The flow of every client link at start (`Hold` for a replay).
    pub flow: Flow,
    /// How long a client's new connection waits for a node that is down (0: it fails at once).
    pub connect_wait: Duration,
}

/// What the soak's injector does to a run's lock servers, whatever the service: Redis nodes
/// here, etcd members and ZooKeeper servers in [`crate::ensemble`].
pub trait LockServers {
    fn nodes(&self) -> usize;
    fn link(&self, client: usize, node: usize) -> &Link;
    fn is_up(&self, node: usize) -> bool;
    fn pause_server(&self, node: usize) -> io::Result<()>;
    fn resume_server(&self, node: usize) -> io::Result<()>;
    fn crash(&mut self, node: usize);
    fn restart(&mut self, node: usize) -> impl std::future::Future<Output = io::Result<()>> + Send;
    /// The node that leads a replicated store now, among those `usable` allows; `None` where
    /// there is no leader to find.
    fn leader(&self, _usable: &dyn Fn(usize) -> bool) -> Option<usize> {
        None
    }
    /// The Redis nodes, for the faults only they take (clock jumps, evictions, failovers).
    fn redis(&mut self) -> Option<&mut Cluster> {
        None
    }
}

/// One of node 0's replicas and the link it replicates through (until a failover makes
/// Sentinel point it at the new primary directly).
struct Replica {
    server: RedisServer,
    link: Link,
}

/// The servers and links of a run. Everything stops when it is dropped.
pub struct Cluster {
    servers: Vec<RedisServer>,
    replicas: Vec<Replica>,
    sentinels: Option<Sentinels>,
    /// `links[client][node]`.
    links: Vec<Vec<Link>>,
    history: History,
}

const REPLICA_SYNC_WITHIN: Duration = Duration::from_secs(10);

impl Cluster {
    pub async fn start(spec: ClusterSpec, history: History) -> io::Result<Cluster> {
        let mut servers = Vec::with_capacity(spec.servers);
        for _ in 0..spec.servers {
            servers.push(RedisServer::start(spec.persistence).await?);
        }
        let mut replicas = Vec::with_capacity(spec.replicas);
        for r in 0..spec.replicas {
            replicas.push(start_replica(&servers[0], if r == spec.promoted { 10 } else { 100 }).await?);
        }
        // Three Redis Sentinels watch node 0 and carry out its failover, as deployed.
        let sentinels = match spec.replicas > 0 {
            true => Some(Sentinels::start(servers[0].addr(), spec.replicas).await?),
            false => None,
        };
        let mut links = Vec::with_capacity(spec.clients);
        for client in 0..spec.clients {
            let mut row = Vec::with_capacity(spec.servers);
            for (node, server) in servers.iter().enumerate() {
                let link = Link::open(format!("client {client} -> node {node}"), server.addr(), Framing::Resp, spec.connect_wait).await?;
                link.set_flow(Direction::ToServer, spec.flow);
                link.set_flow(Direction::ToClient, spec.flow);
                row.push(link);
            }
            links.push(row);
        }
        history.record(Event::Setup { nodes: spec.servers as u32 });
        Ok(Cluster { servers, replicas, sentinels, links, history })
    }

    /// The URLs through which `client` reaches every node.
    pub fn urls(&self, client: usize) -> Vec<String> {
        self.links[client].iter().map(Link::url).collect()
    }

    /// Every client's link to `node`.
    pub fn links_to(&self, node: usize) -> impl Iterator<Item = &Link> {
        self.links.iter().map(move |row| &row[node])
    }

    pub fn server(&self, node: usize) -> &RedisServer {
        &self.servers[node]
    }

    fn record(&self, event: Event) {
        self.history.record(event);
    }

    /// The node evicts the lock key before its expiry. Emulated: the key is deleted from outside,
    /// which is what an eviction is to a lock (Redis's own evictions need memory pressure, which
    /// a replay cannot time; the conformance tests show a real one). The history records the
    /// key's loss with its owner, the client whose `SET` the node accepted last.
    pub async fn evict(&self, node: usize) -> Result<(), String> {
        let owner = self.history.records().iter().rev().find_map(|r| match r.event {
            Event::KeySet { node: n, owner, .. } if n.0 as usize == node => Some(owner),
            _ => None,
        });
        let mut conn = self.servers[node].connect().await.map_err(|e| e.to_string())?;
        let deleted: i64 = redis::cmd("DEL").arg(self.history.resource()).query_async(&mut conn).await.map_err(|e| e.to_string())?;
        if let (1, Some(owner)) = (deleted, owner) {
            self.record(Event::KeyLost { node: NodeId(node as u32), owner });
        }
        Ok(())
    }

    /// The node's clock jumps forward by `by` (emulated: see [`clock_jump`]).
    pub async fn clock_jump(&self, node: usize, by: Duration) -> redis::RedisResult<()> {
        let mut conn = self.servers[node].connect().await?;
        self.record(Event::Fault { fault: Fault::ClockJump { node: NodeId(node as u32), by_ms: by.as_millis() as i64 } });
        clock_jump::jump_forward(&mut conn, by).await.map(|_| ())
    }

    /// How long `key` has left to live on `node` (`None`: it is gone, or never expires).
    pub async fn key_ttl(&self, node: usize, key: &str) -> redis::RedisResult<Option<Duration>> {
        let left: i64 = redis::cmd("PTTL").arg(key).query_async(&mut self.servers[node].connect().await?).await?;
        Ok((left > 0).then(|| Duration::from_millis(left as u64)))
    }

    /// Waits up to `within` until `key` is gone from `node`.
    pub async fn wait_key_gone(&self, node: usize, key: &str, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let mut conn = self.servers[node].connect().await.map_err(|e| e.to_string())?;
        loop {
            let exists: i64 = redis::cmd("EXISTS").arg(key).query_async(&mut conn).await.map_err(|e| e.to_string())?;
            if exists == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("the key {key:?} is still on node {node} after {within:?}"));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Holds back replication to node 0's replicas: each stream waits in its link.
    pub fn stall_replication(&self) {
        for replica in &self.replicas {
            replica.link.set_flow(Direction::ToClient, Flow::Hold);
        }
    }

    /// Lets replica `r` of node 0 catch up with the primary, then holds its replication back
    /// again. After a failover the remaining replicas replicate from the new primary directly
    /// (Sentinel points them at it): this waits until `r` has caught up with it.
    pub async fn replicate(&self, r: usize) -> Result<(), String> {
        let Some(replica) = self.replicas.get(r) else { return Err(format!("node 0 has no replica {r}")) };
        replica.link.set_flow(Direction::ToClient, Flow::Pass);
        let caught_up = wait_caught_up(&self.servers[0], &replica.server).await;
        replica.link.set_flow(Direction::ToClient, Flow::Hold);
        caught_up
    }

    /// The primary of `node` (0) dies and the sentinels, once they see it gone, promote its
    /// replica `r` before it has what replication held back; every client's link to the node now
    /// leads to the new primary.
    pub async fn failover(&mut self, node: usize, r: usize) -> Result<(), String> {
        if node != 0 {
            return Err(format!("only node 0 has replicas, not node {node}"));
        }
        if r >= self.replicas.len() {
            return Err(format!("node 0 has no replica {r}"));
        }
        let Replica { mut server, link } = self.replicas.remove(r);
        let old = self.servers[0].addr();
        self.servers[0].kill();
        drop(link);
        let sentinels = self.sentinels.as_ref().ok_or("node 0 has no sentinels")?;
        let new = sentinels.failed_over(old, Duration::from_secs(30)).await?;
        if new != server.addr() {
            return Err(format!("the sentinels promoted {new}, not replica {r} ({})", server.addr()));
        }
        server.promoted();
        // As in the model, the remaining replicas are the new primary's when the failover ends:
        // the sentinels point them at it; they have synced with it before anything goes on.
        for replica in &self.replicas {
            wait_following(&replica.server, server.addr()).await?;
        }
        for l in self.links_to(0) {
            l.set_upstream(server.addr());
        }
        self.servers[0] = server;
        self.record(Event::Fault { fault: Fault::Failover { node: NodeId(0) } });
        Ok(())
    }
}

impl LockServers for Cluster {
    fn nodes(&self) -> usize {
        self.servers.len()
    }

    fn link(&self, client: usize, node: usize) -> &Link {
        &self.links[client][node]
    }

    /// SIGSTOP: the node keeps its connections and answers nothing.
    fn pause_server(&self, node: usize) -> io::Result<()> {
        self.servers[node].pause()?;
        self.record(Event::NodeDown { node: NodeId(node as u32) });
        Ok(())
    }

    /// SIGCONT: it answers again, everything that waited first.
    fn resume_server(&self, node: usize) -> io::Result<()> {
        self.servers[node].resume()?;
        self.record(Event::NodeUp { node: NodeId(node as u32) });
        Ok(())
    }

    /// SIGKILL: the node is down, with whatever its persistence kept.
    fn crash(&mut self, node: usize) {
        let persisted = self.servers[node].persistence() == Persistence::AofAlways;
        self.servers[node].kill();
        self.record(Event::Fault { fault: Fault::Crash { node: NodeId(node as u32), persisted } });
        self.record(Event::NodeDown { node: NodeId(node as u32) });
    }

    /// Starts a crashed node again, on its port, from its directory.
    async fn restart(&mut self, node: usize) -> io::Result<()> {
        self.servers[node].restart().await?;
        self.record(Event::NodeUp { node: NodeId(node as u32) });
        Ok(())
    }

    fn is_up(&self, node: usize) -> bool {
        self.servers[node].is_running()
    }

    fn redis(&mut self) -> Option<&mut Cluster> {
        Some(self)
    }
}

async fn start_replica(primary: &RedisServer, priority: u32) -> io::Result<Replica> {
    let link = Link::open("replication of node 0", primary.addr(), Framing::Raw, Duration::ZERO).await?;
    let server = RedisServer::start_replica(link.addr()).await?;
    let mut conn = server.connect().await.map_err(io::Error::other)?;
    redis::cmd("CONFIG").arg("SET").arg("replica-priority").arg(priority).exec_async(&mut conn).await.map_err(io::Error::other)?;
    let deadline = Instant::now() + REPLICA_SYNC_WITHIN;
    loop {
        let status = server.replication_field("master_link_status").await.map_err(io::Error::other)?;
        if status.as_deref() == Some("up") {
            return Ok(Replica { server, link });
        }
        if Instant::now() >= deadline {
            return Err(io::Error::other("the replica did not sync with its primary"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn replication_offset(server: &RedisServer) -> Result<u64, String> {
    server
        .replication_field("master_repl_offset")
        .await
        .map_err(|e| e.to_string())?
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "no master_repl_offset".to_string())
}

/// Waits until `replica` replicates from `primary`, with its link up.
async fn wait_following(replica: &RedisServer, primary: std::net::SocketAddr) -> Result<(), String> {
    let deadline = Instant::now() + REPLICA_SYNC_WITHIN * 3;
    loop {
        let field = |name: &'static str| async move { replica.replication_field(name).await.ok().flatten() };
        let port = field("master_port").await;
        if port == Some(primary.port().to_string()) && field("master_link_status").await.as_deref() == Some("up") {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("a replica did not follow the new primary {primary} within {:?}", REPLICA_SYNC_WITHIN * 3));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the replica has processed everything the primary has written.
async fn wait_caught_up(primary: &RedisServer, replica: &RedisServer) -> Result<(), String> {
    let target = replication_offset(primary).await?;
    let deadline = Instant::now() + REPLICA_SYNC_WITHIN;
    while replication_offset(replica).await? < target {
        if Instant::now() >= deadline {
            return Err("the replica did not catch up".into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}
