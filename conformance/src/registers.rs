//! The protected resources that the shipped crate leaves out on purpose, as test tooling: a
//! register that checks nothing (the model's `Unfenced`) and one that checks the token, then
//! writes in a second step (`FencedCheckThenWrite`, reza_n's case). Both are `u64` registers in
//! a Redis hash on the run's resource server, driven through the client's fenced read and write
//! (which record `resource_read` and `write_applied`), like the crate's own adapters
//! (`RedisFenced`, `PostgresFenced`), which the runs use for atomic fencing.

use crate::history::ResourceTurn;
use redlock_client::fence::{FencedResource, PostgresFenced, Read, RedisFenceError, RedisFenced, Write};
use redlock_client::redis::{self, aio::MultiplexedConnection};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// A register that applies every write, whatever its token.
#[derive(Clone)]
pub struct UnfencedRegister {
    conn: MultiplexedConnection,
    key: String,
}

impl UnfencedRegister {
    pub fn new(conn: MultiplexedConnection, key: impl Into<String>) -> UnfencedRegister {
        UnfencedRegister { conn, key: key.into() }
    }
}

async fn field(conn: &MultiplexedConnection, key: &str, name: &str) -> Result<u64, RedisFenceError> {
    let text: Option<String> =
        redis::cmd("HGET").arg(key).arg(name).query_async(&mut conn.clone()).await.map_err(RedisFenceError::Redis)?;
    let text = text.unwrap_or_else(|| "0".into());
    text.parse().map_err(|_| RedisFenceError::Corrupt { key: key.into(), found: text })
}

async fn set_field(conn: &MultiplexedConnection, key: &str, name: &str, value: u64) -> Result<(), RedisFenceError> {
    redis::cmd("HSET").arg(key).arg(name).arg(value).exec_async(&mut conn.clone()).await.map_err(RedisFenceError::Redis)
}

impl FencedResource for UnfencedRegister {
    type Error = RedisFenceError;

    async fn read(&self, _token: u64, _holder: &str) -> Result<Read, RedisFenceError> {
        Ok(Read { value: field(&self.conn, &self.key, "value").await?, fence: 0, holder: String::new() })
    }

    async fn write(&self, _token: u64, _holder: &str, value: u64) -> Result<Write, RedisFenceError> {
        set_field(&self.conn, &self.key, "value", value).await?;
        Ok(Write::Applied)
    }
}

/// What happens between a check-then-write register's check and its write.
#[derive(Clone)]
pub enum ApplyGap {
    /// The write lands this long after its check (the soak).
    Sleep(Duration),
    /// The write lands when the harness says so (a replay's `Apply` step).
    Gate(Arc<ApplyGate>),
}

/// Lets a replay see a write's check happen and decide when the write lands.
pub struct ApplyGate {
    checked: Semaphore,
    apply: Semaphore,
}

impl Default for ApplyGate {
    fn default() -> Self {
        ApplyGate { checked: Semaphore::new(0), apply: Semaphore::new(0) }
    }
}

impl ApplyGate {
    /// Waits until a write has passed its check.
    pub async fn checked(&self) {
        self.checked.acquire().await.expect("never closed").forget();
    }

    /// Lets the checked write land.
    pub fn apply(&self) {
        self.apply.add_permits(1);
    }
}

/// A register that checks the token against the largest seen, then writes as a separate step:
/// a newer holder's write can land in between, and the older one lands after it.
#[derive(Clone)]
pub struct CheckThenWriteRegister {
    /// Reads raise the largest token seen, as the crate's atomic register does.
    reads: RedisFenced,
    conn: MultiplexedConnection,
    key: String,
    gap: ApplyGap,
}

impl CheckThenWriteRegister {
    pub fn new(conn: MultiplexedConnection, key: impl Into<String>, gap: ApplyGap) -> CheckThenWriteRegister {
        let key = key.into();
        CheckThenWriteRegister { reads: RedisFenced::new(conn.clone(), key.clone()), conn, key, gap }
    }
}

impl FencedResource for CheckThenWriteRegister {
    type Error = RedisFenceError;

    async fn read(&self, token: u64, holder: &str) -> Result<Read, RedisFenceError> {
        self.reads.read(token, holder).await
    }

    /// The model's check-then-write resource: any token at least the fence passes the check
    /// (the check, not the holder, is what this register is about).
    async fn write(&self, token: u64, _holder: &str, value: u64) -> Result<Write, RedisFenceError> {
        let fence = field(&self.conn, &self.key, "fence").await?;
        if token < fence {
            return Ok(Write::Rejected { fence });
        }
        set_field(&self.conn, &self.key, "fence", token).await?;
        match &self.gap {
            ApplyGap::Sleep(gap) => tokio::time::sleep(*gap).await,
            ApplyGap::Gate(gate) => {
                gate.checked.add_permits(1);
                gate.apply.acquire().await.expect("never closed").forget();
            }
        }
        set_field(&self.conn, &self.key, "value", value).await?;
        Ok(Write::Applied)
    }
}

