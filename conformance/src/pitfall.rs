//! The single-node pitfalls of Zhang Tielei, *Is a Redis-based distributed lock safe?*, part 1, which the shipped client does
//! not have (on purpose), as test tooling: the crate's own sans-IO core drives the lock (quorum,
//! validity, retries, release after a failed attempt), and only the commands differ, exactly
//! as in the model, where the pitfalls are command encodings of that same core.
//!
//! - `PlainDel`: release with an unconditional delete;
//! - `GetThenDel`: release with `GET`, then a delete if the value was ours: two commands;
//! - `SetnxThenExpire`: acquire with `SETNX`, then `PEXPIRE` as a second command (a client
//!   that crashes in between leaves a key that never expires); release is compare-and-delete.
//!
//! Beside them, Redisson's `WAIT` (`Commands::WaitReplicas`), which the shipped client does not
//! have either: `SET NX PX` and `WAIT n 0` in one pipeline, the node counting only once `n`
//! replicas acknowledged the write; release by compare-and-delete.
//!
//! The unconditional delete is sent as `GETDEL`, which deletes exactly as `DEL` does and also
//! returns the value it removed, so that the history can say whose key it was: the harness
//! observes, the deletion is the pitfall's. A value is `<client id>:<random>`, so the owner of
//! a deleted value can be named. The pitfall client records the same events as the shipped
//! driver (`setup`, `acquire_started`, `key_set`, `granted`, `acquire_failed`,
//! `release_started`, `key_deleted`), plus `client_crashed` when it dies between its commands.

use rand::Rng;
use redlock_client::event::{ClientId, Event, NodeId};
use redlock_client::observe::observe;
use redlock_client::params::Params;
use redlock_client::protocol::{Input, LockState, Output, Reply};
use redlock_client::redis::{self, aio::MultiplexedConnection, AsyncConnectionConfig};
use redlock_client::time::LocalMillis;
use redlock_client::Recorder;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Which pitfall a client commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pitfall {
    PlainDel,
    GetThenDel,
    SetnxThenExpire,
}

/// The commands a harness client sends: a pitfall's, or Redisson's `WAIT` after the lock command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commands {
    Pitfall(Pitfall),
    /// `SET NX PX` and `WAIT replicas 0` in one pipeline: the reply comes once `replicas`
    /// replicas acknowledged the write (the model's `wait_replicas`); compare-and-delete release.
    WaitReplicas(u32),
}

static COMPARE_AND_DELETE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"));

/// Why an acquire did not end with the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PitfallError {
    NotAcquired,
    /// The client died between `SETNX` and `PEXPIRE` (on purpose).
    Crashed,
}

/// One request to the node, carried out in order on the client's connection (for the
/// acquisition whose lock value is `value`, where the command names it).
enum Job {
    Acquire { acquisition: u64, round: u32, value: Arc<str> },
    Expire,
    Release { value: Arc<str> },
}

/// What the lock's key, its client and its history are.
#[derive(Clone)]
struct Ident {
    lock: String,
    client: ClientId,
    ttl_ms: u64,
    commands: Commands,
    recorder: Arc<Recorder>,
}

impl Ident {
    fn record(&self, event: Event) {
        self.recorder.record(&self.lock, event);
    }

    /// The client whose value `value` is.
    fn owner(value: &str) -> ClientId {
        ClientId(value.split(':').next().and_then(|id| id.parse().ok()).unwrap_or(u32::MAX))
    }
}

/// A client that commits one pitfall, on a single node.
pub struct PitfallClient {
    ident: Ident,
    params: Params,
    /// The current acquisition: its number, lock value and protocol state (each acquisition
    /// starts afresh, as each of the shipped client's locks does).
    acquisition: u64,
    value: Arc<str>,
    state: LockState,
    origin: Instant,
    jobs: mpsc::UnboundedSender<Job>,
    /// Replies: (acquisition, round, reply).
    replies: mpsc::UnboundedReceiver<(u64, u32, Reply)>,
    /// Die between `SETNX` and `PEXPIRE` at the next grant.
    crash_between_commands: bool,
}

