//! What one model run checks: the system's shape, its parameters and the timing bounds.
//!
//! All durations are in *ticks*, the model's quantum of real time. A [`Setup`] is built by a
//! scenario preset (`scenario.rs`), possibly adjusted from the command line, then turned into
//! a [`crate::system::LockSystem`].

use serde::Serialize;
use std::fmt;

/// The timing model of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// Bounded message delay, bounded clock drift, bounded pauses, no clock jumps beyond the
    /// drift bound.
    Sync,
    /// Unbounded (or lost) messages, unbounded pauses, clocks at any rate, jumps.
    Async,
}

impl Timing {
    pub const BOTH: [Timing; 2] = [Timing::Sync, Timing::Async];

    pub fn name(self) -> &'static str {
        match self {
            Timing::Sync => "sync",
            Timing::Async => "async",
        }
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The timing hazards a cell lifts, Kleppmann's three: **N**etwork delay (messages take any
/// time), **P**rocess pause (pauses last any time), **C**lock drift (clocks run at any rate and
/// jump beyond the drift bound). `sync` lifts none, `async` all three; a cell that lifts some
/// shows which hazard a verdict rests on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hazards {
    pub delay: bool,
    pub pause: bool,
    pub clock: bool,
}

impl Hazards {
    pub const NONE: Hazards = Hazards { delay: false, pause: false, clock: false };
    pub const ALL: Hazards = Hazards { delay: true, pause: true, clock: true };
    /// Each hazard alone, in the order N, P, C.
    pub const EACH: [Hazards; 3] = [
        Hazards { delay: true, pause: false, clock: false },
        Hazards { delay: false, pause: true, clock: false },
        Hazards { delay: false, pause: false, clock: true },
    ];

    /// What a timing mode lifts.
    pub fn of(timing: Timing) -> Hazards {
        match timing {
            Timing::Sync => Hazards::NONE,
            Timing::Async => Hazards::ALL,
        }
    }

    /// The timing mode that lifts exactly these, if one does.
    pub fn mode(self) -> Option<Timing> {
        match self {
            Hazards::NONE => Some(Timing::Sync),
            Hazards::ALL => Some(Timing::Async),
            _ => None,
        }
    }

    /// Parses `--lift`: a comma-separated subset of the letters `N`, `P`, `C` (or `none`).
    pub fn parse(text: &str) -> Result<Hazards, String> {
        let mut lifted = Hazards::NONE;
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(lifted);
        }
        for letter in text.split(',').map(str::trim) {
            let hazard = match letter.to_ascii_uppercase().as_str() {
                "N" => &mut lifted.delay,
                "P" => &mut lifted.pause,
                "C" => &mut lifted.clock,
                _ => {
                    return Err(format!(
                        "--lift takes a comma-separated subset of N (network delay), P (process pause) and C (clock \
                         drift), or none; not {letter:?}"
                    ))
                }
            };
            if *hazard {
                return Err(format!("--lift names {} twice", letter.to_ascii_uppercase()));
            }
            *hazard = true;
        }
        Ok(lifted)
    }

    /// The set from its letters (as `check --json` writes it).
    pub fn from_letters(letters: &[String]) -> Result<Hazards, String> {
        if letters.is_empty() {
            return Ok(Hazards::NONE);
        }
        Hazards::parse(&letters.join(",")).map_err(|_| format!("{letters:?} is not a set of the hazards N, P and C"))
    }

    /// The letters lifted, in the order N, P, C.
    pub fn letters(self) -> Vec<&'static str> {
        [(self.delay, "N"), (self.pause, "P"), (self.clock, "C")].into_iter().filter(|(on, _)| *on).map(|(_, l)| l).collect()
    }

    /// How many hazards are lifted.
    pub fn count(self) -> usize {
        self.letters().len()
    }

    /// The hazards lifted here or in `other`.
    pub fn or(self, other: Hazards) -> Hazards {
        Hazards { delay: self.delay || other.delay, pause: self.pause || other.pause, clock: self.clock || other.clock }
    }

    /// The hazards lifted both here and in `other`.
    pub fn and(self, other: Hazards) -> Hazards {
        Hazards { delay: self.delay && other.delay, pause: self.pause && other.pause, clock: self.clock && other.clock }
    }

    /// The hazards lifted here but not in `other`.
    pub fn without(self, other: Hazards) -> Hazards {
        Hazards { delay: self.delay && !other.delay, pause: self.pause && !other.pause, clock: self.clock && !other.clock }
    }

    /// The command-line flag that asks for these: `--timing sync`, `--timing async`, `--lift N,P`.
    pub fn flag(self) -> String {
        match self.mode() {
            Some(timing) => format!("--timing {timing}"),
            None => format!("--lift {self}"),
        }
    }
}