/// The register a run's clients write: one of the two above, or one of the crate's atomic
/// adapters; every operation of the atomic ones in the run's [`ResourceTurn`], so that the
/// history records them in the order the register applied them.
#[derive(Clone)]
pub struct Register {
    kind: RegisterKind,
    turn: Option<ResourceTurn>,
}

#[derive(Clone)]
enum RegisterKind {
    Unfenced(UnfencedRegister),
    CheckThenWrite(CheckThenWriteRegister),
    Redis(RedisFenced),
    Postgres(PostgresFenced),
}

impl Register {
    /// Runs `operation` in the turn, if the register takes one.
    async fn in_turn<T>(&self, operation: impl Future<Output = Result<T, RegisterError>>) -> Result<T, RegisterError> {
        let ticket = match &self.turn {
            Some(turn) => Some(turn.take().await),
            None => None,
        };
        let result = operation.await;
        if let (Some(ticket), Ok(_)) = (ticket, &result) {
            ticket.until_recorded();
        }
        result
    }
}

/// A register's failure, in words.
#[derive(Debug)]
pub struct RegisterError(String);

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RegisterError {}

fn failed(e: impl std::fmt::Display) -> RegisterError {
    RegisterError(e.to_string())
}

impl FencedResource for Register {
    type Error = RegisterError;

    async fn read(&self, token: u64, holder: &str) -> Result<Read, RegisterError> {
        self.in_turn(async {
            match &self.kind {
                RegisterKind::Unfenced(r) => r.read(token, holder).await.map_err(failed),
                RegisterKind::CheckThenWrite(r) => r.read(token, holder).await.map_err(failed),
                RegisterKind::Redis(r) => r.read(token, holder).await.map_err(failed),
                RegisterKind::Postgres(r) => r.read(token, holder).await.map_err(failed),
            }
        })
        .await
    }

    async fn write(&self, token: u64, holder: &str, value: u64) -> Result<Write, RegisterError> {
        self.in_turn(async {
            match &self.kind {
                RegisterKind::Unfenced(r) => r.write(token, holder, value).await.map_err(failed),
                RegisterKind::CheckThenWrite(r) => r.write(token, holder, value).await.map_err(failed),
                RegisterKind::Redis(r) => r.write(token, holder, value).await.map_err(failed),
                RegisterKind::Postgres(r) => r.write(token, holder, value).await.map_err(failed),
            }
        })
        .await
    }
}

/// Where a client's register lives; each client thread connects its own (connections belong to
/// the runtime that opens them).
#[derive(Clone)]
pub enum RegisterSpec {
    Unfenced {
        url: String,
        key: String,
    },
    CheckThenWrite {
        url: String,
        key: String,
        gap: ApplyGap,
    },
    Redis {
        url: String,
        key: String,
    },
    /// `config` is a tokio-postgres connection string; the table exists already.
    Postgres {
        config: String,
        table: String,
        id: String,
    },
}

impl RegisterSpec {
    /// Connects, on the current runtime; the atomic registers take `turn` for each operation.
    pub async fn connect(&self, turn: ResourceTurn) -> Result<Register, String> {
        let redis_conn = |url: &str| {
            let url = url.to_string();
            async move {
                redis::Client::open(url.as_str())
                    .map_err(|e| e.to_string())?
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        let kind = match self {
            RegisterSpec::Unfenced { url, key } => RegisterKind::Unfenced(UnfencedRegister::new(redis_conn(url).await?, key.clone())),
            RegisterSpec::CheckThenWrite { url, key, gap } => {
                RegisterKind::CheckThenWrite(CheckThenWriteRegister::new(redis_conn(url).await?, key.clone(), gap.clone()))
            }
            RegisterSpec::Redis { url, key } => RegisterKind::Redis(RedisFenced::new(redis_conn(url).await?, key.clone())),
            RegisterSpec::Postgres { config, table, id } => {
                let (client, connection) = redlock_client::tokio_postgres::connect(config, redlock_client::tokio_postgres::NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                RegisterKind::Postgres(PostgresFenced::new(Arc::new(client), table, id.clone()))
            }
        };
        let turn = (!matches!(kind, RegisterKind::CheckThenWrite(_))).then_some(turn);
        Ok(Register { kind, turn })
    }
}