impl PitfallClient {
    /// A client of the node at `url` (a proxy link's URL); `params.nodes` must be 1.
    pub fn new(id: ClientId, url: &str, params: Params, commands: Commands, lock: &str, recorder: Recorder) -> PitfallClient {
        assert_eq!(params.nodes, 1, "the pitfalls are single-node locks, as in the model");
        let ident = Ident { lock: lock.into(), client: id, ttl_ms: params.ttl_ms, commands, recorder: Arc::new(recorder) };
        let (jobs, rx) = mpsc::unbounded_channel();
        let (replies_tx, replies) = mpsc::unbounded_channel();
        let io_timeout = Duration::from_millis(params.ttl_ms);
        tokio::spawn(lane(url.to_string(), io_timeout, ident.clone(), rx, replies_tx));
        PitfallClient {
            ident,
            params,
            acquisition: 0,
            value: Arc::from(""),
            state: LockState::new(),
            origin: Instant::now(),
            jobs,
            replies,
            crash_between_commands: false,
        }
    }

    /// Makes the client die between `SETNX` and `PEXPIRE` at its next grant.
    pub fn crash_between_commands(&mut self) {
        self.crash_between_commands = true;
    }

    fn now(&self) -> LocalMillis {
        LocalMillis(self.origin.elapsed().as_millis() as u64)
    }

    fn instant(&self, at: LocalMillis) -> Instant {
        self.origin + Duration::from_millis(at.0)
    }

    /// Feeds the core, records what the step showed (the crate's one observer) and sends the
    /// requests it asks for with the pitfall's commands.
    fn feed(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        let before = self.state;
        self.state.handle(&self.params, self.now(), input, &mut out);
        let mut events = Vec::new();
        observe(self.ident.client, &self.params, &before, input, &out, None, &mut events);
        for event in events {
            self.ident.record(event);
        }
        for output in &out {
            match *output {
                Output::SendAcquire { round, .. } => {
                    let _ = self.jobs.send(Job::Acquire { acquisition: self.acquisition, round, value: self.value.clone() });
                }
                Output::SendRelease { .. } => {
                    let _ = self.jobs.send(Job::Release { value: self.value.clone() });
                }
                _ => {}
            }
        }
        out
    }

    /// Acquires the lock: the core's attempts and retries, with the pitfall's commands.
    pub async fn acquire(&mut self) -> Result<(), PitfallError> {
        self.acquisition += 1;
        self.value = Arc::from(format!("{}:{:016x}", self.ident.client.0, rand::thread_rng().gen::<u64>()));
        self.state = LockState::new();
        let mut outputs = self.feed(Input::Acquire);
        let mut deadline = Instant::now();
        loop {
            let mut retry_after = None;
            for output in outputs.drain(..) {
                match output {
                    Output::WakeAt { at } => deadline = self.instant(at),
                    Output::RetryAfter { min_ms, max_ms } => retry_after = Some(rand::thread_rng().gen_range(min_ms..=max_ms)),
                    Output::Acquired { .. } => return Ok(()),
                    Output::Failed => return Err(PitfallError::NotAcquired),
                    _ => {}
                }
            }
            outputs = match retry_after {
                Some(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    self.feed(Input::Retry)
                }
                None => tokio::select! {
                    Some((acquisition, round, reply)) = self.replies.recv() => {
                        if acquisition != self.acquisition {
                            // A late reply to an earlier acquisition.
                            continue;
                        }
                        let outputs = self.feed(Input::Reply { round, node: 0, reply });
                        if self.ident.commands == Commands::Pitfall(Pitfall::SetnxThenExpire) && matches!(reply, Reply::Ok { .. }) {
                            if self.crash_between_commands {
                                self.ident.record(Event::ClientCrashed { client: self.ident.client });
                                return Err(PitfallError::Crashed);
                            }
                            let _ = self.jobs.send(Job::Expire);
                        }
                        outputs
                    }
                    () = tokio::time::sleep_until(deadline.into()) => self.feed(Input::Timeout),
                },
            };
        }
    }

    /// Releases with the pitfall's commands (queued behind the requests already sent).
    pub fn release(&mut self) {
        self.feed(Input::Release);
    }
}

