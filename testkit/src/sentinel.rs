//! Redis Sentinel as deployed: three sentinels (`redis-server <config> --sentinel`, the same
//! binary as the servers) watching one primary, each on a loopback port in its own temporary
//! directory. When the primary dies they agree that it is down (a quorum of two) and promote
//! a replica. The primary is declared down after 1 s without an answer (the production
//! default is 30 s), so that a test waits seconds for a failover, not minutes. Not shorter: a
//! sentinel starts timing a newly promoted primary when it switches to it, before its new
//! links have had an answer, and with 200 ms the sentinels declared each new primary down in
//! turn and failed over from one replica to the other and back.

use crate::process::{free_port, temp_dir, Child};
use std::io;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The name the sentinels know the primary by.
pub const MASTER: &str = "lock";

/// One sentinel process (killed when its `Child` drops).
struct Sentinel {
    _child: Child,
    port: u16,
    _dir: TempDir,
}

/// Three sentinels watching one primary. Killed, and their directories removed, when dropped.
pub struct Sentinels {
    sentinels: Vec<Sentinel>,
}

impl Sentinels {
    /// Starts three sentinels on `primary` and waits until each knows the other two and the
    /// primary's replicas (they find each other through the primary, within a few seconds):
    /// before that, a failover could find no quorum.
    pub async fn start(primary: SocketAddr, replicas: usize) -> io::Result<Sentinels> {
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            sentinels.push(Sentinel::start(primary)?);
        }
        let all = Sentinels { sentinels };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut acquainted = true;
            for s in &all.sentinels {
                let others = s.query(&["SENTINEL", "SENTINELS", MASTER]).await.map(|v| v.len()).unwrap_or(0);
                let known = s.query(&["SENTINEL", "REPLICAS", MASTER]).await.map(|v| v.len()).unwrap_or(0);
                acquainted &= others >= 2 && known >= replicas;
            }
            if acquainted {
                return Ok(all);
            }
            if Instant::now() >= deadline {
                return Err(io::Error::other("the sentinels did not find each other and the replicas within 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The primary's address as the sentinels now report it, once a majority of them agree.
    pub async fn primary(&self) -> Option<SocketAddr> {
        let mut seen = Vec::new();
        for s in &self.sentinels {
            let reply: Option<Vec<String>> = s.command(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER]).await.ok();
            if let Some([host, port]) = reply.as_deref() {
                if let Ok(addr) = format!("{host}:{port}").parse::<SocketAddr>() {
                    seen.push(addr);
                }
            }
        }
        seen.iter().copied().find(|a| seen.iter().filter(|b| *b == a).count() >= 2)
    }

    /// Waits until a majority of the sentinels report a primary other than `old` (they detected
    /// its death and promoted a replica), and returns it.
    pub async fn failed_over(&self, old: SocketAddr, within: Duration) -> Result<SocketAddr, String> {
        let deadline = Instant::now() + within;
        loop {
            match self.primary().await {
                Some(new) if new != old => return Ok(new),
                _ if Instant::now() >= deadline => return Err(format!("the sentinels promoted no replica of {old} within {within:?}")),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

impl Sentinel {
    fn start(primary: SocketAddr) -> io::Result<Sentinel> {
        let dir = temp_dir("sentinel-")?;
        let port = free_port()?;
        let config = dir.path().join("sentinel.conf");
        // Sentinel rewrites its configuration as it learns: the file must be its own.
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {dir}/sentinel.log\n\
                 sentinel monitor {MASTER} {ip} {primary_port} 2\n\
                 sentinel down-after-milliseconds {MASTER} 1000\n\
                 sentinel failover-timeout {MASTER} 2000\n\
                 sentinel parallel-syncs {MASTER} 1\n",
                dir = dir.path().display(),
                ip = primary.ip(),
                primary_port = primary.port(),
            ),
        )?;
        let mut cmd = Command::new("redis-server");
        cmd.arg(&config).arg("--sentinel").stdout(Stdio::null()).stderr(Stdio::null());
        let child = Child::spawn(cmd)
            .map_err(|e| io::Error::new(e.kind(), format!("redis-server --sentinel: {e} (apt-get install redis-server)")))?;
        Ok(Sentinel { _child: child, port, _dir: dir })
    }

    async fn connection(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        redis::Client::open(format!("redis://127.0.0.1:{}", self.port))?.get_multiplexed_async_connection().await
    }

    async fn command<T: redis::FromRedisValue>(&self, args: &[&str]) -> redis::RedisResult<T> {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async(&mut self.connection().await?).await
    }

    async fn query(&self, args: &[&str]) -> redis::RedisResult<Vec<redis::Value>> {
        self.command(args).await
    }
}
