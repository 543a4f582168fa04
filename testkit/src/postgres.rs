//! One real PostgreSQL server: Debian's binaries, run as the unprivileged `postgres` user when
//! we run as root (PostgreSQL refuses root), in a directory under this process's root, on a
//! loopback port. Start it from a thread that outlives it (the kernel kills it with the thread
//! that started it).

use crate::process::{free_port, temp_dir, Child};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A PostgreSQL server. Shut down, and its directory removed, when dropped.
pub struct Postgres {
    child: Option<Child>,
    port: u16,
    _dir: TempDir,
}

impl Postgres {
    /// Runs `initdb` and starts the server (a few seconds: start one per soak, not per run).
    pub fn start() -> io::Result<Postgres> {
        let dir = temp_dir("postgres-")?;
        if is_root() {
            let status = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status()?;
            if !status.success() {
                return Err(io::Error::other("cannot give the data directory to the postgres user"));
            }
        }
        let data = dir.path().join("data");
        let status = as_postgres("initdb")?
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!("initdb failed: {status}")));
        }
        for _ in 0..5 {
            let port = free_port()?;
            let mut cmd = as_postgres("postgres")?;
            cmd.arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
                .arg("-k")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let mut child = Child::spawn(cmd)?;
            if listens(port, &mut child) {
                return Ok(Postgres { child: Some(child), port, _dir: dir });
            }
        }
        Err(io::Error::other("postgres could not start on a free port"))
    }

    /// The server's loopback address (for a proxy in front of it).
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The tokio-postgres connection string.
    pub fn connection_string(&self) -> String {
        connection_string(self.addr())
    }

    /// A connected client; its connection task runs on the current runtime.
    pub async fn connect(&self) -> Result<Arc<tokio_postgres::Client>, tokio_postgres::Error> {
        let config = self.connection_string();
        // The server may listen before it accepts logins.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match tokio_postgres::connect(&config, tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    return Ok(Arc::new(client));
                }
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The tokio-postgres connection string of a server (or of a proxy in front of one) at `addr`.
pub fn connection_string(addr: std::net::SocketAddr) -> String {
    format!("host={} port={} user=postgres dbname=postgres", addr.ip(), addr.port())
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGQUIT: immediate shutdown; the postmaster takes its backends with it.
            let _ = child.signal(libc::SIGQUIT);
            child.wait_for_exit(Duration::from_secs(5));
        }
    }
}

fn listens(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if child.exited() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Debian's PostgreSQL binaries, newest major version first.
fn pg_bin() -> io::Result<PathBuf> {
    let versions = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| io::Error::new(e.kind(), "PostgreSQL is not installed (apt-get install postgresql)"))?;
    versions
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
        .max()
        .map(|(_, bin)| bin)
        .ok_or_else(|| io::Error::other("no PostgreSQL version under /usr/lib/postgresql"))
}

/// A PostgreSQL command, run as `postgres` when we are root.
fn as_postgres(program: &str) -> io::Result<Command> {
    let mut cmd = Command::new(pg_bin()?.join(program));
    if is_root() {
        let (uid, gid) = postgres_user()?;
        cmd.uid(uid).gid(gid);
    }
    Ok(cmd)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn postgres_user() -> io::Result<(u32, u32)> {
    let name = std::ffi::CString::new("postgres").expect("no NUL in a literal");
    // SAFETY: a valid C string; the entry is read at once, before any other getpw* call.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(io::Error::other("no postgres user (apt-get install postgresql)"));
    }
    // SAFETY: non-null, points to a passwd entry.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}
