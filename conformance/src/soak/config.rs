//! One soak run's configuration and fault schedule, drawn from the run's seed: the same seed
//! and run number always give the same run (the machine's timing is all that varies).

use crate::pitfall::Pitfall;
use crate::redis_server::Persistence;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// What the clients of a run do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Workload {
    /// The shipped client's `with_lock`, extending in the background, with nothing to write:
    /// the runs whose lost-lock reports are checked.
    Holds,
    /// The shipped client's guards, like the model's pause scenarios: acquire, read the
    /// register, check the validity left, write, release.
    Writes { register: RegisterChoice },
    /// A pitfall client (single node).
    Pitfall { pitfall: Pitfall },
}

/// The register a `Writes` run protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RegisterChoice {
    Unfenced,
    /// Checks, then writes `gap_ms` later.
    CheckThenWrite {
        gap_ms: u64,
    },
    /// The crate's atomic adapters.
    FencedRedis,
    FencedPostgres,
}

impl RegisterChoice {
    pub fn fenced_atomically(self) -> bool {
        matches!(self, RegisterChoice::FencedRedis | RegisterChoice::FencedPostgres)
    }
}

/// The lock service a run's clients use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LockService {
    /// The crate's Redlock client on `servers` independent redis-servers.
    Redis,
    /// The crate's etcd lock on an etcd cluster of `servers` members.
    Etcd,
    /// ZooKeeper's lock recipe (the harness's `zookeeper_lock`) on an ensemble of `servers`.
    #[serde(rename = "zookeeper")]
    #[value(name = "zookeeper")]
    ZooKeeper,
    /// PostgreSQL's session-level advisory lock (the harness's `postgres_lock`) on one server.
    Postgres,
}

impl LockService {
    pub fn name(self) -> &'static str {
        match self {
            LockService::Redis => "redis",
            LockService::Etcd => "etcd",
            LockService::ZooKeeper => "zookeeper",
            LockService::Postgres => "postgres",
        }
    }
}

/// A node to hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Node(usize),
    /// A node where the latest holder set its key (chosen when the fault strikes).
    Holders,
    /// The server that leads the replicated store (etcd, ZooKeeper) when the fault strikes.
    Leader,
}

/// When a fault strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// This long after the run starts.
    AtMs(u64),
    /// Right after the run's `n`th grant (1-based), or not at all if there are fewer.
    AfterGrant(usize),
}

/// A fault and its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultKind {
    /// SIGSTOP, SIGCONT `ms` later.
    ServerPause { node: Target, ms: u64 },
    /// SIGKILL; restart at once, or `restart_after_ms` later (longer than the TTL).
    Crash { node: Target, restart_after_ms: Option<u64> },
    /// The node's clock jumps forward (emulated).
    ClockJump { node: Target, by_ms: u64 },
    /// The client's thread blocks at its next pause point for `ms`.
    ClientPause { client: usize, ms: u64 },
    /// Messages between a client and a node wait `ms` each, for `for_ms`.
    NetDelay { client: usize, node: usize, ms: u64, for_ms: u64 },
    /// The connection between a client and a node is lost (reset), with what is in flight.
    NetDrop { client: usize, node: usize },
    /// One direction between a client and a node loses everything for `for_ms`.
    OneWayLoss { client: usize, node: usize, to_server: bool, for_ms: u64 },
    /// Replication to node 0's replica is held back from now on; right after the next grant
    /// the primary dies and the replica is promoted.
    Failover,
    /// A pitfall client dies between `SETNX` and `PEXPIRE` at its next grant.
    ClientCrash { client: usize },
    /// The node evicts the lock key before its expiry (emulated: `DEL` from outside).
    Evict { node: Target },
}

/// A fault of the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedFault {
    pub trigger: Trigger,
    pub fault: FaultKind,
}

/// The kinds of fault, as the summary counts them.
pub const FAULT_KINDS: &[&str] = &[
    "server_pause",
    "crash_restart_empty",
    "crash_restart_aof",
    "crash_delayed_restart",
    "clock_jump_within_drift",
    "clock_jump_beyond_drift",
    "client_pause",
    "net_delay",
    "net_drop",
    "one_way_loss",
    "failover",
    "client_crash",
    "eviction",
    "resource_delay",
    "member_pause",
    "member_kill_restart",
];

/// The share of runs on etcd: one in this many.
const ETCD_ONE_IN: u64 = 8;

