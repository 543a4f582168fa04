//! Whether the model calls a soak run's configuration safe or unsafe, property by property.
//!
//! A run is matched to the model's cells (scenario, timing) that describe it, and a property
//! is *unsafe* for the run when any matched cell that judges it says violated, *safe* when
//! every one says holds. The matching:
//!
//! | the run has | cells |
//! |---|---|
//! | the shipped client on 1 / 3 / 5 servers | `single-node` / `redlock-n3` / `redlock`, sync; and `single-node`, sync, for its per-node commands (owner-only release, acquirability) |
//! | a pitfall client | `single-plain-del`, `single-get-then-del`, `single-setnx-then-expire`, sync, checked by the model with 3 clients (see below) |
//! | a register | `pause-unfenced` (unfenced), `pause-fenced` (the crate's adapters), `fence-check-then-write`, sync |
//! | a server pause, a network delay, a dropped connection, a one-way loss | `redlock-slow-replies`, sync: clocks bounded, messages delayed without bound (a lost message is one delayed past the end) |
//! | a crash and restart: empty / AOF `appendfsync always` / empty after more than a TTL | `redlock-restart-no-fsync` / `redlock-fsync-restart` / `redlock-delayed-restart`, sync |
//! | a clock jump within half the drift allowance / beyond it | `redlock-clock-jump`, sync / async |
//! | a client pause (unbounded) | the register's cell, async |
//! | a check-then-write register whose write lands late | `fence-check-then-write`, async |
//! | a failover before replication | `failover-async-replica`, sync |
//! | a pitfall client's crash between SETNX and EXPIRE | `single-setnx-then-expire`, sync |
//! | an eviction of the lock key (emulated by a `DEL` from outside) | `single-eviction` / `redlock-eviction`, sync |
//! | the etcd lock, on 1 or 3 members, any member or link fault | `etcd-slow-replies`, sync: to a client of a linearizable store, a paused, killed or cut-off member is a late or lost reply |
//! | the etcd lock and a register: unfenced / fenced by the create revision | `etcd-lease` / `etcd-lease-revision`, sync; async with a client pause |
//! | ZooKeeper's recipe and a register: unfenced / fenced by the zxid, on 1 or 3 servers, any server or link fault | `zookeeper-session` / `zookeeper-session-zxid`, sync; async with a client pause |
//! | PostgreSQL's advisory lock and a register: unfenced / fenced by a sequence, any link fault | `postgres-advisory` / `postgres-advisory-fenced`, sync (a session's end is a fault of the sync model); async with a client pause |
//!
//! The model has no ZooKeeper cell with unbounded delays (its `zookeeper-session` keeps delays
//! exact): a ZooKeeper run with server or link faults is held to the sync cell, the claim of
//! `etcd-slow-replies` for the same reason (the recipe trusts its lock for a session timeout
//! from the sending of a request the server answered, and the server expires the session a
//! timeout after it last heard from the client), which these runs test. Mutual exclusion,
//! which the ZooKeeper cells do not judge, is held to that claim too: any violation is one where
//! the model calls the run safe.
//!
//! Two rules derive what the model's cells do not state alone:
//! - a register that does not check tokens atomically (unfenced, check-then-write) is only as
//!   safe as the lock: where mutual exclusion is unsafe, so are its ordered writes and updates;
//! - the crate's fencing counter lives on the lock server: a failover, or a restart without
//!   persistence, can hand out a token again; the crate's fence lets an equal token through
//!   only from the holder that set it, so the run stands where `fence-counter-restart-holder`
//!   stands (a repeated token opens nothing).
//!
//! Verdicts come from the scenario table's expectations, except where the table cannot speak
//! for the soak; those cells are checked by the model when the soak starts:
//! - the pitfall cells with 3 clients: the table's 2 clients acquire once each, and with a
//!   third (or a client that acquires again) a key deleted by its non-owner hands the lock to
//!   someone else while its holder still holds it (`check run single-plain-del --clients 3`);
//! - cells the table leaves to the model (`undecided`).

use super::config::{FaultKind, LockService, RegisterChoice, RunConfig, Workload};
use crate::pitfall::Pitfall;
use crate::redis_server::Persistence;
use redlock_client::judge::Invariant;
use redlock_model::check::{check, SearchOptions, Verdict};
use redlock_model::scenario::{find, Expected};
use redlock_model::setup::{Setup, Timing};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// Cells the model checks with this many clients, rather than the table's two.
const PITFALL_CLIENTS: u8 = 3;

