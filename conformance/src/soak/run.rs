//! One soak run: its servers, links and clients, its fault schedule, and its history judged.

use super::config::{FaultKind, LockService, RegisterChoice, RunConfig, Workload};
use super::faults::Injector;
use super::losses::{self, Losses};
use super::verdicts::{standing, validation_scenario, Standing, Verdicts};
use super::workload::{self, ClientSpec};
use crate::client_thread::{ClientThread, PauseGate};
use crate::cluster::{Cluster, ClusterSpec, LockServers};
use crate::ensemble::{EnsembleServers, EtcdServers};
use crate::history::{audit, History};
use crate::postgres::Postgres;
use crate::postgres_links::PostgresLinks;
use crate::proxy::Flow;
use crate::redis_server::RedisServer;
use crate::registers::{ApplyGap, RegisterSpec};
use crate::zookeeper::ZooKeeper;
use redlock_client::event::{Event, Fault, Record};
use redlock_client::history::Finding;
use redlock_client::judge::Invariant;
use redlock_model::validate::{validate, Validation};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What every run of a soak shares: the resource servers and the model's verdicts.
pub struct Shared {
    /// Holds the runs' registers (a key each); never faulted.
    pub resource: RedisServer,
    /// PostgreSQL for the `PostgresFenced` registers and the advisory-lock runs.
    pub postgres: Option<Postgres>,
    pub verdicts: Verdicts,
}

/// The table of the `PostgresFenced` registers (a row per run).
pub const POSTGRES_TABLE: &str = "soak_registers";

/// What one run did and found.
pub struct RunOutcome {
    pub config: RunConfig,
    /// The faults that struck (a planned fault may find nothing to hit).
    pub struck: Vec<&'static str>,
    pub standing: Standing,
    /// The judge's first violation of each property.
    pub findings: Vec<Finding>,
    /// For `with_lock` runs.
    pub losses: Option<Losses>,
    /// The harness could not run it as planned.
    pub error: Option<String>,
    pub seconds: f64,
    pub records: Vec<Record>,
    /// Whether the model can produce the history (trace validation).
    pub validation: Option<Validation>,
    /// What validating took.
    pub validation_seconds: f64,
}

impl RunOutcome {
    /// Each violated property the run is held to, and whether the model calls it unsafe here.
    pub fn violations(&self) -> impl Iterator<Item = (Invariant, bool)> + '_ {
        self.findings
            .iter()
            .filter(|f| !self.standing.not_judged.contains(&f.property))
            .map(|f| (f.property, self.standing.is_unsafe(f.property)))
    }

    /// Something a correct client on a configuration the model calls safe must never show.
    pub fn unexpected(&self) -> bool {
        self.error.is_some()
            || self.violations().any(|(_, unsafe_here)| !unsafe_here)
            || self.losses.as_ref().is_some_and(|l| !l.unreported.is_empty())
    }
}

/// How long clients may take to finish their last lock after the run's end.
fn grace(config: &RunConfig) -> Duration {
    Duration::from_millis(4 * config.ttl_ms) + Duration::from_secs(1)
}

