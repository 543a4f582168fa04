//! A replay's client: the shipped client (Redis or etcd, or a pitfall client) on its own
//! thread, doing what the schedule tells it, when it tells it.

use super::translate::{ClientCode, RealConfig};
use crate::client_thread::{ClientThread, PauseGate};
use crate::history::History;
use crate::pitfall::PitfallClient;
use crate::registers::{Register, RegisterSpec};
use redlock_client::etcd::{EtcdClient, EtcdGuard};
use redlock_client::event::ClientId;
use redlock_client::fault::FencedOp;
use redlock_client::{Client, Fencing, Guard};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

type Done = oneshot::Sender<Result<(), String>>;

/// What the schedule asks of a client.
enum Command {
    Acquire,
    Read(Done),
    Write(Done),
    /// Keeps the etcd lock's lease alive (the model's keep-alive timer).
    KeepAlive,
    Release,
}

/// The lock code a worker runs.
enum Locker {
    Shipped { client: Client, guard: Option<Guard> },
    Pitfall(PitfallClient),
    Etcd { client: EtcdClient, guard: Option<EtcdGuard> },
}

/// The schedule's handle on one client.
pub struct Worker {
    commands: mpsc::UnboundedSender<Command>,
    stop: CancellationToken,
    thread: Option<ClientThread>,
    pub gate: Arc<PauseGate>,
    /// A read or write that went out and was not awaited yet: a pause blocked it, or it waits
    /// at a check-then-write register.
    in_flight: Option<(FencedOp, oneshot::Receiver<Result<(), String>>)>,
}

