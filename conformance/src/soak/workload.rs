//! What a soak run's clients do until the run's end, each on its own thread.

use super::config::{FaultKind, LockService, RunConfig, Workload};
use crate::client_thread::{ClientThread, PauseGate};
use crate::history::History;
use crate::pitfall::{Commands, PitfallClient, PitfallError};
use crate::postgres_lock::{PgAdvisoryLock, PgHeld};
use crate::registers::{Register, RegisterSpec};
use crate::zookeeper_lock::{ZkHeld, ZkLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redlock_client::etcd::{EtcdClient, EtcdGuard};
use redlock_client::event::ClientId;
use redlock_client::params::Params;
use redlock_client::{Client, Fencing};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One client of a run.
pub struct ClientSpec {
    pub id: usize,
    pub urls: Vec<String>,
    pub config: RunConfig,
    pub history: History,
    pub gate: Arc<PauseGate>,
    pub register: Option<RegisterSpec>,
    /// No new lock is taken after this.
    pub until: Instant,
}

impl ClientSpec {
    fn ttl(&self) -> Duration {
        Duration::from_millis(self.config.ttl_ms)
    }

    /// The client's timing: a node timeout of a tenth of the TTL, retries after a tenth to a
    /// quarter of it (the defaults' 50 ms and 100-300 ms would not fit such short TTLs).
    fn builder(&self) -> redlock_client::ClientBuilder {
        let ttl = self.ttl();
        Client::builder(self.urls.clone())
            .ttl(ttl)
            .node_timeout(ttl / 10)
            .retries(3)
            .retry_delay(ttl / 10..=ttl / 4)
            .client_id(ClientId(self.id as u32))
            .recorder(self.history.recorder())
            .pause_hook(self.gate.hook())
    }

    /// The etcd lock's timing: etcd's whole-second lease, its default per-request timeout (a
    /// fifth of the TTL), and acquires that wait up to two TTLs for a holder's key to go.
    fn etcd(&self) -> Result<EtcdClient, String> {
        EtcdClient::builder(self.urls.clone())
            .ttl(self.ttl())
            .acquire_timeout(2 * self.ttl())
            .client_id(ClientId(self.id as u32))
            .recorder(self.history.recorder())
            .pause_hook(self.gate.hook())
            .build()
            .map_err(|e| e.to_string())
    }

    fn rng(&self) -> StdRng {
        StdRng::seed_from_u64(super::config::run_seed(self.config.seed, self.config.run) ^ (self.id as u64 + 1))
    }
}

/// Starts the client's thread.
pub fn start(spec: ClientSpec) -> std::io::Result<ClientThread> {
    ClientThread::spawn(format!("soak client {}", spec.id), move || async move {
        match (spec.config.service, spec.config.workload) {
            (LockService::Redis, Workload::Holds) => holds(spec).await,
            (LockService::Redis, Workload::Writes { .. }) => writes(spec).await,
            (LockService::Redis, Workload::Pitfall { .. }) => pitfall(spec).await,
            (LockService::Etcd, Workload::Holds) => etcd_holds(spec).await,
            (LockService::Etcd, Workload::Writes { .. }) => etcd_writes(spec).await,
            (LockService::Etcd, Workload::Pitfall { .. }) => eprintln!("soak client {}: no pitfall client for etcd", spec.id),
            (LockService::ZooKeeper, Workload::Writes { .. }) => zookeeper_writes(spec).await,
            (LockService::ZooKeeper, _) => eprintln!("soak client {}: the ZooKeeper recipe runs writes only", spec.id),
            (LockService::Postgres, Workload::Writes { .. }) => postgres_writes(spec).await,
            (LockService::Postgres, _) => eprintln!("soak client {}: the advisory lock runs writes only", spec.id),
        }
    })
}

/// `with_lock` again and again, holding for up to two TTLs (so that extensions matter); the
/// work starts with a pause point (a GC pause strikes in user code too).
async fn holds(spec: ClientSpec) {
    let client = match spec.builder().build() {
        Ok(c) => c,
        Err(e) => return eprintln!("soak client {}: {e}", spec.id),
    };
    let lock = spec.history.lock();
    hold_loop(&spec, |gate, hold| {
        let client = &client;
        async move {
            let _ = client.with_lock(lock, |_lock| work(gate, hold)).await;
        }
    })
    .await
}

async fn etcd_holds(spec: ClientSpec) {
    let client = match spec.etcd() {
        Ok(c) => c,
        Err(e) => return eprintln!("soak client {}: {e}", spec.id),
    };
    let lock = spec.history.lock();
    hold_loop(&spec, |gate, hold| {
        let client = &client;
        async move {
            let _ = client.with_lock(lock, |_lock| work(gate, hold)).await;
        }
    })
    .await
}

/// The work under a `with_lock`: a pause point, then `hold`.
async fn work(gate: Arc<PauseGate>, hold: Duration) {
    gate.in_work();
    tokio::time::sleep(hold).await;
}

/// Holds the lock (`hold_once(gate, hold)`) again and again until the run's end, for up to two
/// TTLs at a time, with a short random gap between holds.
async fn hold_loop<F, Fut>(spec: &ClientSpec, mut hold_once: F)
where
    F: FnMut(Arc<PauseGate>, Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut rng = spec.rng();
    let ttl_ms = spec.config.ttl_ms;
    while Instant::now() < spec.until {
        let hold = Duration::from_millis(rng.gen_range(0..=2 * ttl_ms));
        hold_once(spec.gate.clone(), hold).await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=ttl_ms / 4))).await;
    }
}

