//! The loopback TCP proxy between each client and each server (this kernel has no `netem`).
//!
//! A [`Link`] listens on its own loopback port and forwards the one connection a client opens
//! through it to a server (its *upstream*, which a failover can change). Each direction has a
//! [`Flow`]:
//! - `Pass`: forward at once; `Delay(d)`: forward each message `d` after it arrived, in order;
//! - `Hold`: keep every request and reply of the lock protocol until the harness releases them
//!   one by one ([`Link::release`]): the directed replays deliver messages in the model's order
//!   this way. Connection chores (`CLIENT SETINFO`, `SCRIPT LOAD`, `PING`, the client's
//!   `CONFIG GET maxmemory*`, ...) and their
//!   replies pass, in order; a `NOSCRIPT` reply passes too, and the retried script call with
//!   it, so that one model message is one release however redis-rs sends it;
//! - `Blackhole`: drop what arrives (one-way loss). TCP never loses a message inside a live
//!   connection, so when the loss ends the connection is reset, as a real one would be after
//!   its retransmissions failed.
//!
//! Messages are whole RESP messages ([`crate::resp`]), or raw chunks for a replication link
//! (whose snapshot transfer is not RESP), which can only pass or be held as a whole.

use crate::resp;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How a link's byte stream is cut into messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// RESP messages: requests and replies can be held and released one by one.
    Resp,
    /// Chunks as they arrive (a replication stream).
    Raw,
}

/// Client to server, or back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ToServer,
    ToClient,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// What a direction does with the messages that arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Pass,
    Delay(Duration),
    Hold,
    Blackhole,
}

/// Lock-protocol traffic, which `Hold` keeps, or a connection chore, which always passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Protocol,
    Chore,
}

/// Requests that set up or maintain a connection rather than act on a lock.
const CHORES: &[&str] = &["CLIENT", "HELLO", "AUTH", "SELECT", "PING", "SCRIPT", "READONLY", "INFO", "CONFIG", "REPLCONF", "PSYNC", "SYNC"];

struct Message {
    bytes: Vec<u8>,
    kind: Kind,
    arrived: Instant,
}

/// The state of the connection now carried by the link.
struct Connection {
    generation: u64,
    stop: CancellationToken,
    queues: [VecDeque<Message>; 2],
    /// The kinds of the requests forwarded and not answered yet: their replies' kinds.
    awaiting: VecDeque<Kind>,
    /// A `NOSCRIPT` reply passed: the script call redis-rs retries next belongs to the same
    /// model message and passes too.
    retrying_script: bool,
}

struct State {
    flows: [Flow; 2],
    /// Protocol messages the harness has allowed through `Hold`, per direction.
    credits: [u64; 2],
    /// Credits used so far, per direction.
    used: [u64; 2],
    upstream: SocketAddr,
    connection: Option<Connection>,
    generations: u64,
    /// Resets by [`Link::reset`], a blackhole ending or a new upstream.
    resets: u64,
}