/// Runs one configuration.
/// With `validate`, its history is validated against the model within that many states.
pub async fn run(config: RunConfig, shared: &Shared, validate_states: Option<u64>) -> RunOutcome {
    let started = Instant::now();
    let history = History::new("soak-lock");
    let mut outcome = RunOutcome {
        config: config.clone(),
        struck: Vec::new(),
        standing: Standing::default(),
        findings: Vec::new(),
        losses: None,
        error: None,
        seconds: 0.0,
        records: Vec::new(),
        validation: None,
        validation_seconds: 0.0,
    };
    let result = drive(&config, shared, &history).await;
    outcome.records = history.records();
    let struck = match result {
        Ok(struck) => struck,
        Err(e) => {
            outcome.error = Some(e);
            Vec::new()
        }
    };
    let struck = with_client_faults(&config, struck, &outcome.records);
    outcome.struck = struck.iter().map(|f| config.fault_name(f)).collect();
    if config.slow_resource() {
        outcome.struck.push("resource_delay");
    }
    match standing(&config, &struck, &shared.verdicts) {
        Ok(s) => outcome.standing = s,
        Err(e) => outcome.error = Some(e),
    }
    outcome.findings = audit(&outcome.records).findings;
    if config.workload == Workload::Holds {
        outcome.losses = Some(losses::account(&outcome.records, config.extend_interval_ms() * 1_000_000));
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    if let Some(states) = validate_states {
        let validating = Instant::now();
        match validate(&outcome.records, Some(validation_scenario(&config)), states) {
            Ok(v) => outcome.validation = Some(v),
            Err(e) => outcome.error = Some(format!("validating the history: {e}")),
        }
        outcome.validation_seconds = validating.elapsed().as_secs_f64();
    }
    outcome
}

/// Starts the run's parts, runs the clients and the fault schedule, and stops everything.
async fn drive(config: &RunConfig, shared: &Shared, history: &History) -> Result<Vec<FaultKind>, String> {
    match config.service {
        LockService::Redis => {
            let spec = ClusterSpec {
                servers: config.servers,
                clients: config.clients,
                persistence: config.persistence,
                replicas: usize::from(config.replica()),
                promoted: 0,
                // Three real Sentinels carry out a failover (see `config::SENTINEL_TTL_MS`).
                flow: Flow::Pass,
                // A crashed server refuses connections at once, as a real one does.
                connect_wait: Duration::ZERO,
            };
            let mut cluster = Cluster::start(spec, history.clone()).await.map_err(|e| format!("starting the servers: {e}"))?;
            let urls = (0..config.clients).map(|c| cluster.urls(c)).collect();
            drive_on(&mut cluster, urls, config, shared, history).await
        }
        LockService::Etcd => {
            let mut members = EtcdServers::start_etcd(config.servers, config.clients, history.clone())
                .await
                .map_err(|e| format!("starting the etcd members: {e}"))?;
            let urls = (0..config.clients).map(|c| members.urls(c)).collect();
            drive_on(&mut members, urls, config, shared, history).await
        }
        LockService::ZooKeeper => {
            let size = config.servers;
            let mut servers = EnsembleServers::start(move || ZooKeeper::start(size), config.clients, history.clone())
                .await
                .map_err(|e| format!("starting the ZooKeeper servers: {e}"))?;
            let addrs = (0..config.clients).map(|c| servers.addrs(c)).collect();
            drive_on(&mut servers, addrs, config, shared, history).await
        }
        LockService::Postgres => {
            let postgres = shared.postgres.as_ref().ok_or("no PostgreSQL server for the soak")?;
            let client = postgres.connect().await.map_err(|e| format!("PostgreSQL: {e}"))?;
            client
                .batch_execute(&format!("CREATE SEQUENCE {}", config.postgres_sequence()))
                .await
                .map_err(|e| format!("PostgreSQL: {e}"))?;
            let mut links = PostgresLinks::open(postgres.addr(), config.clients).await.map_err(|e| format!("the proxy: {e}"))?;
            let strings = (0..config.clients).map(|c| vec![links.connection_string(c)]).collect();
            drive_on(&mut links, strings, config, shared, history).await
        }
    }
}

/// Runs the clients (client `c` reaching the servers at `urls[c]`) and the fault schedule.
async fn drive_on<S: LockServers>(
    servers: &mut S,
    urls: Vec<Vec<String>>,
    config: &RunConfig,
    shared: &Shared,
    history: &History,
) -> Result<Vec<FaultKind>, String> {
    let gates: Vec<Arc<PauseGate>> =
        (0..config.clients).map(|c| PauseGate::new(redlock_client::event::ClientId(c as u32), history.clone())).collect();
    let register = register_spec(config, shared);
    let start = Instant::now();
    let until = start + Duration::from_millis(config.duration_ms);
    let mut threads = Vec::with_capacity(config.clients);
    for ((id, gate), urls) in gates.iter().enumerate().zip(urls) {
        let spec = ClientSpec {
            id,
            urls,
            config: config.clone(),
            history: history.clone(),
            gate: gate.clone(),
            register: register.clone(),
            until,
        };
        threads.push(workload::start(spec).map_err(|e| format!("starting client {id}: {e}"))?);
    }
    let injector = Injector { cluster: servers, history, gates: &gates, config };
    let struck = injector.run(start, until).await;
    // Pauses armed but not taken are off; the clients finish their last lock.
    for gate in &gates {
        gate.resume();
    }
    let finished = join_all(threads, until + grace(config)).await;
    let struck = struck?;
    if !finished {
        return Err("a client did not finish within its grace period".into());
    }
    Ok(struck)
}

/// Waits for every client thread, up to `deadline`.
async fn join_all(threads: Vec<ClientThread>, deadline: Instant) -> bool {
    while threads.iter().any(|t| !t.is_finished()) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    threads.into_iter().all(|t| t.join(Duration::ZERO))
}

/// The register of a `Writes` run, on the shared resource servers, fresh for the run.
fn register_spec(config: &RunConfig, shared: &Shared) -> Option<RegisterSpec> {
    let Workload::Writes { register } = config.workload else { return None };
    let key = format!("register:{}:{}", config.seed, config.run);
    let url = shared.resource.url();
    Some(match register {
        RegisterChoice::Unfenced => RegisterSpec::Unfenced { url, key },
        RegisterChoice::CheckThenWrite { gap_ms } => {
            RegisterSpec::CheckThenWrite { url, key, gap: ApplyGap::Sleep(Duration::from_millis(gap_ms)) }
        }
        RegisterChoice::FencedRedis => RegisterSpec::Redis { url, key },
        RegisterChoice::FencedPostgres => {
            let postgres = shared.postgres.as_ref()?;
            RegisterSpec::Postgres { config: postgres.connection_string(), table: POSTGRES_TABLE.into(), id: key }
        }
    })
}

/// The faults the clients took themselves, as their records show: a pause taken, a crash
/// between SETNX and PEXPIRE.
fn with_client_faults(config: &RunConfig, mut struck: Vec<FaultKind>, records: &[Record]) -> Vec<FaultKind> {
    for planned in &config.faults {
        let taken = match planned.fault {
            FaultKind::ClientPause { client, .. } => records
                .iter()
                .any(|r| matches!(r.event, Event::Fault { fault: Fault::ClientPaused { client: c } } if c.0 as usize == client)),
            FaultKind::ClientCrash { client } => {
                records.iter().any(|r| matches!(r.event, Event::ClientCrashed { client: c } if c.0 as usize == client))
            }
            _ => false,
        };
        if taken {
            struck.push(planned.fault);
        }
    }
    struck
}