/// What the writes workload needs of a held lock, whichever lock holds it.
trait HeldLock {
    fn remaining(&self) -> Duration;
    /// The register's value, read with the lock's token (recorded), if the read succeeded.
    async fn read(&self, register: &Register) -> Option<u64>;
    /// Writes with the lock's token (the outcome recorded).
    async fn write(&self, register: &Register, value: u64);
    async fn release(self);
}

impl HeldLock for redlock_client::Guard {
    fn remaining(&self) -> Duration {
        redlock_client::Guard::remaining(self)
    }
    async fn read(&self, register: &Register) -> Option<u64> {
        redlock_client::Guard::read(self, register).await.ok().map(|r| r.value)
    }
    async fn write(&self, register: &Register, value: u64) {
        let _ = redlock_client::Guard::write(self, register, value).await;
    }
    async fn release(self) {
        let _ = redlock_client::Guard::release(self).await;
    }
}

impl HeldLock for EtcdGuard {
    fn remaining(&self) -> Duration {
        EtcdGuard::remaining(self)
    }
    async fn read(&self, register: &Register) -> Option<u64> {
        EtcdGuard::read(self, register).await.ok().map(|r| r.value)
    }
    async fn write(&self, register: &Register, value: u64) {
        let _ = EtcdGuard::write(self, register, value).await;
    }
    async fn release(self) {
        let _ = EtcdGuard::release(self).await;
    }
}

impl HeldLock for ZkHeld {
    fn remaining(&self) -> Duration {
        ZkHeld::remaining(self)
    }
    async fn read(&self, register: &Register) -> Option<u64> {
        self.holder.read(register).await.ok().map(|r| r.value)
    }
    async fn write(&self, register: &Register, value: u64) {
        let _ = self.holder.write(register, value).await;
    }
    async fn release(self) {
        ZkHeld::release(self).await
    }
}

impl HeldLock for PgHeld {
    /// A session lock has no deadline: its holder believes while its connection looks alive.
    fn remaining(&self) -> Duration {
        if self.session_alive() {
            Duration::MAX
        } else {
            Duration::ZERO
        }
    }
    async fn read(&self, register: &Register) -> Option<u64> {
        self.holder.read(register).await.ok().map(|r| r.value)
    }
    async fn write(&self, register: &Register, value: u64) {
        let _ = self.holder.write(register, value).await;
    }
    async fn release(self) {
        PgHeld::release(self).await;
    }
}

/// The model's pause scenarios, for real: `acquire`, read, check the validity left (a fifth of
/// the TTL must remain, the write margin), write the value read plus one, hold a little,
/// release; again until the run's end.
async fn write_loop<G, A, AFut>(spec: &ClientSpec, register: &Register, mut acquire: A)
where
    G: HeldLock,
    A: FnMut() -> AFut,
    AFut: Future<Output = Option<G>>,
{
    let mut rng = spec.rng();
    let margin = spec.ttl() / 5;
    while Instant::now() < spec.until {
        if let Some(held) = acquire().await {
            if let Some(value) = held.read(register).await {
                if held.remaining() > margin {
                    held.write(register, value + 1).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=spec.config.ttl_ms / 10))).await;
            held.release().await;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=spec.config.ttl_ms / 4))).await;
    }
}