struct Inner {
    name: String,
    framing: Framing,
    /// How long a new connection waits for its upstream to accept (0: give up at once).
    connect_wait: Duration,
    state: Mutex<State>,
    changed: Notify,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One client's path to one server. See the module docs. Stops (and closes its connection)
/// when dropped.
pub struct Link {
    inner: Arc<Inner>,
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Link {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn open(name: impl Into<String>, upstream: SocketAddr, framing: Framing, connect_wait: Duration) -> io::Result<Link> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            name: name.into(),
            framing,
            connect_wait,
            state: Mutex::new(State {
                flows: [Flow::Pass; 2],
                credits: [0; 2],
                used: [0; 2],
                upstream,
                connection: None,
                generations: 0,
                resets: 0,
            }),
            changed: Notify::new(),
        });
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(listener, inner.clone(), stop.clone()));
        Ok(Link { inner, addr, stop })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn flow(&self, direction: Direction) -> Flow {
        self.inner.state().flows[direction.index()]
    }

    /// Sets a direction's flow. Ending a blackhole resets the connection (see the module docs).
    pub fn set_flow(&self, direction: Direction, flow: Flow) {
        let mut state = self.inner.state();
        let was = std::mem::replace(&mut state.flows[direction.index()], flow);
        if was == Flow::Blackhole && flow != Flow::Blackhole {
            break_connection(&mut state);
            state.resets += 1;
        }
        drop(state);
        self.inner.changed.notify_waiters();
    }

    /// New connections go to `upstream` (a failover); the current one is broken.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        let mut state = self.inner.state();
        state.upstream = upstream;
        break_connection(&mut state);
        state.resets += 1;
        drop(state);
        self.inner.changed.notify_waiters();
    }

    /// Breaks the current connection, dropping what it holds (and refuses one that waits for
    /// its server): the client sees a reset.
    pub fn reset(&self) {
        let mut state = self.inner.state();
        break_connection(&mut state);
        state.resets += 1;
        drop(state);
        self.inner.changed.notify_waiters();
    }

    /// How many resets so far.
    pub fn resets(&self) -> u64 {
        self.inner.state().resets
    }

    /// How many protocol messages of `direction` wait in the link now.
    pub fn held(&self, direction: Direction) -> usize {
        let state = self.inner.state();
        state.connection.as_ref().map_or(0, |c| c.queues[direction.index()].iter().filter(|m| m.kind == Kind::Protocol).count())
    }

    /// Waits up to `within` until at least `count` protocol messages of `direction` wait.
    pub async fn wait_held(&self, direction: Direction, count: usize, within: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.held(direction) >= count {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("{}: {count} messages were not held within {within:?}", self.inner.name));
            }
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Lets the next held protocol message of `direction` through, and waits (up to `within`)
    /// until it has gone.
    pub async fn release(&self, direction: Direction, within: Duration) -> Result<(), String> {
        let d = direction.index();
        let target = {
            let mut state = self.inner.state();
            state.credits[d] += 1;
            state.used[d] + state.credits[d]
        };
        self.inner.changed.notify_waiters();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = self.inner.state();
                if state.used[d] >= target {
                    return Ok(());
                }
                if tokio::time::Instant::now() >= deadline {
                    state.credits[d] = state.credits[d].saturating_sub(1);
                    let held = state.connection.as_ref().map_or(0, |c| c.queues[d].len());
                    return Err(format!(
                        "{}: no {} came within {within:?} ({held} messages held, connection {})",
                        self.inner.name,
                        match direction {
                            Direction::ToServer => "request",
                            Direction::ToClient => "reply",
                        },
                        if state.connection.is_some() { "open" } else { "closed" }
                    ));
                }
            }
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.cancel();
        self.reset();
    }
}

fn break_connection(state: &mut State) {
    if let Some(connection) = state.connection.take() {
        connection.stop.cancel();
    }
}

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((client, _)) = accepted else { continue };
        let (upstream, resets) = {
            let state = inner.state();
            (state.upstream, state.resets)
        };
        let Some(server) = connect_upstream(upstream, inner.connect_wait, &stop).await else {
            // The server is down: the client's connection closes at once, as a refused one.
            continue;
        };
        if inner.state().resets != resets {
            // Reset while it waited for the server: refused.
            continue;
        }
        start_connection(&inner, client, server);
    }
}