/// A model cell.
pub type Cell = (&'static str, Timing);

/// The model's verdicts, cell by cell, computed on first use.
#[derive(Default)]
pub struct Verdicts {
    cells: Mutex<BTreeMap<Cell, BTreeMap<Invariant, bool>>>,
}

impl Verdicts {
    /// Whether the model finds `property` violated in `cell`; `None` if the cell does not
    /// judge it.
    pub fn violated(&self, cell: Cell, property: Invariant) -> Result<Option<bool>, String> {
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        let verdicts = match cells.entry(cell) {
            std::collections::btree_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::btree_map::Entry::Vacant(new) => new.insert(verdicts_of(cell)?),
        };
        Ok(verdicts.get(&property).copied())
    }
}

fn verdicts_of((name, timing): Cell) -> Result<BTreeMap<Invariant, bool>, String> {
    let scenario = find(name).ok_or_else(|| format!("the model has no scenario {name}"))?;
    let pitfall = name.starts_with("single-") && name != "single-node";
    let undecided = scenario.judged().iter().any(|p| scenario.expected(timing, *p) == Expected::Undecided);
    if !pitfall && !undecided {
        return Ok(scenario.judged().into_iter().map(|p| (p, scenario.expected(timing, p) == Expected::Violated)).collect());
    }
    let setup = Setup { clients: if pitfall { PITFALL_CLIENTS } else { 2 }, ..scenario.setup(timing) };
    let cell = check(scenario, setup, SearchOptions { threads: 1, ..SearchOptions::default() });
    cell.invariants
        .iter()
        .map(|r| match r.verdict {
            Verdict::Holds => Ok((r.invariant, false)),
            Verdict::Violated => Ok((r.invariant, true)),
            Verdict::Incomplete => Err(format!("the model could not decide {} in {name} ({timing})", r.invariant)),
        })
        .collect()
}

/// A run's standing before the model.
#[derive(Clone, Debug, Default)]
pub struct Standing {
    pub cells: Vec<Cell>,
    /// Properties the model finds violated in some matched cell (or derives so).
    pub unsafe_properties: BTreeSet<Invariant>,
    /// Properties the run is not held to: the judge's reading of them does not apply to its
    /// lock, and no matched cell judges them.
    pub not_judged: BTreeSet<Invariant>,
}

impl Standing {
    pub fn is_unsafe(&self, property: Invariant) -> bool {
        self.unsafe_properties.contains(&property)
    }
}

/// The cells that describe a run with the faults that actually struck.
pub fn cells(config: &RunConfig, struck: &[FaultKind]) -> Vec<Cell> {
    use Timing::{Async, Sync};
    if config.service != LockService::Redis {
        return store_cells(config, struck);
    }
    let mut cells = vec![("single-node", Sync)];
    match config.workload {
        Workload::Pitfall { pitfall } => cells.push((pitfall_scenario(pitfall), Sync)),
        _ => cells.push((
            match config.servers {
                1 => "single-node",
                3 => "redlock-n3",
                _ => "redlock",
            },
            Sync,
        )),
    }
    let register = match config.workload {
        Workload::Writes { register } => Some(register_scenario(register)),
        _ => None,
    };
    cells.extend(register.map(|r| (r, Sync)));
    if config.slow_resource() {
        cells.push(("fence-check-then-write", Async));
    }
    for fault in struck {
        match *fault {
            FaultKind::ServerPause { .. } | FaultKind::NetDelay { .. } | FaultKind::NetDrop { .. } | FaultKind::OneWayLoss { .. } => {
                cells.push(("redlock-slow-replies", Sync))
            }
            FaultKind::Crash { restart_after_ms: Some(_), .. } => cells.push(("redlock-delayed-restart", Sync)),
            FaultKind::Crash { .. } if config.persistence == Persistence::AofAlways => cells.push(("redlock-fsync-restart", Sync)),
            FaultKind::Crash { .. } => cells.push(("redlock-restart-no-fsync", Sync)),
            FaultKind::ClockJump { by_ms, .. } => {
                cells.push(("redlock-clock-jump", if by_ms <= config.drift_ms() / 2 { Sync } else { Async }))
            }
            FaultKind::ClientPause { .. } => cells.extend(register.map(|r| (r, Async))),
            FaultKind::Failover => cells.push(("failover-async-replica", Sync)),
            FaultKind::ClientCrash { .. } => cells.push(("single-setnx-then-expire", Sync)),
            FaultKind::Evict { .. } => cells.push((if config.servers == 1 { "single-eviction" } else { "redlock-eviction" }, Sync)),
        }
    }
    if let Workload::Writes { register } = config.workload {
        let counter_forgets = struck.iter().any(|f| match *f {
            FaultKind::Failover => true,
            FaultKind::Crash { restart_after_ms, .. } => restart_after_ms.is_some() || config.persistence == Persistence::None,
            _ => false,
        });
        if register.fenced_atomically() && counter_forgets {
            cells.push(("fence-counter-restart-holder", Sync));
        }
    }
    cells.sort();
    cells.dedup();
    cells
}

/// The cells of an etcd, ZooKeeper or PostgreSQL run. Member and link faults add none: `etcd-slow-replies`
/// (sync) lets every message take any time already, and ZooKeeper's runs are held to its claim
/// (see above).
fn store_cells(config: &RunConfig, struck: &[FaultKind]) -> Vec<Cell> {
    let register = match config.workload {
        Workload::Writes { .. } => Some(validation_scenario(config)),
        _ => None,
    };
    let mut cells = match config.service {
        LockService::Etcd => vec![("etcd-slow-replies", Timing::Sync)],
        _ => Vec::new(),
    };
    cells.extend(register.map(|r| (r, Timing::Sync)));
    if struck.iter().any(|f| matches!(f, FaultKind::ClientPause { .. })) {
        cells.extend(register.map(|r| (r, Timing::Async)));
    }
    cells.sort();
    cells
}

/// The scenario whose system a run's history is validated against (`check validate`): the
/// lock service, encoding and resource of the run; the model sizes it from the history.
pub fn validation_scenario(config: &RunConfig) -> &'static str {
    match (config.service, config.workload) {
        (LockService::Etcd, Workload::Writes { register }) if register.fenced_atomically() => "etcd-lease-revision",
        (LockService::Etcd, Workload::Writes { .. }) => "etcd-lease",
        (LockService::Etcd, _) => "etcd-slow-replies",
        (LockService::ZooKeeper, Workload::Writes { register }) if register.fenced_atomically() => "zookeeper-session-zxid",
        (LockService::ZooKeeper, _) => "zookeeper-session",
        (LockService::Postgres, Workload::Writes { register }) if register.fenced_atomically() => "postgres-advisory-fenced",
        (LockService::Postgres, _) => "postgres-advisory",
        (LockService::Redis, Workload::Pitfall { pitfall }) => pitfall_scenario(pitfall),
        // The crate's adapters: an equal token passes only from the holder that set the fence.
        (LockService::Redis, Workload::Writes { register }) if register.fenced_atomically() => "fence-counter-restart-holder",
        (LockService::Redis, Workload::Writes { register }) => register_scenario(register),
        (LockService::Redis, Workload::Holds) if config.replica() => "failover-async-replica",
        (LockService::Redis, Workload::Holds) => "redlock",
    }
}