/// etcd's leases are whole seconds: the etcd runs' TTL.
pub const ETCD_TTL_MS: u64 = 1000;

/// The share of the other runs on ZooKeeper: one in this many.
const ZOOKEEPER_ONE_IN: u64 = 10;

/// The ZooKeeper runs' session timeout (their `ttl_ms`): the ensemble's tick is 100 ms.
pub const ZOOKEEPER_SESSION_MS: u64 = 1000;

/// The share of the remaining runs on PostgreSQL's advisory lock: one in this many.
const POSTGRES_ONE_IN: u64 = 12;

/// The PostgreSQL runs' time scale (their `ttl_ms`: a session lock has no TTL): client pauses of
/// one to two of it, acquires that wait up to two.
pub const POSTGRES_SCALE_MS: u64 = 1000;

/// One run.
#[derive(Clone, Debug, Serialize)]
pub struct RunConfig {
    pub seed: u64,
    pub run: u64,
    pub service: LockService,
    /// Redis nodes, etcd members or ZooKeeper servers.
    pub servers: usize,
    pub clients: usize,
    pub ttl_ms: u64,
    pub persistence: Persistence,
    pub workload: Workload,
    pub duration_ms: u64,
    pub faults: Vec<PlannedFault>,
}

impl RunConfig {
    /// The drift allowance of the client's defaults (1% of the TTL + 2 ms).
    pub fn drift_ms(&self) -> u64 {
        self.ttl_ms.div_ceil(100) + 2
    }

    /// The extension interval of the client's defaults (TTL/3).
    pub fn extend_interval_ms(&self) -> u64 {
        self.ttl_ms / 3
    }

    /// A replica is needed (a failover is scheduled).
    pub fn replica(&self) -> bool {
        self.faults.iter().any(|f| f.fault == FaultKind::Failover)
    }

    /// The name under which the summary counts a fault.
    pub fn fault_name(&self, fault: &FaultKind) -> &'static str {
        match *fault {
            FaultKind::ServerPause { .. } if self.service != LockService::Redis => "member_pause",
            FaultKind::Crash { .. } if self.service != LockService::Redis => "member_kill_restart",
            FaultKind::ServerPause { .. } => "server_pause",
            FaultKind::Crash { restart_after_ms: Some(_), .. } => "crash_delayed_restart",
            FaultKind::Crash { .. } if self.persistence == Persistence::AofAlways => "crash_restart_aof",
            FaultKind::Crash { .. } => "crash_restart_empty",
            FaultKind::ClockJump { by_ms, .. } if by_ms <= self.drift_ms() / 2 => "clock_jump_within_drift",
            FaultKind::ClockJump { .. } => "clock_jump_beyond_drift",
            FaultKind::ClientPause { .. } => "client_pause",
            FaultKind::NetDelay { .. } => "net_delay",
            FaultKind::NetDrop { .. } => "net_drop",
            FaultKind::OneWayLoss { .. } => "one_way_loss",
            FaultKind::Failover => "failover",
            FaultKind::ClientCrash { .. } => "client_crash",
            FaultKind::Evict { .. } => "eviction",
        }
    }

    /// A PostgreSQL run's advisory lock key: its run number (the runs share the server).
    pub fn postgres_key(&self) -> i64 {
        i64::try_from(self.run).unwrap_or(i64::MAX)
    }

    /// The sequence a PostgreSQL run's tokens come from, fresh for the run.
    pub fn postgres_sequence(&self) -> String {
        format!("fence_{}_{}", self.seed, self.run)
    }

    /// A check-then-write register whose second step comes late (beyond any delay bound).
    pub fn slow_resource(&self) -> bool {
        matches!(self.workload, Workload::Writes { register: RegisterChoice::CheckThenWrite { gap_ms } } if gap_ms > 1)
    }
}