impl fmt::Display for Hazards {
    /// `sync`, `async`, or the letters lifted (`N`, `N,P`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode() {
            Some(timing) => f.write_str(timing.name()),
            None => f.write_str(&self.letters().join(",")),
        }
    }
}

impl Serialize for Hazards {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.letters().serialize(serializer)
    }
}

/// How a Redis server survives a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// No persistence: it restarts empty at once (a Redis restart without fsync).
    Empty,
    /// AOF with `appendfsync always`: it restarts with every key it had.
    Fsync,
    /// antirez's delayed restart: it restarts empty, but only after a TTL of its own clock.
    Delayed,
}

/// Which lock service the servers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Redis primaries (one per node), each with `Setup::replicas` asynchronous replicas.
    Redis,
    /// A ZooKeeper-style service: an ephemeral node tied to a session that expires when the
    /// client stops heartbeating; its creation zxid can fence.
    ZooKeeper,
    /// A Chubby-style lock service: a lock tied to a session kept alive by KeepAlives, a
    /// sequencer (the lock's generation) per grant, optionally a lock-delay.
    Chubby,
    /// An etcd-style store: a lease, the key created with it only if absent, its create
    /// revision the token; the client drives the crate's lease-lock core (`etcd.rs`).
    Etcd,
    /// PostgreSQL's session-level advisory lock: `pg_try_advisory_lock` takes it if it is free,
    /// it has no TTL, `pg_advisory_unlock` releases it (its own session's only), and the server
    /// releases it when it sees the session end (a cut connection, `pg_terminate_backend`,
    /// `idle_session_timeout`), telling no one. The session's end is the `eviction` fault. The
    /// client still counts a validity on its own clock (the Redlock core's): a real client
    /// believes longer, until it next uses its connection, so the model's belief is the shorter
    /// and a violation found with it is found.
    Postgres,
}

/// How the client encodes the protocol's commands: the correct encoding, or one of the
/// single-node pitfalls of Zhang Tielei, *Is a Redis-based distributed lock safe?*, part 1. The pitfalls exist only in the
/// model; the shipped client has only the correct one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// `SET NX PX` to acquire, compare-and-delete (Lua) to release.
    Correct,
    /// Release with a plain `DEL`, whoever holds the key.
    PlainDel,
    /// Release with `GET`, then `DEL` if the value was ours: two commands, not atomic.
    GetThenDel,
    /// Acquire with `SETNX`, then `EXPIRE` as a second command.
    SetnxThenExpire,
}

/// Where fencing tokens come from: the crate's `redlock_client::Fencing`, which offers `Off`
/// and `Counter` (on one server), with the other services' tokens beside them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fencing {
    /// No token.
    Off,
    /// The acquire script increments a counter (`INCR <resource>:fence`) on each node; the
    /// client takes the largest value among its quorum (with one node: a single linearizable
    /// counter, the crate's `Fencing::Counter`).
    Counter,
    /// antirez's unique random token (here the client's id): unique, not ordered.
    Unique,
    /// The ZooKeeper zxid of the lock node's creation.
    Zxid,
    /// Chubby's sequencer: the lock's generation number.
    Sequencer,
    /// The etcd key's create revision.
    Revision,
}

/// What the protected resource is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Applies every write.
    Unfenced,
    /// Refuses any request whose token is below the largest it has seen, atomically with the
    /// write (an equal token from any holder passes).
    Fenced,
    /// The same, and an equal token passes only from the holder that set the fence (the crate's
    /// adapters): a token that a restarted counter hands out again opens nothing.
    FencedByHolder,
    /// Checks the token, then writes as a separate step (reza_n's case on Hacker News).
    FencedCheckThenWrite,
    /// Asks the lock service whether the writer's sequencer is still valid (Chubby's
    /// CheckSequencer), then writes as a separate step.
    CheckSequencer,
    /// antirez's check-and-set: the holder first sets the resource's token to its own, then
    /// writes only if the token is still its own.
    UniqueTokenCas,
}

/// Timing bounds in force for one run: the timing mode's, with the scenario's overrides.
///
/// No run loses messages: a message lost on a TCP connection breaks the connection, so it and
/// everything after it on that connection never arrive, which is a message delayed past the end
/// of the run; unbounded delay covers it (each client-node connection is FIFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Bounds {
    /// A message is delivered within this many ticks (0: before time passes); `None`: any delay.
    pub delay: Option<u8>,
    /// A server's measure of an interval of length T lies within T ± `skew` of real time;
    /// `None`: clocks run at any rate.
    pub skew: Option<u8>,
    /// A pause lasts at most this many ticks; `None`: unbounded.
    pub pause: Option<u8>,
}

