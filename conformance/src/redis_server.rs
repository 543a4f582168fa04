//! One real `redis-server` process (Debian's `/usr/bin/redis-server`) on a loopback port, in
//! its own directory, with the persistence a run asks for. It can be paused (SIGSTOP), killed
//! (SIGKILL) and restarted on the same port from the same directory, so that what it kept on
//! disk is all it remembers.

use crate::process::{free_port, temp_dir, Child};
use redlock_client::redis;
use std::io;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a server keeps across a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// Nothing: it restarts empty (`--save "" --appendonly no`).
    None,
    /// An append-only file fsynced before every reply (`--appendfsync always`).
    AofAlways,
}

/// A `redis-server` process. Killed, and its directory removed, when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    persistence: Persistence,
    dir: TempDir,
    /// `--replicaof` for the next start (a replica restarts as one).
    replica_of: Option<SocketAddr>,
}

const READY_WITHIN: Duration = Duration::from_secs(10);

impl RedisServer {
    /// Starts a server on a free loopback port.
    pub async fn start(persistence: Persistence) -> io::Result<RedisServer> {
        RedisServer::start_with(persistence, None).await
    }

    /// Starts a replica of the server reachable at `primary`.
    pub async fn start_replica(primary: SocketAddr) -> io::Result<RedisServer> {
        RedisServer::start_with(Persistence::None, Some(primary)).await
    }

    async fn start_with(persistence: Persistence, replica_of: Option<SocketAddr>) -> io::Result<RedisServer> {
        let mut dir = temp_dir("redis-")?;
        let mut last_error = None;
        for _ in 0..5 {
            let mut server = RedisServer { child: None, port: free_port()?, persistence, dir, replica_of };
            match server.launch().await {
                Ok(()) => return Ok(server),
                // Another process took the port between our probe and the server's bind.
                Err(e) => {
                    last_error = Some(e);
                    dir = server.take_dir();
                }
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    fn take_dir(self) -> TempDir {
        let RedisServer { mut child, dir, .. } = self;
        if let Some(child) = child.as_mut() {
            child.kill();
        }
        dir
    }

    async fn launch(&mut self) -> io::Result<()> {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--daemonize", "no", "--save", ""])
            // A replica's full sync starts at once (the default waits 5 s for more replicas).
            .args(["--repl-diskless-sync-delay", "0"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match self.persistence {
            Persistence::None => cmd.args(["--appendonly", "no"]),
            Persistence::AofAlways => cmd.args(["--appendonly", "yes", "--appendfsync", "always"]),
        };
        if let Some(primary) = self.replica_of {
            cmd.args(["--replicaof", &primary.ip().to_string(), &primary.port().to_string()]);
        }
        let child = Child::spawn(cmd).map_err(|e| io::Error::new(e.kind(), format!("redis-server: {e} (apt-get install redis-server)")))?;
        self.child = Some(child);
        self.wait_ready().await
    }

    /// Waits until the server answers PING with PONG (not LOADING).
    async fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if self.child.as_mut().is_none_or(|c| c.exited()) {
                return Err(io::Error::other(format!("redis-server on port {} exited at start", self.port)));
            }
            if ping(self.addr()).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Err(io::Error::other(format!("redis-server on port {} not ready within {READY_WITHIN:?}", self.port)))
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    pub fn persistence(&self) -> Persistence {
        self.persistence
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Freezes the process: it keeps its sockets and answers nothing.
    pub fn pause(&self) -> io::Result<()> {
        self.running()?.signal(libc::SIGSTOP)
    }

    /// Lets a frozen process run again.
    pub fn resume(&self) -> io::Result<()> {
        self.running()?.signal(libc::SIGCONT)
    }

    fn running(&self) -> io::Result<&Child> {
        self.child.as_ref().ok_or_else(|| io::Error::other("the server is down"))
    }

    /// SIGKILL: no shutdown, no last save; what it fsynced is all it keeps.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    /// Starts the killed server again on its port, from its directory.
    pub async fn restart(&mut self) -> io::Result<()> {
        self.kill();
        self.launch().await
    }

    /// A direct connection (not through any proxy), for the harness's own look at the server.
    pub async fn connect(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        redis::Client::open(self.url())?.get_multiplexed_async_connection().await
    }

    /// `REPLICAOF NO ONE`: a replica becomes a primary, with whatever it has received.
    pub async fn promote(&mut self) -> redis::RedisResult<()> {
        self.replica_of = None;
        redis::cmd("REPLICAOF").arg("NO").arg("ONE").exec_async(&mut self.connect().await?).await
    }

    /// The value of one field of `INFO replication` (`master_link_status`, `master_repl_offset`...).
    pub async fn replication_field(&self, field: &str) -> redis::RedisResult<Option<String>> {
        let info: String = redis::cmd("INFO").arg("replication").query_async(&mut self.connect().await?).await?;
        Ok(info
            .lines()
            .find_map(|line| line.strip_prefix(field).and_then(|rest| rest.strip_prefix(':')))
            .map(|v| v.trim().to_string()))
    }
}

/// One PING on a fresh connection: whether the server answers PONG now.
async fn ping(addr: SocketAddr) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).await?;
        io::Result::Ok(&reply == b"+PONG\r\n")
    };
    matches!(tokio::time::timeout(Duration::from_millis(200), attempt).await, Ok(Ok(true)))
}