async fn connect_upstream(upstream: SocketAddr, wait: Duration, stop: &CancellationToken) -> Option<TcpStream> {
    let deadline = Instant::now() + wait;
    loop {
        if let Ok(stream) = TcpStream::connect(upstream).await {
            return Some(stream);
        }
        if Instant::now() >= deadline || stop.is_cancelled() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Replaces the link's connection with a new one and starts its four pumps.
fn start_connection(inner: &Arc<Inner>, client: TcpStream, server: TcpStream) {
    for stream in [&client, &server] {
        let _ = stream.set_nodelay(true);
        // Closing sends a reset, so a broken connection is noticed at once on both ends.
        let _ = stream.set_zero_linger();
    }
    let stop = CancellationToken::new();
    let generation = {
        let mut state = inner.state();
        break_connection(&mut state);
        state.generations += 1;
        state.connection = Some(Connection {
            generation: state.generations,
            stop: stop.clone(),
            queues: [VecDeque::new(), VecDeque::new()],
            awaiting: VecDeque::new(),
            retrying_script: false,
        });
        state.generations
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let pump = |direction, read, write| {
        let (reader, reader_stop) = (inner.clone(), stop.clone());
        tokio::spawn(async move {
            let outcome = tokio::select! {
                () = reader_stop.cancelled() => Ok(()),
                r = read_messages(&reader, generation, direction, read) => r,
            };
            if outcome.is_err() {
                end_connection(&reader, generation);
            }
        });
        let (writer, writer_stop) = (inner.clone(), stop.clone());
        tokio::spawn(async move {
            let outcome = tokio::select! {
                () = writer_stop.cancelled() => Ok(()),
                r = write_messages(&writer, generation, direction, write) => r,
            };
            if outcome.is_err() {
                end_connection(&writer, generation);
            }
        });
    };
    pump(Direction::ToServer, client_read, server_write);
    pump(Direction::ToClient, server_read, client_write);
}

/// One end closed or failed: the connection is over (unless a newer one replaced it already).
fn end_connection(inner: &Inner, generation: u64) {
    let mut state = inner.state();
    if state.connection.as_ref().is_some_and(|c| c.generation == generation) {
        if let Some(connection) = state.connection.take() {
            connection.stop.cancel();
        }
    }
    drop(state);
    inner.changed.notify_waiters();
}

/// Reads `direction`'s messages and queues them.
async fn read_messages(inner: &Inner, generation: u64, direction: Direction, mut from: OwnedReadHalf) -> io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut messages = Vec::new();
        match inner.framing {
            Framing::Raw => messages.push(std::mem::take(&mut buf)),
            Framing::Resp => loop {
                match resp::frame_len(&buf) {
                    Ok(Some(len)) => messages.push(buf.drain(..len).collect::<Vec<u8>>()),
                    Ok(None) => break,
                    Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", inner.name))),
                }
            },
        }
        let mut state = inner.state();
        let blackhole = state.flows[direction.index()] == Flow::Blackhole;
        let Some(connection) = state.connection.as_mut().filter(|c| c.generation == generation) else { return Ok(()) };
        for bytes in messages {
            let kind = match (inner.framing, direction) {
                (Framing::Raw, _) => Kind::Protocol,
                (Framing::Resp, Direction::ToServer) => request_kind(&bytes),
                (Framing::Resp, Direction::ToClient) => connection.awaiting.pop_front().unwrap_or(Kind::Chore),
            };
            if !blackhole {
                connection.queues[direction.index()].push_back(Message { bytes, kind, arrived: Instant::now() });
            }
        }
        drop(state);
        inner.changed.notify_waiters();
    }
}

fn request_kind(request: &[u8]) -> Kind {
    match resp::command_name(request) {
        Some(command) if CHORES.contains(&command.as_str()) => Kind::Chore,
        _ => Kind::Protocol,
    }
}

/// What a direction's writer does next.
enum Next {
    Send(Vec<u8>),
    WaitUntil(Instant),
    Wait,
}

/// Forwards `direction`'s queued messages as its flow allows.
async fn write_messages(inner: &Inner, generation: u64, direction: Direction, mut to: OwnedWriteHalf) -> io::Result<()> {
    loop {
        let changed = inner.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let next = next_message(inner, generation, direction);
        match next {
            Some(Next::Send(bytes)) => to.write_all(&bytes).await?,
            Some(Next::WaitUntil(at)) => {
                tokio::select! {
                    () = changed => {}
                    () = tokio::time::sleep_until(at.into()) => {}
                }
            }
            Some(Next::Wait) => changed.await,
            None => return Ok(()),
        }
    }
}

/// Takes the next message that may go now, or says how long to wait; `None` once the
/// connection is gone.
fn next_message(inner: &Inner, generation: u64, direction: Direction) -> Option<Next> {
    let d = direction.index();
    let mut guard = inner.state();
    let state = &mut *guard;
    let connection = state.connection.as_mut().filter(|c| c.generation == generation)?;
    let Some(head) = connection.queues[d].front() else { return Some(Next::Wait) };
    let go = match state.flows[d] {
        Flow::Pass => true,
        Flow::Blackhole => {
            connection.queues[d].clear();
            return Some(Next::Wait);
        }
        Flow::Delay(delay) => {
            let due = head.arrived + delay;
            if Instant::now() < due {
                return Some(Next::WaitUntil(due));
            }
            true
        }
        Flow::Hold => {
            if head.kind == Kind::Chore {
                true
            } else if direction == Direction::ToServer && connection.retrying_script {
                connection.retrying_script = false;
                true
            } else if direction == Direction::ToClient && resp::is_noscript(&head.bytes) {
                connection.retrying_script = true;
                true
            } else if state.credits[d] > 0 {
                state.credits[d] -= 1;
                state.used[d] += 1;
                true
            } else {
                false
            }
        }
    };
    if !go {
        return Some(Next::Wait);
    }
    let message = connection.queues[d].pop_front()?;
    if direction == Direction::ToServer && inner.framing == Framing::Resp {
        // Queued before the bytes go, so the reply always finds its kind.
        connection.awaiting.push_back(message.kind);
    }
    drop(guard);
    // A credit used or a message gone may be what `release` waits for.
    inner.changed.notify_waiters();
    Some(Next::Send(message.bytes))
}
