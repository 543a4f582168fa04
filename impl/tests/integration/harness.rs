//! Real servers for the tests: `redis-server` and PostgreSQL processes on ephemeral loopback
//! ports, each in its own temporary directory, with persistence off. A server is killed and its
//! directory removed when its handle drops: on success, on failure, and while a panic unwinds.

use redlock_client::history::{Audit, Auditor};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A port that was free a moment ago (`redis-server --port 0` would not listen on TCP at all).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("{what} on port {port} exited with {status}; trying another port");
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{what} did not listen on port {port} within 10 s");
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill({}, {signal})", child.id());
}

/// One `redis-server` process.
pub struct Redis {
    child: Option<Child>,
    port: u16,
    url: String,
    _dir: TempDir,
}

impl Redis {
    pub fn start() -> Redis {
        Redis::start_with(None, None)
    }

    /// A server that requires `password` (AUTH), and speaks only TLS with `tls`'s certificate.
    pub fn start_with(password: Option<&str>, tls: Option<&Tls>) -> Redis {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new("redis-server");
            match tls {
                None => cmd.args(["--port", &port.to_string()]),
                Some(tls) => cmd
                    .args(["--port", "0", "--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
                    .arg("--tls-cert-file")
                    .arg(tls.dir.path().join("server.crt"))
                    .arg("--tls-key-file")
                    .arg(tls.dir.path().join("server.key"))
                    .arg("--tls-ca-cert-file")
                    .arg(tls.dir.path().join("ca.crt")),
            };
            cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir.path())
                .arg("--logfile")
                .arg(dir.path().join("redis.log"))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Some(p) = password {
                cmd.args(["--requirepass", p]);
            }
            let mut child = cmd.spawn().expect("redis-server is installed (apt-get install redis-server)");
            if wait_for_port(port, &mut child, "redis-server") {
                let scheme = if tls.is_some() { "rediss" } else { "redis" };
                let auth = password.map_or(String::new(), |p| format!(":{p}@"));
                let url = format!("{scheme}://{auth}127.0.0.1:{port}");
                return Redis { child: Some(child), port, url, _dir: dir };
            }
        }
        panic!("redis-server could not start on a free port");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Freezes the process (SIGSTOP): it keeps its sockets but answers nothing.
    pub fn pause(&self) {
        signal(self.child.as_ref().unwrap(), libc::SIGSTOP);
    }

    /// Lets a paused process run again (SIGCONT).
    pub fn resume(&self) {
        signal(self.child.as_ref().unwrap(), libc::SIGCONT);
    }

    /// Kills the process: the node is down for good.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = signal_quietly(&child, libc::SIGCONT);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A direct connection, to look at or tamper with the keys behind the client's back.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url()).unwrap().get_multiplexed_async_connection().await.unwrap()
    }

    pub async fn get(&self, key: &str) -> Option<String> {
        redis::cmd("GET").arg(key).query_async(&mut self.conn().await).await.unwrap()
    }

    pub async fn pttl(&self, key: &str) -> i64 {
        redis::cmd("PTTL").arg(key).query_async(&mut self.conn().await).await.unwrap()
    }

    pub async fn del(&self, key: &str) {
        let _: i64 = redis::cmd("DEL").arg(key).query_async(&mut self.conn().await).await.unwrap();
    }
}

fn signal_quietly(child: &Child, signal: libc::c_int) -> i32 {
    // SAFETY: as in `signal`.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A test certificate authority and a server certificate for 127.0.0.1 signed by it, made
/// with the `openssl` command.
pub struct Tls {
    dir: TempDir,
}

impl Tls {
    pub fn new() -> Tls {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let status = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl is installed (apt-get install openssl)");
            assert!(status.success(), "openssl {args:?}");
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        openssl(&[&["req", "-x509"], &ec[..], &["-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test CA"]].concat());
        openssl(&[&["req"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat());
        std::fs::write(dir.path().join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        openssl(&["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "1", "-extfile", "san.ext"]);
        // redis-server runs as us and reads the key: nothing else to do.
        Tls { dir }
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("ca.crt")).unwrap()
    }
}

/// `n` independent servers.
pub fn cluster(n: usize) -> Vec<Redis> {
    (0..n).map(|_| Redis::start()).collect()
}

pub fn urls(servers: &[Redis]) -> Vec<String> {
    servers.iter().map(Redis::url).collect()
}

/// Waits until `check` holds, up to `within`.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One PostgreSQL server, run as the unprivileged `postgres` user when the tests run as root
/// (PostgreSQL refuses root), from a temporary directory, listening on a loopback port and on a
/// socket in that directory.
pub struct Postgres {
    child: Option<Child>,
    port: u16,
    _dir: TempDir,
}

/// Debian's PostgreSQL binaries, newest major version first.
fn pg_bin() -> std::path::PathBuf {
    let mut versions: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (apt-get install postgresql)")
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL version under /usr/lib/postgresql").1
}

/// A command that runs as `postgres` if we are root (like `runuser -u postgres`, but the server
/// is then our direct child, so that we can signal and reap it).
fn as_postgres(program: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(pg_bin().join(program));
    if is_root() {
        let (uid, gid) = postgres_user();
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn postgres_user() -> (u32, u32) {
    let name = std::ffi::CString::new("postgres").unwrap();
    // SAFETY: a valid C string; the result is read at once, before any other getpw* call.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(!pw.is_null(), "the postgres user exists (apt-get install postgresql)");
    // SAFETY: non-null, points to a passwd entry.
    unsafe { ((*pw).pw_uid, (*pw).pw_gid) }
}

impl Postgres {
    pub fn start() -> Postgres {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            chown_to_postgres(dir.path());
        }
        let data = dir.path().join("data");
        let status = as_postgres("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .status()
            .expect("initdb is installed (apt-get install postgresql)");
        assert!(status.success(), "initdb failed: {status}");
        for _ in 0..5 {
            let port = free_port();
            let mut child = as_postgres("postgres")
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
                .arg("-k")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            if wait_for_port(port, &mut child, "postgres") {
                return Postgres { child: Some(child), port, _dir: dir };
            }
        }
        panic!("postgres could not start on a free port");
    }

    /// A connected client (its connection task runs on the current runtime).
    pub async fn connect(&self) -> tokio_postgres::Client {
        let config = format!("host=127.0.0.1 port={} user=postgres dbname=postgres", self.port);
        // The server may listen before it accepts logins: retry for a while.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match tokio_postgres::connect(&config, tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    return client;
                }
                Err(e) if Instant::now() < deadline => {
                    eprintln!("postgres not ready yet: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot connect to postgres: {e}"),
            }
        }
    }
}

fn chown_to_postgres(path: &Path) {
    let status = Command::new("chown").arg("postgres:postgres").arg(path).status().unwrap();
    assert!(status.success());
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGQUIT: immediate shutdown; the postmaster takes its children with it.
            signal_quietly(&child, libc::SIGQUIT);
            if !wait_with_timeout(&mut child, Duration::from_secs(5)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Audits a recorded history with the library's auditor (what `check history` runs).
pub fn audit(history: &Path) -> Audit {
    let file = std::fs::File::open(history).unwrap();
    Auditor::audit(std::io::BufReader::new(file)).unwrap()
}
