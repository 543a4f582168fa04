//! A fenced read-modify-write, end to end: several workers increment one counter under a
//! single-server lock with fencing tokens; one of them pauses past its validity (a GC pause),
//! and the counter refuses its late write, so no increment is lost.
//!
//! ```text
//! cargo run -p redlock-client --example fenced_counter                 # starts its own redis-server
//! cargo run -p redlock-client --example fenced_counter -- redis://host:6379
//! ```
//!
//! The lock and the counter live on the same server here for brevity; in production the counter
//! is the resource you protect (another Redis, or PostgreSQL with `PostgresFenced`).

use redlock_client::event::ClientId;
use redlock_client::fence::{RedisFenced, Write};
use redlock_client::{Client, Fencing, Guard};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (url, _server) = match std::env::args().nth(1) {
        Some(url) => (url, None),
        None => {
            let server = LocalRedis::start()?;
            (server.url(), Some(server))
        }
    };
    let client = Client::builder([url.as_str()])
        .ttl(Duration::from_millis(500))
        .fencing(Fencing::Counter)
        .retries(100)
        .retry_delay(Duration::from_millis(10)..=Duration::from_millis(50))
        .build()?;
    let conn = redlock_client::redis::Client::open(url.as_str())?
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("no Redis reachable at {url}: {e}"))?;
    let counter = RedisFenced::new(conn, format!("fenced-counter-{}", std::process::id()));

    // A worker that will pause: it reads, then sleeps past its validity before writing.
    let slow = client.with_client_id(ClientId(100)).acquire("counter").await?;
    let seen = slow.read(&counter).await?;
    println!("slow worker (token {:?}) read {}, then pauses", slow.token(), seen.value);
    tokio::time::sleep(Duration::from_millis(600)).await;

    // Meanwhile three workers increment properly, one after another.
    let workers: Vec<_> = (1..=3)
        .map(|i| {
            let (client, counter) = (client.with_client_id(ClientId(i)), counter.clone());
            tokio::spawn(async move {
                let guard = client.acquire("counter").await?;
                increment(&guard, &counter, i).await?;
                guard.release().await?;
                Ok::<_, Error>(())
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }

    // The slow worker wakes up and writes what it computed before its pause.
    match slow.write(&counter, seen.value + 1).await? {
        Write::Applied => return Err("a stale write was applied".into()),
        Write::Rejected { fence } => {
            println!("slow worker's late write rejected: token {:?} < fence {fence}", slow.token())
        }
    }
    drop(slow);
    // A read with token 0 never raises the fence: a lock-free look at the value.
    let total = counter.peek().await?.value;
    println!("counter = {total} (3 increments, none lost)");
    assert_eq!(total, seen.value + 3);
    Ok(())
}

async fn increment(guard: &Guard, counter: &RedisFenced, worker: u32) -> Result<(), Error> {
    let read = guard.read(counter).await?;
    match guard.write(counter, read.value + 1).await? {
        Write::Applied => println!("worker {worker} (token {:?}): {} -> {}", guard.token(), read.value, read.value + 1),
        Write::Rejected { fence } => println!("worker {worker}: rejected, fence {fence}"),
    }
    Ok(())
}

/// A throwaway `redis-server` on a free loopback port, killed on drop.
struct LocalRedis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl LocalRedis {
    fn start() -> Result<LocalRedis, Error> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server ({e}); pass a redis:// URL instead"))?;
        for _ in 0..500 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(LocalRedis { child, port, _dir: dir });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err("redis-server did not start".into())
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
