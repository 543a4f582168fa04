//! node-redlock (npm `redlock@5.0.0-beta.2` with `ioredis`), run through node.
//!
//! `impl/benches/node/` holds the runner and its `package.json` + `package-lock.json`; the bench
//! copies them to `target/bench/node/` and runs `npm ci` there (only when the lock file
//! changed), so `node_modules` never lands in the source tree. The runner stays up for the
//! whole bench and answers one measurement per command line.

use crate::contenders::{Retry, TTL_MS};
use crate::Sample;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

pub struct NodeRunner {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// Installs the runner's packages under `dir` (`npm ci`), unless the same lock file is there.
pub fn install(dir: &Path) -> Result<(), String> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/node");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for file in ["package.json", "package-lock.json", "runner.mjs"] {
        std::fs::copy(source.join(file), dir.join(file)).map_err(|e| format!("copying {file}: {e}"))?;
    }
    let lock = std::fs::read(source.join("package-lock.json")).map_err(|e| e.to_string())?;
    let stamp = dir.join("node_modules/.bench-lock");
    if std::fs::read(&stamp).ok().as_deref() == Some(&lock[..]) {
        return Ok(());
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !out.status.success() {
        return Err(format!("npm ci failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")));
    }
    std::fs::write(&stamp, &lock).map_err(|e| e.to_string())?;
    Ok(())
}

impl NodeRunner {
    pub fn start(dir: &Path, ports: &[u16]) -> Result<NodeRunner, String> {
        let mut cmd = Command::new("node");
        cmd.arg("runner.mjs")
            .args(ports.iter().map(|p| p.to_string()))
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: prctl is async-signal-safe; the runner dies with the bench's main thread.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot run node: {e}"))?;
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        if !line.contains("\"ready\"") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the node runner did not start: {line:?}"));
        }
        Ok(NodeRunner { child, stdin, stdout })
    }

    pub fn measure(
        &mut self,
        tasks: usize,
        contended: bool,
        prefix: &str,
        warmup: Duration,
        duration: Duration,
        retry: Retry,
    ) -> Result<Sample, String> {
        let half = retry.delay_below_ms / 2;
        let cmd = serde_json::json!({
            "tasks": tasks, "contended": contended, "prefix": prefix, "ttl_ms": TTL_MS,
            "warmup_ms": warmup.as_millis() as u64, "duration_ms": duration.as_millis() as u64,
            // node-redlock's retryCount counts the attempts after the first; its delay is
            // retryDelay + floor((2r - 1) * retryJitter): 0..delay_below_ms for an even delay.
            "retry_count": retry.attempts - 1,
            "retry_delay_ms": retry.delay_below_ms - half, "retry_jitter_ms": half,
        });
        writeln!(self.stdin, "{cmd}").map_err(|e| e.to_string())?;
        self.stdin.flush().map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| format!("{e}: {line:?}"))?;
        if let Some(e) = v.get("error") {
            return Err(format!("node runner: {e}"));
        }
        let lat_ns = v["lat_ns"].as_array().ok_or("no lat_ns")?.iter().filter_map(|x| x.as_u64()).collect();
        Ok(Sample {
            ops: v["ops"].as_u64().unwrap_or(0),
            failures: v["failures"].as_u64().unwrap_or(0),
            lat_ns,
            cpu_us: v["cpu_us"].as_f64().unwrap_or(0.0),
            elapsed: Duration::from_nanos(v["elapsed_ns"].as_u64().unwrap_or(1)),
        })
    }
}

impl Drop for NodeRunner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
