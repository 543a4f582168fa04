//! One real `redis-server` process (Debian's) on a loopback port, in its own directory, with the
//! persistence, password and TLS asked for. It can be paused (SIGSTOP), killed (SIGKILL) and
//! restarted on the same port from the same directory, so that what it kept on disk is all it
//! remembers.

use crate::process::{free_port, temp_dir, Child};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// What a server keeps across a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// Nothing: it restarts empty (`--save "" --appendonly no`).
    #[default]
    None,
    /// An append-only file fsynced before every reply (`--appendfsync always`).
    AofAlways,
}

/// How to start a server.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub persistence: Persistence,
    /// `--replicaof` (a replica restarts as one until promoted).
    pub replica_of: Option<SocketAddr>,
    /// `--requirepass`: clients must AUTH.
    pub password: Option<String>,
    /// Speak only TLS, with this certificate (the plain port is off).
    pub tls: Option<Tls>,
    /// `--maxmemory` (bytes) and `--maxmemory-policy`: a server that evicts keys under memory
    /// pressure.
    pub maxmemory: Option<(u64, String)>,
}

/// A `redis-server` process. Killed, and its directory removed, when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    config: Config,
    dir: TempDir,
}

const READY_WITHIN: Duration = Duration::from_secs(10);

impl RedisServer {
    /// Starts a plain server on a free loopback port.
    pub async fn start(persistence: Persistence) -> io::Result<RedisServer> {
        RedisServer::start_with(Config { persistence, ..Config::default() }).await
    }

    /// Starts a replica of the server reachable at `primary`.
    pub async fn start_replica(primary: SocketAddr) -> io::Result<RedisServer> {
        RedisServer::start_with(Config { replica_of: Some(primary), ..Config::default() }).await
    }

    pub async fn start_with(config: Config) -> io::Result<RedisServer> {
        let mut server = RedisServer { child: None, port: 0, config, dir: temp_dir("redis-")? };
        let mut last_error = None;
        for _ in 0..5 {
            server.port = free_port()?;
            match server.launch().await {
                Ok(()) => return Ok(server),
                // Another process took the port between our probe and the server's bind.
                Err(e) => {
                    server.kill();
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    async fn launch(&mut self) -> io::Result<()> {
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        match &self.config.tls {
            None => cmd.args(["--port", &port]),
            Some(tls) => cmd
                .args(["--port", "0", "--tls-port", &port, "--tls-auth-clients", "no"])
                .arg("--tls-cert-file")
                .arg(tls.path("server.crt"))
                .arg("--tls-key-file")
                .arg(tls.path("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(tls.path("ca.crt")),
        };
        cmd.args(["--bind", "127.0.0.1", "--daemonize", "no", "--save", ""])
            // A replica's full sync starts at once (the default waits 5 s for more replicas).
            .args(["--repl-diskless-sync-delay", "0"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match self.config.persistence {
            Persistence::None => cmd.args(["--appendonly", "no"]),
            Persistence::AofAlways => cmd.args(["--appendonly", "yes", "--appendfsync", "always"]),
        };
        if let Some(primary) = self.config.replica_of {
            cmd.args(["--replicaof", &primary.ip().to_string(), &primary.port().to_string()]);
        }
        if let Some(password) = &self.config.password {
            cmd.args(["--requirepass", password]);
        }
        if let Some((bytes, policy)) = &self.config.maxmemory {
            cmd.args(["--maxmemory", &bytes.to_string(), "--maxmemory-policy", policy]);
        }
        let child = Child::spawn(cmd).map_err(|e| io::Error::new(e.kind(), format!("redis-server: {e} (apt-get install redis-server)")))?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if self.child.as_mut().is_none_or(|c| c.exited()) {
                return Err(io::Error::other(format!("redis-server on port {} exited at start", self.port)));
            }
            if self.ready() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Err(io::Error::other(format!("redis-server on port {} not ready within {READY_WITHIN:?}", self.port)))
    }

    /// Whether the server serves now: it answers PING with PONG (not LOADING), after AUTH if it
    /// has a password; a TLS server, whether it accepts connections. A blocking call on a
    /// loopback socket: well under a millisecond while the server starts (200 ms at most).
    fn ready(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)) else {
            return false;
        };
        if self.config.tls.is_some() {
            return true;
        }
        let limit = Some(Duration::from_millis(200));
        if stream.set_read_timeout(limit).is_err() || stream.set_write_timeout(limit).is_err() {
            return false;
        }
        let mut request = Vec::new();
        if let Some(password) = &self.config.password {
            request.extend(format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{password}\r\n", password.len()).bytes());
        }
        request.extend(b"PING\r\n");
        if stream.write_all(&request).is_err() {
            return false;
        }
        // One line a reply: AUTH's (if sent), then PING's.
        let lines = 1 + usize::from(self.config.password.is_some());
        let mut reply = Vec::new();
        let mut buf = [0u8; 64];
        while reply.iter().filter(|&&b| b == b'\n').count() < lines {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return false,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            }
        }
        reply.ends_with(b"+PONG\r\n")
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://` or `rediss://`, with `:password@` when it has one.
    pub fn url(&self) -> String {
        let scheme = if self.config.tls.is_some() { "rediss" } else { "redis" };
        let auth = self.config.password.as_ref().map_or(String::new(), |p| format!(":{p}@"));
        format!("{scheme}://{auth}{}", self.addr())
    }

    pub fn persistence(&self) -> Persistence {
        self.config.persistence
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

    /// A direct connection to a plain server (not through any proxy), to look at or tamper with
    /// its keys.
    pub async fn connect(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        redis::Client::open(self.url())?.get_multiplexed_async_connection().await
    }

    /// A replica that something else (Sentinel) promoted: it restarts as a primary from now on.
    pub fn promoted(&mut self) {
        self.config.replica_of = None;
    }

    /// The value of one field of `INFO replication` (`master_link_status`, `master_repl_offset`...).
    pub async fn replication_field(&self, field: &str) -> redis::RedisResult<Option<String>> {
        let info: String = redis::cmd("INFO").arg("replication").query_async(&mut self.connect().await?).await?;
        Ok(info.lines().find_map(|line| line.strip_prefix(field).and_then(|rest| rest.strip_prefix(':'))).map(|v| v.trim().to_string()))
    }
}

/// A certificate authority and a server certificate for 127.0.0.1 signed by it, made with the
/// `openssl` command in a temporary directory (kept while any clone lives).
#[derive(Clone, Debug)]
pub struct Tls {
    dir: Arc<TempDir>,
}

impl Tls {
    pub fn new() -> io::Result<Tls> {
        let dir = temp_dir("tls-")?;
        let openssl = |args: &[&str]| -> io::Result<()> {
            let status = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| io::Error::new(e.kind(), format!("openssl: {e} (apt-get install openssl)")))?;
            if status.success() {
                Ok(())
            } else {
                Err(io::Error::other(format!("openssl {args:?}: {status}")))
            }
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        openssl(&[&["req", "-x509"], &ec[..], &["-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test CA"]].concat())?;
        openssl(&[&["req"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat())?;
        std::fs::write(dir.path().join("san.ext"), "subjectAltName=IP:127.0.0.1\n")?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ])?;
        // redis-server runs as us and reads the key: nothing else to do.
        Ok(Tls { dir: Arc::new(dir) })
    }

    fn path(&self, file: &str) -> std::path::PathBuf {
        self.dir.path().join(file)
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> io::Result<Vec<u8>> {
        std::fs::read(self.path("ca.crt"))
    }
}
