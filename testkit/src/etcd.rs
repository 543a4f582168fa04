//! An etcd cluster from Debian's `etcd-server` (one member or three) on free loopback ports,
//! each member in its own temporary directory, stopped and removed like every other server.
//!
//! All members start at once: an etcd 3.4 member does not serve clients until it has published
//! itself through Raft, which needs a quorum, so starting them one by one would wait forever.
//! Elections are tuned for tests (heartbeat 10 ms, election timeout 100 ms: a leader within a
//! fraction of a second, and etcd's minimum lease TTL is then 1 s).

use crate::ensemble::{start_with_retries, Ensemble};
use crate::process::{free_port, temp_dir, Child};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a cluster may take to elect a leader and answer.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// Starts tried, each on fresh ports, before a cluster that would not come up is an error: a
/// free port is only free until another process takes it (a busy machine runs other tests'
/// servers at the same time), and then a member exits at once.
const START_TRIES: usize = 3;

/// One member: its process, ports and directory.
pub struct Member {
    pub name: String,
    child: Option<Child>,
    pub client_port: u16,
    pub peer_port: u16,
    dir: TempDir,
}

impl Member {
    /// `http://127.0.0.1:<client port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

/// A running etcd cluster. Every member is killed and its directory removed when dropped.
pub struct EtcdCluster {
    pub members: Vec<Member>,
    initial_cluster: String,
    token: String,
}

impl EtcdCluster {
    /// Starts `size` members (1 or 3, say) and waits until the cluster has a leader. A start
    /// whose member exits (a port taken meanwhile) or that elects no leader in time is tried
    /// again on fresh ports, up to `START_TRIES` times.
    pub fn start(size: usize) -> io::Result<EtcdCluster> {
        start_with_retries("etcd", START_TRIES, || EtcdCluster::start_once(size))
    }

    fn start_once(size: usize) -> io::Result<EtcdCluster> {
        let mut members = Vec::with_capacity(size);
        for i in 0..size {
            members.push(Member {
                name: format!("m{i}"),
                child: None,
                client_port: free_port()?,
                peer_port: free_port()?,
                dir: temp_dir("etcd-")?,
            });
        }
        let initial_cluster = members.iter().map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port)).collect::<Vec<_>>().join(",");
        let token = format!("redlock-{}-{}", std::process::id(), members[0].client_port);
        let mut cluster = EtcdCluster { members, initial_cluster, token };
        for i in 0..size {
            cluster.launch(i)?;
        }
        cluster.wait_serving()?;
        Ok(cluster)
    }

    /// The client URLs of every member.
    pub fn urls(&self) -> Vec<String> {
        self.members.iter().map(Member::url).collect()
    }
}

impl Ensemble for EtcdCluster {
    fn size(&self) -> usize {
        self.members.len()
    }

    fn client_port(&self, i: usize) -> u16 {
        self.members[i].client_port
    }

    fn process(&self, i: usize) -> Option<&Child> {
        self.members[i].child.as_ref()
    }

    fn take_process(&mut self, i: usize) -> Option<Child> {
        self.members[i].child.take()
    }

    fn launch(&mut self, i: usize) -> io::Result<()> {
        let m = &self.members[i];
        let client = m.url();
        let peer = format!("http://127.0.0.1:{}", m.peer_port);
        let mut cmd = Command::new("etcd");
        cmd.args(["--name", &m.name])
            .arg("--data-dir")
            .arg(m.dir.path().join("data"))
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &self.initial_cluster, "--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", &self.token])
            .args(["--heartbeat-interval", "10", "--election-timeout", "100"])
            .args(["--logger", "zap", "--log-outputs"])
            .arg(m.dir.path().join("etcd.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = Child::spawn(cmd).map_err(|e| io::Error::new(e.kind(), format!("etcd: {e} (apt-get install etcd-server)")))?;
        self.members[i].child = Some(child);
        Ok(())
    }

    /// Waits until a member answers `/health` with a leader elected; fails at once, with the
    /// end of its log, if a member exits.
    fn wait_serving(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if let Some(m) = self.members.iter_mut().find_map(|m| m.child.as_mut().is_some_and(Child::exited).then_some(m)) {
                m.child = None;
                return Err(io::Error::other(format!("etcd member {} exited while starting: {}", m.name, log_tail(m))));
            }
            if self.members.iter().any(|m| m.is_running() && health(m.client_port)) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let logs: Vec<String> = self.members.iter().map(|m| format!("{}: {}", m.name, log_tail(m))).collect();
        Err(io::Error::other(format!("etcd did not elect a leader within {READY_WITHIN:?} ({})", logs.join("; "))))
    }

    /// Asks the member's `/v3/maintenance/status` (2 s timeout).
    fn is_leader(&self, i: usize) -> bool {
        let m = &self.members[i];
        if !m.is_running() {
            return false;
        }
        let Some(body) = post(m.client_port, "/v3/maintenance/status", "{}") else { return false };
        matches!((json_field(&body, "leader"), json_field(&body, "member_id")), (Some(leader), Some(me)) if leader == me)
    }
}

/// The last lines of a member's log, for an error.
fn log_tail(m: &Member) -> String {
    let log = std::fs::read_to_string(m.dir.path().join("etcd.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().rev().take(3).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Whether the member on `port` is healthy (`GET /health` says `"health":"true"`).
fn health(port: u16) -> bool {
    request(port, "GET /health HTTP/1.0\r\n\r\n").is_some_and(|body| body.contains("\"health\":\"true\""))
}

fn post(port: u16, path: &str, json: &str) -> Option<String> {
    request(port, &format!("POST {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}", json.len()))
}

fn request(port: u16, text: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(text.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

/// The string value of `"name":"..."` in a flat JSON text (the gateway quotes 64-bit ids).
fn json_field(body: &str, name: &str) -> Option<String> {
    let start = body.find(&format!("\"{name}\":\""))? + name.len() + 4;
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_string())
}
