//! `cargo bench -p redlock-client --bench etcd`: the crate's etcd lock against its floor, on a
//! 3-member etcd cluster that the bench starts and stops itself.
//!
//! Workload: acquire + release (TTL 10 s) with 1, 8 and 64 concurrent tasks on distinct
//! resources, on tokio's multi-thread runtime. Contenders: `etcd-lock` (the crate's
//! `EtcdClient`: the core, tracing with no subscriber, the recorder off) and `etcd-floor`, the
//! same four requests through etcd-client with no lock logic: grant a lease, create the key with
//! it if absent (a transaction on its create revision), delete the key if it is still the one
//! created (a transaction on the create revision), revoke the lease.
//!
//! Rounds are interleaved (both contenders of a cell, then the next cell, then the next round,
//! the contenders' order alternating each round); each figure is the median of the rounds.
//! After every measurement the bench checks that no key and no lease is left on the cluster,
//! and exits with an error if one is. Targets: the lock's p50 within 1.1x of the floor's, its
//! throughput at least 0.9x; a missed target is reported (a rerun can move a cell inside the
//! machine's noise), an error or a leftover fails the bench.
//!
//! `BENCH_QUICK=1` (or `--quick`): 2 short rounds. Results: a markdown table on stdout and
//! `target/bench/etcd.json`.