/// Writes with the crate's Redis lock, its token from the lock server's counter.
async fn writes(spec: ClientSpec) {
    let Some(register) = register(&spec).await else { return };
    let client = match spec.builder().fencing(Fencing::Counter).build() {
        Ok(c) => c,
        Err(e) => return eprintln!("soak client {}: {e}", spec.id),
    };
    write_loop(&spec, &register, || async { client.acquire(spec.history.lock()).await.ok() }).await
}

/// The same with the etcd lock, its token the key's create revision.
async fn etcd_writes(spec: ClientSpec) {
    let Some(register) = register(&spec).await else { return };
    let client = match spec.etcd() {
        Ok(c) => c,
        Err(e) => return eprintln!("soak client {}: {e}", spec.id),
    };
    write_loop(&spec, &register, || async { client.acquire(spec.history.lock()).await.ok() }).await
}

/// The same with ZooKeeper's recipe, its token the lock node's creation zxid; acquires wait up
/// to two session timeouts for the holders before the client.
async fn zookeeper_writes(spec: ClientSpec) {
    let Some(register) = register(&spec).await else { return };
    let lock =
        ZkLock::new(spec.urls.join(","), spec.ttl(), "/lock", ClientId(spec.id as u32), &spec.history).with_pause_gate(spec.gate.clone());
    write_loop(&spec, &register, || async { lock.acquire(2 * spec.ttl()).await.ok() }).await
}

/// The same with PostgreSQL's advisory lock (the run's key, its token from the run's sequence),
/// polling every twentieth of the time scale for up to two.
async fn postgres_writes(spec: ClientSpec) {
    let Some(register) = register(&spec).await else { return };
    let lock = PgAdvisoryLock::new(
        spec.urls[0].clone(),
        spec.config.postgres_key(),
        spec.config.postgres_sequence(),
        ClientId(spec.id as u32),
        &spec.history,
    )
    .with_pause_gate(spec.gate.clone());
    write_loop(&spec, &register, || async { lock.acquire(2 * spec.ttl(), spec.ttl() / 20).await }).await
}

/// The client's connection to its run's register.
async fn register(spec: &ClientSpec) -> Option<Register> {
    let Some(register) = spec.register.as_ref() else {
        eprintln!("soak client {}: no register", spec.id);
        return None;
    };
    match register.connect(spec.history.resource_turn()).await {
        Ok(register) => Some(register),
        Err(e) => {
            eprintln!("soak client {}: the register: {e}", spec.id);
            None
        }
    }
}

/// A pitfall client: acquire, hold a little, release, again; it may die between SETNX and
/// PEXPIRE if the schedule says so.
async fn pitfall(spec: ClientSpec) {
    let Workload::Pitfall { pitfall } = spec.config.workload else { return };
    let mut rng = spec.rng();
    let ttl_ms = spec.config.ttl_ms;
    let params = Params {
        nodes: 1,
        ttl_ms,
        drift_factor_ppm: 10_000,
        drift_fixed_ms: 2,
        node_timeout_ms: ttl_ms / 10,
        retries: 3,
        retry_delay_min_ms: ttl_ms / 10,
        retry_delay_max_ms: ttl_ms / 4,
    };
    let mut client = PitfallClient::new(
        ClientId(spec.id as u32),
        &spec.urls[0],
        params,
        Commands::Pitfall(pitfall),
        spec.history.lock(),
        spec.history.recorder(),
    );
    if spec.config.faults.iter().any(|f| f.fault == FaultKind::ClientCrash { client: spec.id }) {
        client.crash_between_commands();
    }
    while Instant::now() < spec.until {
        match client.acquire().await {
            Ok(()) => {
                tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=ttl_ms / 2))).await;
                client.release();
            }
            Err(PitfallError::Crashed) => return,
            Err(PitfallError::NotAcquired) => {}
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=ttl_ms / 4))).await;
    }
    // The last release's commands are on their way; let them go before the thread ends.
    tokio::time::sleep(Duration::from_millis(ttl_ms / 5)).await;
}