/// Sends the client's requests one after the other on one connection, like the shipped
/// client's lanes, and records what the node did.
async fn lane(
    url: String,
    io_timeout: Duration,
    ident: Ident,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    replies: mpsc::UnboundedSender<(u64, u32, Reply)>,
) {
    let mut conn: Option<MultiplexedConnection> = None;
    while let Some(job) = jobs.recv().await {
        if conn.is_none() {
            conn = connect(&url, io_timeout).await;
        }
        let result = match conn.as_mut() {
            Some(c) => carry_out(c, &job, &ident).await,
            None => Err(redis::RedisError::from((redis::ErrorKind::Io, "cannot connect"))),
        };
        if let Err(e) = &result {
            if e.is_unrecoverable_error() {
                conn = None;
            }
        }
        if let Job::Acquire { acquisition, round, .. } = job {
            let _ = replies.send((acquisition, round, result.unwrap_or(Reply::Error)));
        }
    }
}

async fn connect(url: &str, io_timeout: Duration) -> Option<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new().set_connection_timeout(Some(io_timeout)).set_response_timeout(Some(io_timeout));
    redis::Client::open(url).ok()?.get_multiplexed_async_connection_with_config(&config).await.ok()
}

/// One request; the reply matters only for an acquire.
async fn carry_out(conn: &mut MultiplexedConnection, job: &Job, ident: &Ident) -> redis::RedisResult<Reply> {
    let node = NodeId(0);
    let (key, client) = (&ident.lock, ident.client);
    match job {
        Job::Acquire { value, .. } => {
            let value: &str = value;
            let set_nx_px = || redis::cmd("SET").arg(key).arg(value).arg("NX").arg("PX").arg(ident.ttl_ms).to_owned();
            let set = match ident.commands {
                Commands::Pitfall(Pitfall::SetnxThenExpire) => redis::cmd("SETNX").arg(key).arg(value).query_async::<i64>(conn).await? == 1,
                Commands::Pitfall(_) => set_nx_px().query_async::<Option<String>>(conn).await?.is_some(),
                Commands::WaitReplicas(replicas) => {
                    let (set, acknowledged): (Option<String>, u32) =
                        redis::pipe().add_command(set_nx_px()).cmd("WAIT").arg(replicas).arg(0).query_async(conn).await?;
                    if set.is_some() {
                        ident.record(Event::KeySet { node, owner: client, ttl_ms: Some(ident.ttl_ms) });
                    }
                    return Ok(if set.is_some() && acknowledged >= replicas { Reply::Ok { token: None } } else { Reply::Refused });
                }
            };
            if !set {
                return Ok(Reply::Refused);
            }
            let ttl_ms = (ident.commands != Commands::Pitfall(Pitfall::SetnxThenExpire)).then_some(ident.ttl_ms);
            ident.record(Event::KeySet { node, owner: client, ttl_ms });
            Ok(Reply::Ok { token: None })
        }
        Job::Expire => {
            let renewed: i64 = redis::cmd("PEXPIRE").arg(key).arg(ident.ttl_ms).query_async(conn).await?;
            if renewed == 1 {
                ident.record(Event::KeySet { node, owner: client, ttl_ms: Some(ident.ttl_ms) });
            }
            Ok(Reply::Ok { token: None })
        }
        Job::Release { value } => {
            let value: &str = value;
            let delete_unconditionally = match ident.commands {
                Commands::Pitfall(Pitfall::PlainDel) => true,
                Commands::Pitfall(Pitfall::GetThenDel) => {
                    redis::cmd("GET").arg(key).query_async::<Option<String>>(conn).await?.as_deref() == Some(value)
                }
                Commands::Pitfall(Pitfall::SetnxThenExpire) | Commands::WaitReplicas(_) => {
                    let deleted: i64 = COMPARE_AND_DELETE.key(key).arg(value).invoke_async(conn).await?;
                    if deleted == 1 {
                        ident.record(Event::KeyDeleted { node, owner: client, by: client });
                    }
                    false
                }
            };
            if delete_unconditionally {
                let removed: Option<String> = redis::cmd("GETDEL").arg(key).query_async(conn).await?;
                if let Some(removed) = removed {
                    ident.record(Event::KeyDeleted { node, owner: Ident::owner(&removed), by: client });
                }
            }
            Ok(Reply::Ok { token: None })
        }
    }
}