/// One run's system and parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Setup {
    pub scenario: &'static str,
    /// The invariants this run judges (each with its witnesses).
    pub judged: Vec<redlock_client::judge::Invariant>,
    pub timing: Timing,
    /// The hazards this run lifts: the timing mode's, or a subset (`check run --lift`). A
    /// setup that lifts some but not all is built from the sync one with the async bounds of
    /// what it lifts, and keeps `timing` sync.
    pub lifted: Hazards,
    pub bounds: Bounds,
    /// Lock servers (Redis nodes, or one ZooKeeper-style service).
    pub servers: u8,
    pub clients: u8,
    /// Acquire attempts per client (1 + retries).
    pub attempts: u8,
    /// Key time to live, in ticks of the server's clock.
    pub ttl: u8,
    /// The drift allowance the client subtracts from every validity.
    pub drift: u8,
    /// How long a client waits for a node's reply.
    pub node_timeout: u8,
    /// The delay before a retry.
    pub retry_delay: u8,
    /// The client writes only while at least this much validity is left: it budgets for the
    /// pause it may suffer before the write lands (the sync pause bound).
    pub write_margin: u8,
    pub service: Service,
    /// Asynchronous replicas per server, one of which a failover promotes.
    pub replicas: u8,
    /// After `SET NX PX` the client runs `WAIT n` and counts the node only if n replicas
    /// acknowledged (Redisson's lock).
    pub wait_replicas: Option<u8>,
    /// Chubby's lock-delay: ticks of the service's clock during which a lock lost with its
    /// holder is not granted again.
    pub lock_delay: Option<u8>,
    pub encoding: Encoding,
    pub fencing: Fencing,
    pub resource: Option<Resource>,
    /// The holder extends its lock every TTL/3 while it works (Redisson's watchdog).
    pub watchdog: bool,
    /// Extensions per hold, to keep the search finite.
    pub max_extensions: u8,
    /// A client whose acquisition ended (released, failed, lost) starts another, as real
    /// clients do: only trace validation (`validate.rs`) sets it, to follow runs with many
    /// acquisitions; every scenario's client acquires once, to keep its search finite. Such a
    /// client also takes its due steps at any later moment, as a process of the asynchronous
    /// model may (the scenarios' clients pause only at their pause points).
    pub repeat: bool,
    /// Crash and restart of a server, and how it restarts.
    pub restart: Option<Restart>,
    /// A failover of the replicated server may happen.
    pub failover: bool,
    /// One server's clock may jump forward by this many ticks once.
    pub clock_jump: Option<u8>,
    /// A client may crash (between its commands).
    pub client_crash: bool,
    /// A server may evict the lock key once, before it expires (a `volatile-*` or `allkeys-*`
    /// `maxmemory-policy` under memory pressure: the key carries a TTL, so it is a candidate).
    pub eviction: bool,
    /// Pauses a run may suffer, in all (each at the client's pause point).
    pub pauses: u8,
}

/// The actor layout, computed here only: the servers are actors `0..servers`, the clients
/// follow, then the resource (when there is one). Traces, views and replays name actors by it.
impl Setup {
    /// The actor index of client `client`.
    pub fn client_actor(&self, client: u8) -> usize {
        self.servers as usize + client as usize
    }

    /// The actor index of the resource, if the setup has one.
    pub fn resource_actor(&self) -> Option<usize> {
        self.resource.map(|_| self.servers as usize + self.clients as usize)
    }

    /// The client at actor index `actor`, if that actor is a client.
    pub fn client_at(&self, actor: usize) -> Option<u8> {
        let first = self.servers as usize;
        (first..first + self.clients as usize).contains(&actor).then(|| (actor - first) as u8)
    }

    /// The server at actor index `actor`, if that actor is a server.
    pub fn server_at(&self, actor: usize) -> Option<u8> {
        (actor < self.servers as usize).then_some(actor as u8)
    }
}

impl Setup {
    /// The shipped core's parameters for this setup: one tick is one millisecond, and the drift
    /// allowance is the fixed part only (the model's drift bound is absolute, per TTL).
    pub fn params(&self) -> redlock_client::params::Params {
        redlock_client::params::Params {
            nodes: self.servers as usize,
            ttl_ms: self.ttl as u64,
            drift_factor_ppm: 0,
            drift_fixed_ms: self.drift as u64,
            node_timeout_ms: self.node_timeout as u64,
            retries: self.attempts.saturating_sub(1) as u32,
            retry_delay_min_ms: self.retry_delay as u64,
            retry_delay_max_ms: self.retry_delay as u64,
        }
    }