impl Worker {
    /// Starts client `id` on its own thread, reaching the nodes at `urls`.
    pub fn start(
        id: usize,
        urls: Vec<String>,
        config: &RealConfig,
        history: &History,
        register: Option<RegisterSpec>,
    ) -> std::io::Result<Worker> {
        let (commands, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let gate = PauseGate::new(ClientId(id as u32), history.clone());
        let (config, history, hook, thread_stop) = (config.clone(), history.clone(), gate.hook(), stop.clone());
        let thread = ClientThread::spawn(format!("replay client {id}"), move || async move {
            let recorder = history.recorder();
            let locker = match config.code {
                ClientCode::Shipped { fenced } => {
                    let built = Client::builder(urls)
                        .ttl(Duration::from_millis(config.params.ttl_ms))
                        .drift(0, Duration::from_millis(config.params.drift_fixed_ms))
                        .node_timeout(Duration::from_millis(config.params.node_timeout_ms))
                        .retries(config.params.retries)
                        .retry_delay(
                            Duration::from_millis(config.params.retry_delay_min_ms)
                                ..=Duration::from_millis(config.params.retry_delay_max_ms),
                        )
                        .extend_interval(config.extend_interval)
                        .fencing(if fenced { Fencing::Counter } else { Fencing::Off })
                        .client_id(ClientId(id as u32))
                        .recorder(recorder)
                        .pause_hook(hook)
                        .build();
                    match built {
                        Ok(client) => Locker::Shipped { client, guard: None },
                        Err(e) => return eprintln!("replay client {id}: {e}"),
                    }
                }
                ClientCode::Etcd => {
                    let built = EtcdClient::builder(urls)
                        .ttl(Duration::from_millis(config.params.ttl_ms))
                        .request_timeout(Duration::from_millis(config.params.node_timeout_ms))
                        .acquire_timeout(config.acquire_timeout)
                        .client_id(ClientId(id as u32))
                        .recorder(recorder)
                        .pause_hook(hook)
                        .build();
                    match built {
                        Ok(client) => Locker::Etcd { client, guard: None },
                        Err(e) => return eprintln!("replay client {id}: {e}"),
                    }
                }
                ClientCode::Harness(commands) => Locker::Pitfall(PitfallClient::new(
                    ClientId(id as u32),
                    &urls[0],
                    config.params.clone(),
                    commands,
                    history.lock(),
                    recorder,
                )),
            };
            let register = match register {
                Some(spec) => match spec.connect(history.resource_turn()).await {
                    Ok(r) => Some(r),
                    Err(e) => return eprintln!("replay client {id}: the register: {e}"),
                },
                None => None,
            };
            tokio::select! {
                () = thread_stop.cancelled() => {}
                () = serve(locker, register, history.lock().to_string(), rx) => {}
            }
        })?;
        Ok(Worker { commands, stop, thread: Some(thread), gate, in_flight: None })
    }

    pub fn acquire(&self) {
        let _ = self.commands.send(Command::Acquire);
    }

    pub fn release(&self) {
        let _ = self.commands.send(Command::Release);
    }

    pub fn keep_alive(&self) {
        let _ = self.commands.send(Command::KeepAlive);
    }

    /// Sends a read or write and keeps it in flight (a pause or a register may hold it).
    pub fn send(&mut self, op: FencedOp) {
        let (done, rx) = oneshot::channel();
        let _ = self.commands.send(match op {
            FencedOp::Read => Command::Read(done),
            FencedOp::Write => Command::Write(done),
        });
        self.in_flight = Some((op, rx));
    }

    /// Whether a read or write of kind `op` is in flight.
    pub fn has_in_flight(&self, op: FencedOp) -> bool {
        self.in_flight.as_ref().is_some_and(|(o, _)| *o == op)
    }

    /// Waits up to `within` for the read or write in flight to complete.
    pub async fn finish(&mut self, within: Duration) -> Result<(), String> {
        let Some((op, rx)) = self.in_flight.take() else { return Err("nothing in flight".into()) };
        match tokio::time::timeout(within, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(format!("the client stopped before its {op:?} completed")),
            Err(_) => Err(format!("its {op:?} did not complete within {within:?}")),
        }
    }

    /// Stops the client at once (a crash, or the end of the replay).
    pub fn stop(&mut self) {
        self.gate.resume();
        self.stop.cancel();
    }

    /// Stops the client and waits a little for its thread.
    pub fn join(mut self) {
        self.stop();
        if let Some(thread) = self.thread.take() {
            thread.join(Duration::from_secs(2));
        }
    }
}

/// Carries out the schedule's commands in order.
async fn serve(mut locker: Locker, register: Option<Register>, lock: String, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut last_read = 0;
    while let Some(command) = commands.recv().await {
        match command {
            Command::Acquire => match &mut locker {
                Locker::Shipped { client, guard } => *guard = client.acquire(&lock).await.ok(),
                Locker::Pitfall(p) => {
                    let _ = p.acquire().await;
                }
                Locker::Etcd { client, guard } => *guard = client.acquire(&lock).await.ok(),
            },
            Command::KeepAlive => {
                if let Locker::Etcd { guard: Some(g), .. } = &mut locker {
                    let _ = g.extend().await;
                }
            }
            Command::Release => match &mut locker {
                Locker::Shipped { guard, .. } => {
                    if let Some(g) = guard.take() {
                        // Waits for the answers in the background: they come when the schedule
                        // delivers them.
                        tokio::spawn(g.release());
                    }
                }
                Locker::Pitfall(p) => p.release(),
                Locker::Etcd { guard, .. } => {
                    if let Some(g) = guard.take() {
                        tokio::spawn(g.release());
                    }
                }
            },
            Command::Read(done) => {
                let result = match (&locker, &register) {
                    (Locker::Shipped { guard: Some(g), .. }, Some(r)) => {
                        g.read(r).await.map(|read| last_read = read.value).map_err(|e| e.to_string())
                    }
                    (Locker::Etcd { guard: Some(g), .. }, Some(r)) => {
                        g.read(r).await.map(|read| last_read = read.value).map_err(|e| e.to_string())
                    }
                    _ => Err("no lock held or no register to read".into()),
                };
                let _ = done.send(result);
            }
            Command::Write(done) => {
                let result = match (&locker, &register) {
                    (Locker::Shipped { guard: Some(g), .. }, Some(r)) => {
                        g.write(r, last_read + 1).await.map(drop).map_err(|e| e.to_string())
                    }
                    (Locker::Etcd { guard: Some(g), .. }, Some(r)) => g.write(r, last_read + 1).await.map(drop).map_err(|e| e.to_string()),
                    _ => Err("no lock held or no register to write".into()),
                };
                let _ = done.send(result);
            }
        }
    }
}