use etcd_client::{Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use redlock_client::etcd::EtcdClient;
use redlock_testkit::etcd::EtcdCluster;
use serde_json::json;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(10);
const TASKS: [usize; 3] = [1, 8, 64];
const CONTENDERS: [&str; 2] = ["etcd-lock", "etcd-floor"];
/// Every key of the bench starts with this.
const PREFIX: &str = "bench/";

/// One measurement: per-operation latencies over the measured phase.
struct Sample {
    lat_ns: Vec<u64>,
    elapsed: Duration,
}

impl Sample {
    fn ops_per_s(&self) -> f64 {
        self.lat_ns.len() as f64 / self.elapsed.as_secs_f64()
    }
}

trait Contender: Sync {
    fn acquire_release(&self, resource: &str) -> impl Future<Output = Result<(), String>> + Send;
}

struct Lock(EtcdClient);

impl Contender for Lock {
    async fn acquire_release(&self, resource: &str) -> Result<(), String> {
        let guard = self.0.acquire(resource).await.map_err(|e| e.to_string())?;
        guard.release().await.map_err(|e| e.to_string())?;
        Ok(())
    }
}

struct Floor(etcd_client::Client);

impl Contender for Floor {
    async fn acquire_release(&self, resource: &str) -> Result<(), String> {
        let mut c = self.0.clone();
        let lease = c.lease_grant(TTL.as_secs() as i64, None).await.map_err(|e| e.to_string())?.id();
        let create = Txn::new().when([Compare::create_revision(resource, CompareOp::Equal, 0)]).and_then([TxnOp::put(
            resource,
            "floor",
            Some(PutOptions::new().with_lease(lease)),
        )]);
        let created = c.txn(create).await.map_err(|e| e.to_string())?;
        if !created.succeeded() {
            return Err(format!("{resource} was taken"));
        }
        let revision = created.header().map_or(0, |h| h.revision());
        let delete =
            Txn::new().when([Compare::create_revision(resource, CompareOp::Equal, revision)]).and_then([TxnOp::delete(resource, None)]);
        c.txn(delete).await.map_err(|e| e.to_string())?;
        c.lease_revoke(lease).await.map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Runs `tasks` tasks, each acquiring and releasing its own resource again and again, for
/// `warmup`, then measures for `duration`.
async fn measure<C: Contender>(contender: &C, tasks: usize, warmup: Duration, duration: Duration, label: &str) -> Result<Sample, String> {
    let start = Instant::now();
    let measure_from = start + warmup;
    let until = measure_from + duration;
    let runs = (0..tasks).map(|t| async move {
        let resource = format!("{PREFIX}{label}/{t}");
        let mut lat = Vec::new();
        while Instant::now() < until {
            let began = Instant::now();
            contender.acquire_release(&resource).await?;
            if began >= measure_from {
                lat.push(began.elapsed().as_nanos() as u64);
            }
        }
        Ok::<_, String>(lat)
    });
    let all = futures::future::try_join_all(runs).await?;
    let elapsed = Instant::now().saturating_duration_since(measure_from);
    let mut lat_ns: Vec<u64> = all.into_iter().flatten().collect();
    lat_ns.sort_unstable();
    Ok(Sample { lat_ns, elapsed })
}

/// Keys under the bench's prefix and leases still alive: both must be none.
///
/// etcd 3.4 answers the list of leases from the member asked, which may not have applied the
/// last revoke yet; each listed lease is asked again of the leader (time-to-live forwards
/// there), and one already revoked (TTL -1) is not left over.
async fn leftovers(c: &etcd_client::Client) -> Result<(i64, usize), String> {
    let mut c = c.clone();
    let keys = c.get(PREFIX, Some(GetOptions::new().with_prefix().with_count_only())).await.map_err(|e| e.to_string())?.count();
    let listed: Vec<i64> = c.leases().await.map_err(|e| e.to_string())?.leases().iter().map(|l| l.id()).collect();
    let mut leases = 0;
    for id in listed {
        if c.lease_time_to_live(id, None).await.map_err(|e| e.to_string())?.ttl() > 0 {
            leases += 1;
        }
    }
    Ok((keys, leases))
}

fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let quick = std::env::var_os("BENCH_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(if quick { 2 } else { 5 });
    let (warmup, duration) =
        if quick { (Duration::from_millis(200), Duration::from_millis(800)) } else { (Duration::from_secs(1), Duration::from_secs(3)) };
    let started = Instant::now();
    let cluster = tokio::task::spawn_blocking(|| EtcdCluster::start(3)).await.expect("the start task").unwrap_or_else(|e| {
        eprintln!("FAIL: starting etcd: {e}");
        std::process::exit(1)
    });
    let urls = cluster.urls();
    let lock = Lock(EtcdClient::builder(urls.clone()).ttl(TTL).build().expect("a valid configuration"));
    let raw = etcd_client::Client::connect(&urls, None).await.expect("a connection to etcd");
    let floor = Floor(raw.clone());

    // samples[tasks][contender]: (p50 µs, ops/s) per round.
    let mut samples = vec![vec![Vec::new(); CONTENDERS.len()]; TASKS.len()];
    let mut failures = Vec::new();
    for round in 0..rounds {
        for (w, &tasks) in TASKS.iter().enumerate() {
            for k in 0..CONTENDERS.len() {
                let c = (k + round) % CONTENDERS.len();
                let label = format!("{}-{round}-{tasks}", CONTENDERS[c]);
                let sample = match c {
                    0 => measure(&lock, tasks, warmup, duration, &label).await,
                    _ => measure(&floor, tasks, warmup, duration, &label).await,
                };
                match sample {
                    Ok(s) => samples[w][c].push((quantile(&s.lat_ns, 0.5) as f64 / 1000.0, s.ops_per_s())),
                    Err(e) => failures.push(format!("{} ({tasks} tasks): {e}", CONTENDERS[c])),
                }
                match leftovers(&raw).await {
                    Ok((0, 0)) => {}
                    Ok((keys, leases)) => failures.push(format!("{} ({tasks} tasks) left {keys} keys and {leases} leases", CONTENDERS[c])),
                    Err(e) => failures.push(format!("counting leftovers: {e}")),
                }
            }
        }
    }

    println!("| workload | etcd-lock p50 | etcd-floor p50 | ratio (<= 1.10) | etcd-lock ops/s | etcd-floor ops/s | ratio (>= 0.90) |");
    println!("|---|---|---|---|---|---|---|");
    let mut cells = Vec::new();
    let mut missed = 0;
    for (w, &tasks) in TASKS.iter().enumerate() {
        let p50 = |c: usize| median(samples[w][c].iter().map(|s| s.0).collect());
        let ops = |c: usize| median(samples[w][c].iter().map(|s| s.1).collect());
        let (p50_ratio, ops_ratio) = (p50(0) / p50(1), ops(0) / ops(1));
        let met = p50_ratio <= 1.10 && ops_ratio >= 0.90;
        missed += usize::from(!met);
        println!(
            "| {tasks} task{} | {:.0} µs | {:.0} µs | {p50_ratio:.2}{} | {:.0} | {:.0} | {ops_ratio:.2}{} |",
            if tasks == 1 { "" } else { "s" },
            p50(0),
            p50(1),
            if p50_ratio <= 1.10 { "" } else { " (missed)" },
            ops(0),
            ops(1),
            if ops_ratio >= 0.90 { "" } else { " (missed)" },
        );
        cells.push(json!({"tasks": tasks, "lock_p50_us": p50(0), "floor_p50_us": p50(1), "p50_ratio": p50_ratio,
            "lock_ops_per_s": ops(0), "floor_ops_per_s": ops(1), "ops_ratio": ops_ratio, "met": met}));
    }
    let out_dir = target_dir().join("bench");
    std::fs::create_dir_all(&out_dir).expect("target/bench");
    let json_path = out_dir.join("etcd.json");
    let results =
        json!({"rounds": rounds, "quick": quick, "cells": cells, "failures": failures, "seconds": started.elapsed().as_secs_f64()});
    std::fs::write(&json_path, serde_json::to_string_pretty(&results).expect("json")).expect("target/bench/etcd.json");
    println!(
        "\n3 etcd members, {rounds} rounds, {} ms measured per contender and cell after {} ms of warm-up; {missed} of {} cells missed a target; {:.0} s in all. Results: {}",
        duration.as_millis(),
        warmup.as_millis(),
        TASKS.len(),
        started.elapsed().as_secs_f64(),
        json_path.display()
    );
    drop(cluster);
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("FAIL: {f}");
        }
        std::process::exit(1);
    }
}
