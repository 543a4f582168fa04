//! What a soak run's clients do until the run's end, each on its own thread.

use super::config::{FaultKind, RunConfig, Workload};
use crate::client_thread::{ClientThread, PauseGate};
use crate::history::History;
use crate::pitfall::{PitfallClient, PitfallError};
use crate::registers::RegisterSpec;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redlock_client::event::ClientId;
use redlock_client::params::Params;
use redlock_client::{Client, Fencing};
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

    fn rng(&self) -> StdRng {
        StdRng::seed_from_u64(super::config::run_seed(self.config.seed, self.config.run) ^ (self.id as u64 + 1))
    }
}

/// Starts the client's thread.
pub fn start(spec: ClientSpec) -> std::io::Result<ClientThread> {
    ClientThread::spawn(format!("soak client {}", spec.id), move || async move {
        match spec.config.workload {
            Workload::Holds => holds(spec).await,
            Workload::Writes { .. } => writes(spec).await,
            Workload::Pitfall { .. } => pitfall(spec).await,
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
    let mut rng = spec.rng();
    let ttl_ms = spec.config.ttl_ms;
    while Instant::now() < spec.until {
        let hold = Duration::from_millis(rng.gen_range(0..=2 * ttl_ms));
        let gate = spec.gate.clone();
        let _ = client
            .with_lock(spec.history.lock(), |_lock| async move {
                gate.in_work();
                tokio::time::sleep(hold).await;
            })
            .await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=ttl_ms / 4))).await;
    }
}

/// The model's pause scenarios, for real: acquire, read, check the validity left (a fifth of
/// the TTL must remain, the write margin), write the value read plus one, release.
async fn writes(spec: ClientSpec) {
    let built = spec.builder().fencing(Fencing::Counter).build();
    let (client, register) = match (built, spec.register.as_ref()) {
        (Ok(c), Some(r)) => match r.connect().await {
            Ok(register) => (c, register),
            Err(e) => return eprintln!("soak client {}: the register: {e}", spec.id),
        },
        (Err(e), _) => return eprintln!("soak client {}: {e}", spec.id),
        (_, None) => return eprintln!("soak client {}: no register", spec.id),
    };
    let mut rng = spec.rng();
    let ttl = spec.ttl();
    while Instant::now() < spec.until {
        if let Ok(guard) = client.acquire(spec.history.lock()).await {
            if let Ok(read) = guard.read(&register).await {
                if guard.remaining() > ttl / 5 {
                    let _ = guard.write(&register, read.value + 1).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=spec.config.ttl_ms / 10))).await;
            let _ = guard.release().await;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=spec.config.ttl_ms / 4))).await;
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
    let mut client =
        PitfallClient::new(ClientId(spec.id as u32), &spec.urls[0], params, pitfall, spec.history.lock(), spec.history.recorder());
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
