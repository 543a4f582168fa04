//! A ZooKeeper ensemble from Debian's `zookeeper` package (one standalone server, or three that
//! elect a leader) on free loopback ports, each server in its own temporary directory, stopped
//! and removed like every other server.
//!
//! Each server is Debian's own server class on Debian's own class path (other jars from
//! `/usr/share/java` break its start), with a `zoo.cfg` written here: `tickTime` 100 ms, so a
//! session may be as short as 200 ms and a test's session expiry is quick; the admin server off
//! (it would take port 8080); the `ruok` and `srvr` four-letter words on, which say whether a
//! server serves and whether it leads.

use crate::ensemble::{start_with_retries, Ensemble};
use crate::process::{free_port, temp_dir, Child};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long an ensemble may take to start its JVMs and elect a leader (a JVM starts in a few
/// seconds here; three on two busy cores take longer).
const READY_WITHIN: Duration = Duration::from_secs(120);
/// Starts tried, each on fresh ports, before an ensemble that would not come up is an error (a
/// free port may be taken by another test's server before the JVM binds it).
const START_TRIES: usize = 3;
/// The server's tick: sessions last between 2 and 600 ticks.
const TICK_MS: u64 = 100;
/// The server's class, as Debian's `zkServer.sh` starts it.
const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";
const CLASS_PATH: &str = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";

/// What a server says it is (`srvr`'s `Mode:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Standalone,
    Leader,
    Follower,
}

/// One server: its process, ports and directory.
pub struct Server {
    /// Its `myid` (1-based, as ZooKeeper's ids are).
    pub id: usize,
    child: Option<Child>,
    pub client_port: u16,
    peer_port: u16,
    election_port: u16,
    dir: TempDir,
}

impl Server {
    /// `127.0.0.1:<client port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// What the server says it is now, if it runs and serves (a paused server does not answer:
    /// this waits up to the request's 2 s timeout).
    pub fn mode(&self) -> Option<Mode> {
        if !self.is_running() {
            return None;
        }
        let answer = four_letter_word(self.client_port, "srvr")?;
        match answer.lines().find_map(|l| l.strip_prefix("Mode: "))?.trim() {
            "standalone" => Some(Mode::Standalone),
            "leader" => Some(Mode::Leader),
            "follower" => Some(Mode::Follower),
            _ => None,
        }
    }
}

/// A running ensemble. Every server is killed and its directory removed when dropped.
pub struct ZooKeeper {
    pub servers: Vec<Server>,
}

impl ZooKeeper {
    /// Starts `size` servers (1: a standalone server; 3: an ensemble) and waits until every one
    /// serves (an ensemble: has a leader and followers). A start whose server exits or that does
    /// not serve in time is tried again on fresh ports, up to `START_TRIES` times.
    pub fn start(size: usize) -> io::Result<ZooKeeper> {
        if size == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a ZooKeeper ensemble needs at least one server"));
        }
        start_with_retries("ZooKeeper", START_TRIES, || ZooKeeper::start_once(size))
    }

    fn start_once(size: usize) -> io::Result<ZooKeeper> {
        let mut servers = Vec::with_capacity(size);
        for i in 0..size {
            servers.push(Server {
                id: i + 1,
                child: None,
                client_port: free_port()?,
                peer_port: free_port()?,
                election_port: free_port()?,
                dir: temp_dir("zookeeper-")?,
            });
        }
        let mut zk = ZooKeeper { servers };
        for i in 0..size {
            zk.write_config(i)?;
        }
        for i in 0..size {
            zk.launch(i)?;
        }
        zk.wait_serving()?;
        Ok(zk)
    }

    fn write_config(&self, i: usize) -> io::Result<()> {
        let s = &self.servers[i];
        let data = s.dir.path().join("data");
        std::fs::create_dir_all(&data)?;
        let mut cfg = format!(
            "tickTime={TICK_MS}\ninitLimit=100\nsyncLimit=20\nminSessionTimeout={}\nmaxSessionTimeout=60000\n\
             dataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
             4lw.commands.whitelist=ruok,srvr\n",
            2 * TICK_MS,
            data.display(),
            s.client_port,
        );
        if self.servers.len() > 1 {
            std::fs::write(data.join("myid"), format!("{}\n", s.id))?;
            for other in &self.servers {
                cfg.push_str(&format!("server.{}=127.0.0.1:{}:{}\n", other.id, other.peer_port, other.election_port));
            }
        }
        std::fs::write(s.dir.path().join("zoo.cfg"), cfg)
    }

    fn serving(&self) -> bool {
        let modes: Vec<Option<Mode>> = self.servers.iter().filter(|s| s.is_running()).map(Server::mode).collect();
        if self.servers.len() == 1 {
            return modes == [Some(Mode::Standalone)];
        }
        modes.iter().all(Option::is_some) && modes.iter().filter(|m| **m == Some(Mode::Leader)).count() == 1
    }

    /// The connection string of every server (`host:port,host:port`).
    pub fn connect_string(&self) -> String {
        self.servers.iter().map(Server::addr).collect::<Vec<_>>().join(",")
    }
}

