//! Child processes and their directories.
//!
//! Every server lives in a directory under one root per process that starts servers
//! (`$TMPDIR/redlock-testkit/<pid>`), and is stopped, with its directory removed:
//! - on drop of its handle (success, failure, and while a panic unwinds);
//! - on Ctrl-C: a watcher thread kills every registered child, removes the root and exits;
//! - when that process dies without unwinding (SIGKILL): each child was started with
//!   `PR_SET_PDEATHSIG`, so the kernel kills it with its parent, and the next process to start
//!   a server removes the roots of dead processes.

use std::collections::HashSet;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The folder of every process's root, under `$TMPDIR`.
const ROOT_PARENT: &str = "redlock-testkit";

/// The pids of the children alive now, for the Ctrl-C watcher.
static CHILDREN: Mutex<Option<HashSet<u32>>> = Mutex::new(None);

/// This process's root directory, created (and stale roots removed) on first use.
pub fn run_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let parent = std::env::temp_dir().join(ROOT_PARENT);
        std::fs::create_dir_all(&parent).expect("the temporary directory is writable");
        remove_stale_roots(&parent);
        let root = parent.join(std::process::id().to_string());
        std::fs::create_dir_all(&root).expect("the temporary directory is writable");
        // World-traversable: PostgreSQL runs as the unprivileged `postgres` user below it.
        set_mode(&parent, 0o755);
        set_mode(&root, 0o755);
        watch_interrupts();
        root
    })
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

/// Removes the roots of processes that no longer exist.
fn remove_stale_roots(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        // SAFETY: signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes this process's root, once its servers are stopped: binaries call it as they end (a
/// test process leaves its root to the next sweep of dead processes' roots).
pub fn remove_run_root() {
    let root = std::env::temp_dir().join(ROOT_PARENT).join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(root);
}

/// A fresh directory under this process's root.
pub fn temp_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix(prefix).tempdir_in(run_root())
}

/// On Ctrl-C: kill every child, remove the root, exit with 130 (as a shell would).
fn watch_interrupts() {
    let spawned = std::thread::Builder::new().name("ctrl-c".into()).spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let Ok(runtime) = runtime else { return };
        if runtime.block_on(tokio::signal::ctrl_c()).is_err() {
            return;
        }
        let pids: Vec<u32> = lock_children().iter().flat_map(|set| set.iter().copied()).collect();
        for pid in pids {
            // SAFETY: SIGCONT then SIGKILL to our own children (a stopped child must not linger).
            unsafe {
                libc::kill(pid as i32, libc::SIGCONT);
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
        eprintln!("interrupted: servers stopped, {} removed", run_root().display());
        std::thread::sleep(Duration::from_millis(50));
        let _ = std::fs::remove_dir_all(run_root());
        std::process::exit(130);
    });
    if let Err(e) = spawned {
        eprintln!("no Ctrl-C watcher ({e}): an interrupt may leave {} behind", run_root().display());
    }
}

fn lock_children() -> std::sync::MutexGuard<'static, Option<HashSet<u32>>> {
    CHILDREN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A child process that dies with its handle (and with this process).
pub struct Child {
    inner: std::process::Child,
}

type SpawnRequest = (Command, std::sync::mpsc::Sender<io::Result<std::process::Child>>);

/// The one thread that starts every child. `PR_SET_PDEATHSIG` fires when the *thread* that
/// forked the child ends, not the process: a child started from a thread that ends early (a
/// tokio blocking-pool thread, idle for 10 s) would be killed under a running test. This
/// thread lives as long as the process.
fn spawner() -> &'static Mutex<std::sync::mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<std::sync::mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (requests, incoming) = std::sync::mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testkit spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in incoming {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("a thread for starting servers");
        Mutex::new(requests)
    })
}

impl Child {
    /// Starts `cmd`; the kernel kills it if this process dies.
    pub fn spawn(mut cmd: Command) -> io::Result<Child> {
        run_root();
        // SAFETY: prctl is async-signal-safe; it only sets this child's parent-death signal.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let (reply, answer) = std::sync::mpsc::channel();
        let sent = spawner().lock().unwrap_or_else(|poisoned| poisoned.into_inner()).send((cmd, reply));
        sent.map_err(|_| io::Error::other("the spawner thread is gone"))?;
        let inner = answer.recv().map_err(|_| io::Error::other("the spawner thread is gone"))??;
        lock_children().get_or_insert_with(HashSet::new).insert(inner.id());
        Ok(Child { inner })
    }

    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// Sends `signal` (SIGSTOP, SIGCONT, SIGQUIT...).
    pub fn signal(&self, signal: libc::c_int) -> io::Result<()> {
        // SAFETY: a signal to our own child, which has not been reaped (we hold its handle).
        if unsafe { libc::kill(self.inner.id() as libc::pid_t, signal) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Whether it has exited (reaping it if so).
    pub fn exited(&mut self) -> bool {
        !matches!(self.inner.try_wait(), Ok(None))
    }

    /// Waits up to `limit` for it to exit; false if it still runs.
    pub fn wait_for_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.exited() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    /// SIGKILL (after SIGCONT, so that a stopped process dies at once) and reap.
    pub fn kill(&mut self) {
        let _ = self.signal(libc::SIGCONT);
        let _ = self.inner.kill();
        let _ = self.inner.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
        if let Some(set) = lock_children().as_mut() {
            set.remove(&self.inner.id());
        }
    }
}

/// A loopback port that was free a moment ago (servers retry with another one on a clash).
pub fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