fn pitfall_scenario(pitfall: Pitfall) -> &'static str {
    match pitfall {
        Pitfall::PlainDel => "single-plain-del",
        Pitfall::GetThenDel => "single-get-then-del",
        Pitfall::SetnxThenExpire => "single-setnx-then-expire",
    }
}

fn register_scenario(register: RegisterChoice) -> &'static str {
    match register {
        RegisterChoice::Unfenced => "pause-unfenced",
        RegisterChoice::CheckThenWrite { .. } => "fence-check-then-write",
        RegisterChoice::FencedRedis | RegisterChoice::FencedPostgres => "pause-fenced",
    }
}

/// Where the model stands on a run, property by property.
pub fn standing(config: &RunConfig, struck: &[FaultKind], verdicts: &Verdicts) -> Result<Standing, String> {
    let cells = cells(config, struck);
    let mut unsafe_properties = BTreeSet::new();
    for &cell in &cells {
        for property in Invariant::ALL {
            if verdicts.violated(cell, property)? == Some(true) {
                unsafe_properties.insert(property);
            }
        }
    }
    let lock_only_register =
        matches!(config.workload, Workload::Writes { register: RegisterChoice::Unfenced | RegisterChoice::CheckThenWrite { .. } });
    if lock_only_register && unsafe_properties.contains(&Invariant::MutualExclusion) {
        unsafe_properties.insert(Invariant::OrderedFencedWrites);
        unsafe_properties.insert(Invariant::NoLostUpdate);
    }
    // A session lock has no TTL, so between a release's start and the server's answer the judge
    // sees a key that never expires and no one holding it: its eventual acquirability (which the
    // PostgreSQL cells do not judge) is the server's ending of sessions, which it cannot see.
    let not_judged = match config.service {
        LockService::Postgres => BTreeSet::from([Invariant::EventuallyAcquirable]),
        _ => BTreeSet::new(),
    };
    Ok(Standing { cells, unsafe_properties, not_judged })
}