/// The seed of run `run` of a soak seeded with `seed`.
pub fn run_seed(seed: u64, run: u64) -> u64 {
    // SplitMix64's mixer: neighbouring runs get unrelated streams.
    let mut z = seed ^ run.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Draws run `run` of a soak seeded with `seed`.
pub fn draw(seed: u64, run: u64) -> RunConfig {
    let mut rng = StdRng::seed_from_u64(run_seed(seed, run));
    // Decided apart from the stream, so the Redis runs are what they were before etcd came.
    if run_seed(seed, run).rotate_left(29).is_multiple_of(ETCD_ONE_IN) {
        return draw_store(LockService::Etcd, seed, run, &mut rng);
    }
    if run_seed(seed, run).rotate_left(43).is_multiple_of(ZOOKEEPER_ONE_IN) {
        return draw_store(LockService::ZooKeeper, seed, run, &mut rng);
    }
    if run_seed(seed, run).rotate_left(53).is_multiple_of(POSTGRES_ONE_IN) {
        return draw_store(LockService::Postgres, seed, run, &mut rng);
    }
    let servers = *[1, 1, 3, 3, 5].choose(&mut rng).expect("not empty");
    let clients = rng.gen_range(2..=8);
    let ttl_ms = *[100, 150, 200, 300].choose(&mut rng).expect("not empty");
    let persistence = if rng.gen_bool(0.6) { Persistence::None } else { Persistence::AofAlways };
    let workload = match (servers, rng.gen_range(0..20)) {
        (1, 0..=5) => Workload::Holds,
        (1, 6..=14) => Workload::Writes {
            register: match rng.gen_range(0..4) {
                0 => RegisterChoice::Unfenced,
                1 => RegisterChoice::CheckThenWrite { gap_ms: if rng.gen_bool(0.5) { 0 } else { rng.gen_range(ttl_ms / 2..=2 * ttl_ms) } },
                2 => RegisterChoice::FencedRedis,
                _ => RegisterChoice::FencedPostgres,
            },
        },
        (1, _) => Workload::Pitfall {
            pitfall: *[Pitfall::PlainDel, Pitfall::GetThenDel, Pitfall::SetnxThenExpire].choose(&mut rng).expect("not empty"),
        },
        _ => Workload::Holds,
    };
    let duration_ms = rng.gen_range(500..=800);
    let mut config = RunConfig {
        seed,
        run,
        service: LockService::Redis,
        servers,
        clients,
        ttl_ms,
        persistence,
        workload,
        duration_ms,
        faults: Vec::new(),
    };
    let count = *[0, 1, 1, 2, 2, 3].choose(&mut rng).expect("not empty");
    for _ in 0..count {
        if let Some(fault) = draw_fault(&config, &mut rng) {
            config.faults.push(fault);
        }
    }
    if config.replica() {
        // Three real Sentinels carry out the failover: they take 2-3 s, so the holder's TTL must
        // outlast them for the lost key to matter, and the run must go on after them. The other
        // faults keep the sizes drawn with the shorter TTL: a server pause stays under the
        // sentinels' 1 s, so only the planned failover is theirs.
        config.ttl_ms = SENTINEL_TTL_MS;
        config.duration_ms = 2 * SENTINEL_TTL_MS;
    }
    config
}

/// The TTL of a run whose failover three real Sentinels carry out.
pub const SENTINEL_TTL_MS: u64 = 4000;

fn draw_fault(config: &RunConfig, rng: &mut StdRng) -> Option<PlannedFault> {
    let ttl = config.ttl_ms;
    let node = |rng: &mut StdRng| if rng.gen_bool(0.6) { Target::Holders } else { Target::Node(rng.gen_range(0..config.servers)) };
    let client = |rng: &mut StdRng| rng.gen_range(0..config.clients);
    let link_node = |rng: &mut StdRng| rng.gen_range(0..config.servers);
    let at = |rng: &mut StdRng| Trigger::AtMs(rng.gen_range(50..=config.duration_ms * 7 / 10));
    let soon_or_after_grant = |rng: &mut StdRng| if rng.gen_bool(0.5) { Trigger::AfterGrant(rng.gen_range(1..=3)) } else { at(rng) };
    let pitfall = matches!(config.workload, Workload::Pitfall { .. });
    let (trigger, fault) = match rng.gen_range(0..10) {
        0 => (soon_or_after_grant(rng), FaultKind::ServerPause { node: node(rng), ms: rng.gen_range(20..=2 * ttl) }),
        1 => {
            let restart_after_ms = rng.gen_bool(0.35).then(|| ttl + rng.gen_range(20..=100));
            (soon_or_after_grant(rng), FaultKind::Crash { node: node(rng), restart_after_ms })
        }
        2 => {
            let by_ms =
                if rng.gen_bool(0.4) { rng.gen_range(1..=(config.drift_ms() / 2).max(1)) } else { rng.gen_range(ttl / 2..=2 * ttl) };
            (soon_or_after_grant(rng), FaultKind::ClockJump { node: node(rng), by_ms })
        }
        3 if !pitfall => (at(rng), FaultKind::ClientPause { client: client(rng), ms: rng.gen_range(ttl..=3 * ttl) }),
        4 => (
            at(rng),
            FaultKind::NetDelay {
                client: client(rng),
                node: link_node(rng),
                ms: rng.gen_range(5..=ttl / 2),
                for_ms: rng.gen_range(100..=400),
            },
        ),
        5 => (at(rng), FaultKind::NetDrop { client: client(rng), node: link_node(rng) }),
        6 => (
            at(rng),
            FaultKind::OneWayLoss {
                client: client(rng),
                node: link_node(rng),
                to_server: rng.gen_bool(0.5),
                for_ms: rng.gen_range(50..=300),
            },
        ),
        7 if config.servers == 1 && !config.replica() => (at(rng), FaultKind::Failover),
        8 if config.workload == (Workload::Pitfall { pitfall: Pitfall::SetnxThenExpire }) => {
            (Trigger::AtMs(0), FaultKind::ClientCrash { client: client(rng) })
        }
        9 if !pitfall => (soon_or_after_grant(rng), FaultKind::Evict { node: node(rng) }),
        _ => return None,
    };
    Some(PlannedFault { trigger, fault })
}

/// A run on a store with no clock of the client's in its lock: the crate's etcd lock or
/// ZooKeeper's recipe on 1 or 3 servers, or PostgreSQL's advisory lock on one; `with_lock`
/// (etcd) or writes to a register (unfenced, or fenced by the key's create revision, the node's
/// zxid or a sequence), with client pauses (past the TTL or session timeout), server pauses and
/// kills (the leader or any server; on PostgreSQL, whose sessions end with their connections,
/// a dropped connection instead), and faults on the clients' links to the servers.
fn draw_store(service: LockService, seed: u64, run: u64, rng: &mut StdRng) -> RunConfig {
    let drawn = *[1, 3, 3].choose(rng).expect("not empty");
    let servers = if service == LockService::Postgres { 1 } else { drawn };
    let workload = match (service, rng.gen_range(0..20)) {
        (LockService::Etcd, 0..=6) => Workload::Holds,
        (LockService::Etcd, 7..=11) | (_, 0..=9) => Workload::Writes { register: RegisterChoice::Unfenced },
        (_, 0..=15) => Workload::Writes { register: RegisterChoice::FencedRedis },
        _ => Workload::Writes { register: RegisterChoice::FencedPostgres },
    };
    let mut config = RunConfig {
        seed,
        run,
        service,
        servers,
        clients: rng.gen_range(2..=5),
        ttl_ms: match service {
            LockService::Etcd => ETCD_TTL_MS,
            LockService::Postgres => POSTGRES_SCALE_MS,
            _ => ZOOKEEPER_SESSION_MS,
        },
        // etcd and ZooKeeper write their log to disk before they answer: a killed server
        // restarts with everything.
        persistence: Persistence::AofAlways,
        workload,
        duration_ms: rng.gen_range(2000..=3000),
        faults: Vec::new(),
    };
    let ttl = config.ttl_ms;
    let count = *[0, 1, 1, 2, 2, 3].choose(rng).expect("not empty");
    for _ in 0..count {
        let member = |rng: &mut StdRng| if rng.gen_bool(0.5) { Target::Leader } else { Target::Node(rng.gen_range(0..servers)) };
        let at = Trigger::AtMs(rng.gen_range(100..=config.duration_ms * 7 / 10));
        let client = rng.gen_range(0..config.clients);
        let link_member = rng.gen_range(0..servers);
        let fault = match rng.gen_range(0..6) {
            0 => FaultKind::ClientPause { client, ms: rng.gen_range(ttl..=2 * ttl) },
            1 | 2 if service == LockService::Postgres => FaultKind::NetDrop { client, node: link_member },
            1 => FaultKind::ServerPause { node: member(rng), ms: rng.gen_range(50..=ttl * 3 / 2) },
            2 => FaultKind::Crash { node: member(rng), restart_after_ms: Some(rng.gen_range(0..=ttl)) },
            3 => FaultKind::NetDelay { client, node: link_member, ms: rng.gen_range(5..=ttl / 2), for_ms: rng.gen_range(100..=1000) },
            4 => FaultKind::NetDrop { client, node: link_member },
            _ => FaultKind::OneWayLoss { client, node: link_member, to_server: rng.gen_bool(0.5), for_ms: rng.gen_range(50..=600) },
        };
        config.faults.push(PlannedFault { trigger: at, fault });
    }
    config
}
