//! The bench's own redis-servers: Debian's `/usr/bin/redis-server` (or the first on `PATH`) on
//! free loopback ports, each in its own temporary directory, persistence off. They are killed
//! when the [`Servers`] value drops (also while a panic unwinds), and by the kernel if the bench
//! itself dies (`PR_SET_PDEATHSIG`).

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

pub struct Servers(pub Vec<Server>);

impl Servers {
    pub fn start(n: usize) -> Servers {
        let binary = if std::path::Path::new("/usr/bin/redis-server").exists() {
            "/usr/bin/redis-server"
        } else {
            "redis-server"
        };
        let mut servers = Servers(Vec::new());
        for _ in 0..n {
            servers.0.push(start_one(binary));
        }
        servers
    }

    pub fn ports(&self) -> Vec<u16> {
        self.0.iter().map(|s| s.port).collect()
    }

    pub fn urls(&self) -> Vec<String> {
        self.0.iter().map(|s| format!("redis://127.0.0.1:{}", s.port)).collect()
    }
}

fn start_one(binary: &str) -> Server {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // A few tries: another process may take the port between our probe and the server's bind.
    for _ in 0..20 {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(binary);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--loglevel", "warning", "--dir"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the child when the
        // thread that spawned it (the bench's main thread) exits.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break; // exited: most likely the port was taken; try another
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Server { child, port, _dir: dir };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    panic!("could not start {binary} on a free loopback port");
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