    /// Checks that the parameters describe a system the model can explore.
    /// The hazards this setup leaves unbounded, whatever it was asked to lift: a bound that is
    /// `None`, or a clock jump allowed beyond the drift bound. A scenario may keep a hazard
    /// bounded in both modes (the pause scenarios' exact clocks) or lift one in both
    /// (`redlock-slow-replies`' delays); the NPC table places each cell by this set.
    pub fn unbounded(&self) -> Hazards {
        Hazards {
            delay: self.bounds.delay.is_none(),
            pause: self.bounds.pause.is_none(),
            clock: self.bounds.skew.is_none() || (self.clock_jump.is_some() && self.lifted.clock),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let fail = |msg: String| Err(msg);
        if self.servers == 0 {
            return fail("--servers must be at least 1".into());
        }
        if self.servers > 9 {
            return fail(format!("--servers {} is beyond what the model can explore (at most 9)", self.servers));
        }
        if self.clients == 0 || self.clients > 4 {
            return fail(format!("--clients must be between 1 and 4, not {}", self.clients));
        }
        if self.attempts == 0 || self.attempts > 3 {
            return fail(format!("--attempts must be between 1 and 3, not {}", self.attempts));
        }
        if self.ttl == 0 {
            return fail("--ttl 0 is impossible: a key would expire as it is written".into());
        }
        if self.ttl > 30 {
            return fail(format!("--ttl {} ticks is beyond what the model can explore (at most 30)", self.ttl));
        }
        if let Some(skew) = self.bounds.skew {
            if skew >= self.ttl {
                return fail(format!("--skew {skew} must be below the TTL ({})", self.ttl));
            }
        }
        if (self.replicas > 0 || self.service != Service::Redis) && self.servers != 1 {
            return fail(format!("{} runs on exactly one server", self.scenario));
        }
        if self.wait_replicas.is_some_and(|n| n > self.replicas) {
            return fail(format!("WAIT for more replicas than the {} there are", self.replicas));
        }
        // The core's own checks speak of milliseconds; the model's units are ticks.
        if self.drift >= self.ttl {
            return fail(format!(
                "--drift {} ticks is not below the TTL ({} ticks): no acquisition could ever be valid",
                self.drift, self.ttl
            ));
        }
        if self.node_timeout == 0 {
            return fail("the per-node timeout is 0 ticks: no reply could ever count".into());
        }
        self.params().validate().map(|_| ()).map_err(|e| e.to_string())
    }

    /// A key's (or a delayed restart's) lifetime window for an interval of `length` ticks of the
    /// server's clock: the earliest and latest real ticks at which it may end.
    pub fn window(&self, length: u8) -> Window {
        match self.bounds.skew {
            Some(k) => Window { earliest: length.saturating_sub(k), latest: Some(length.saturating_add(k)) },
            None => Window { earliest: 0, latest: None },
        }
    }
}

/// Relative countdowns, in real ticks, to the earliest and latest moment something measured
/// on a server's clock may happen. Time passing lowers both; the event may happen once
/// `earliest` is 0 and must happen before `latest` goes below 0. This is the drift-as-a-window
/// encoding (`docs/design.md`, *Time and the judge*): far fewer states than per-tick clock steps,
/// and no absolute time, so the search ends without a horizon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub struct Window {
    pub earliest: u8,
    pub latest: Option<u8>,
}

impl Window {
    pub fn due(&self) -> bool {
        self.earliest == 0
    }

    pub fn overdue(&self) -> bool {
        self.latest == Some(0)
    }

    /// Time passing would change it.
    pub fn counting(&self) -> bool {
        self.earliest > 0 || self.latest.is_some_and(|l| l > 0)
    }

    pub fn tick(&mut self) {
        self.earliest = self.earliest.saturating_sub(1);
        self.latest = self.latest.map(|l| l.saturating_sub(1));
    }

    /// The server's clock jumps forward by `by` ticks: everything it measures ends sooner. With
    /// bounded clocks the jump cannot take the clock outside its drift bound, so the end only
    /// moves within the window.
    pub fn jump(&mut self, by: u8, bounded: bool) {
        match (bounded, self.latest) {
            (true, Some(latest)) => self.latest = Some(latest.saturating_sub(by).max(self.earliest)),
            _ => {
                self.earliest = self.earliest.saturating_sub(by);
                self.latest = self.latest.map(|l| l.saturating_sub(by));
            }
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.latest {
            Some(l) if l == self.earliest => write!(f, "in {l}"),
            Some(l) => write!(f, "in {}..{l}", self.earliest),
            None => write!(f, "in {}..", self.earliest),
        }
    }
}