impl Ensemble for ZooKeeper {
    fn size(&self) -> usize {
        self.servers.len()
    }

    fn client_port(&self, i: usize) -> u16 {
        self.servers[i].client_port
    }

    fn process(&self, i: usize) -> Option<&Child> {
        self.servers[i].child.as_ref()
    }

    fn take_process(&mut self, i: usize) -> Option<Child> {
        self.servers[i].child.take()
    }

    fn launch(&mut self, i: usize) -> io::Result<()> {
        let dir = self.servers[i].dir.path();
        let mut cmd = Command::new("java");
        cmd.args(["-Xmx128m", "-XX:+UseSerialGC", "-cp", CLASS_PATH])
            .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
            .arg("-Dzookeeper.root.logger=INFO,ROLLINGFILE")
            .arg(MAIN_CLASS)
            .arg(dir.join("zoo.cfg"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !Path::new("/usr/share/java/zookeeper.jar").exists() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no /usr/share/java/zookeeper.jar (apt-get install zookeeper)"));
        }
        let child = Child::spawn(cmd).map_err(|e| io::Error::new(e.kind(), format!("java: {e} (apt-get install default-jre-headless)")))?;
        self.servers[i].child = Some(child);
        Ok(())
    }

    /// Waits until every running server serves, in the mode its ensemble's size calls for, with
    /// one leader among them (in an ensemble, a restarted server has rejoined a leader).
    fn wait_serving(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if let Some(s) = self.servers.iter_mut().find_map(|s| s.child.as_mut().is_some_and(Child::exited).then_some(s)) {
                s.child = None;
                return Err(io::Error::other(format!("ZooKeeper server {} exited while starting: {}", s.id, log_tail(s))));
            }
            if self.serving() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let logs: Vec<String> = self.servers.iter().map(|s| format!("{}: {}", s.id, log_tail(s))).collect();
        Err(io::Error::other(format!("ZooKeeper did not serve within {READY_WITHIN:?} ({})", logs.join("; "))))
    }

    /// Asks the server's `srvr` (2 s timeout): a standalone server leads itself.
    fn is_leader(&self, i: usize) -> bool {
        matches!(self.servers[i].mode(), Some(Mode::Leader | Mode::Standalone))
    }
}

/// The last lines of a server's log, for an error.
fn log_tail(s: &Server) -> String {
    let log = std::fs::read_to_string(s.dir.path().join("zookeeper.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("ERROR") || l.contains("WARN")).rev().take(3).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// A four-letter word's answer (the server closes the connection after it).
fn four_letter_word(port: u16, word: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(word.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ensemble of three elects one leader; killing it makes the other two elect another;
    /// the killed server rejoins as a follower.
    #[test]
    fn an_ensemble_elects_again_when_its_leader_dies() {
        let mut zk = ZooKeeper::start(3).expect("ZooKeeper starts (apt-get install zookeeper)");
        let first = zk.leader().expect("a leader");
        zk.kill(first);
        let deadline = Instant::now() + READY_WITHIN;
        let second = loop {
            if let Some(l) = zk.leader() {
                break l;
            }
            assert!(Instant::now() < deadline, "no new leader within {READY_WITHIN:?}");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_ne!(first, second);
        zk.restart(first).expect("the old leader rejoins");
        assert_eq!(zk.servers[first].mode(), Some(Mode::Follower), "a rejoining server follows the leader elected meanwhile");
    }

    #[test]
    fn a_standalone_server_serves() {
        let zk = ZooKeeper::start(1).expect("ZooKeeper starts (apt-get install zookeeper)");
        assert_eq!(zk.servers[0].mode(), Some(Mode::Standalone));
        assert_eq!(zk.leader(), Some(0));
        assert!(four_letter_word(zk.servers[0].client_port, "ruok").is_some_and(|a| a == "imok"));
    }
}
