//! A deployment as `check advise` reads it: the service, its numbers in real units, its
//! persistence, fencing and resource; checked for what cannot be deployed. Durations come with
//! their unit (`30s`), on the command line or in a TOML file of the same flags.

use super::bounds::allowance_covers;
use redlock_client::params::{MAX_DURATION_MS, MAX_NODES};
use serde::Serialize;

/// The lock service a deployment runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// One Redis server, no replica.
    Single,
    /// Redlock on `servers` independent Redis servers.
    Redlock { servers: u32 },
    /// One Redis primary with `replicas` asynchronous replicas that a failover (Sentinel,
    /// Redisson) promotes; the client counts a lock after `WAIT wait` if `wait` is given.
    Replicas { replicas: u32, wait: Option<u32> },
    /// The etcd lease lock (`redlock_client::etcd`).
    Etcd,
    /// A ZooKeeper lock on an ephemeral node of the client's session.
    Zookeeper,
    /// A PostgreSQL session-level advisory lock (`pg_advisory_lock`); `--fencing counter` is a
    /// token from a sequence taken with it.
    Postgres,
}

/// How a Redis server keeps its keys across a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// `appendfsync always`: every acknowledged write survives.
    Always,
    /// `appendfsync everysec`: up to a second of acknowledged writes may be lost.
    Everysec,
    /// No AOF (Redis's default): a crash loses every key since the last snapshot.
    None,
}

/// Where fencing tokens come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Fencing {
    None,
    /// `INCR` on the one Redis server, in the acquire script (`Fencing::Counter`).
    Counter,
    /// A revision of a consensus store: etcd's create revision, ZooKeeper's zxid.
    Revision,
}

/// What the lock protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Nothing the advice should judge (mutual exclusion and the lock's own properties only).
    None,
    /// A resource that applies every write, tokens or not.
    Unfenced,
    /// Checks the token and writes in one atomic step, an equal token only from the holder that
    /// set it (the crate's fence adapters).
    Atomic,
    /// Checks the token, then writes in a second step.
    CheckThenWrite,
}

/// A deployment in real units. Durations are milliseconds; `None` means "not declared", which
/// the advice treats as unbounded.
#[derive(Clone, Debug, Serialize)]
pub struct Deployment {
    pub service: Service,
    pub ttl_ms: u64,
    pub drift_allowance_ms: u64,
    pub clock_error_ppm: Option<u64>,
    pub clock_steps: bool,
    pub max_pause_ms: Option<u64>,
    pub max_delay_ms: Option<u64>,
    pub persistence: Persistence,
    pub restart_delay_ms: u64,
    pub fencing: Fencing,
    pub resource: Resource,
    pub write_margin_ms: u64,
}

impl Deployment {
    /// `service` with a TTL and the command's defaults: the crate's drift allowance, clocks,
    /// pauses and delays undeclared, no clock steps, Redis's default persistence (none), no
    /// restart delay, no fence, a resource that applies every write, no write margin.
    pub fn new(service: Service, ttl_ms: u64) -> Deployment {
        Deployment {
            service,
            ttl_ms,
            drift_allowance_ms: Deployment::default_drift_allowance_ms(ttl_ms),
            clock_error_ppm: None,
            clock_steps: false,
            max_pause_ms: None,
            max_delay_ms: None,
            persistence: Persistence::None,
            restart_delay_ms: 0,
            fencing: Fencing::None,
            resource: Resource::Unfenced,
            write_margin_ms: 0,
        }
    }

    /// The crate's default drift allowance for a TTL: 1% (rounded up) + 2 ms.
    pub fn default_drift_allowance_ms(ttl_ms: u64) -> u64 {
        ttl_ms.div_ceil(100).saturating_add(2)
    }

    /// Refuses what cannot be deployed, each with the reason.
    pub fn validate(&self) -> Result<(), String> {
        if self.ttl_ms == 0 || self.ttl_ms > MAX_DURATION_MS {
            return Err(format!("--ttl must be between 1 ms and a year, not {} ms", self.ttl_ms));
        }
        if self.drift_allowance_ms >= self.ttl_ms {
            return Err(format!(
                "--drift-allowance {} ms is not below the TTL ({} ms): no lock would ever be valid",
                self.drift_allowance_ms, self.ttl_ms
            ));
        }
        if self.clock_error_ppm.is_some_and(|p| p >= 1_000_000) {
            return Err("--clock-error-ppm must be below 1000000 (a clock that may stop measures nothing)".into());
        }
        if self.write_margin_ms >= self.ttl_ms {
            return Err(format!(
                "--write-margin {} ms is not below the TTL ({} ms): no holder could ever write",
                self.write_margin_ms, self.ttl_ms
            ));
        }
        for (what, ms) in
            [("--max-pause", self.max_pause_ms), ("--max-delay", self.max_delay_ms), ("--restart-delay", Some(self.restart_delay_ms))]
        {
            if ms.is_some_and(|ms| ms > MAX_DURATION_MS) {
                return Err(format!("{what} must be at most a year"));
            }
        }
        match self.service {
            Service::Redlock { servers } if servers == 0 || servers as usize > MAX_NODES => {
                return Err(format!("--servers must be between 1 and {MAX_NODES}, not {servers}"));
            }
            Service::Replicas { replicas: 0, .. } => return Err("--replicas must be at least 1 for the replicas service".into()),
            Service::Replicas { replicas, wait: Some(wait) } if wait > replicas => {
                return Err(format!("--wait {wait} is more than the {replicas} replicas: WAIT would never return enough"));
            }
            _ => {}
        }
        match (self.fencing, self.service) {
            (Fencing::Revision, Service::Single | Service::Redlock { .. } | Service::Replicas { .. } | Service::Postgres) => {
                Err("--fencing revision needs a consensus store's revision: --service etcd or zookeeper".into())
            }
            (Fencing::Counter, Service::Etcd | Service::Zookeeper) => {
                Err("--fencing counter is a Redis server's INCR: with etcd or ZooKeeper use --fencing revision".into())
            }
            (_, Service::Zookeeper) if self.resource == Resource::None => {
                Err("the model judges a ZooKeeper lock through the resource it protects: give --resource".into())
            }
            (Fencing::None, _) if matches!(self.resource, Resource::Atomic | Resource::CheckThenWrite) => {
                Err("a resource that checks tokens needs a source of tokens: give --fencing counter or revision".into())
            }
            _ => Ok(()),
        }
    }

    pub(super) fn redis(&self) -> bool {
        matches!(self.service, Service::Single | Service::Redlock { .. } | Service::Replicas { .. })
    }

    /// Whether the declared clocks exceed the allowance (`None`: no clock error declared).
    pub(super) fn clocks_beyond_allowance(&self) -> Option<bool> {
        if self.clock_steps {
            return Some(true);
        }
        self.clock_error_ppm.map(|ppm| !allowance_covers(self.drift_allowance_ms, self.ttl_ms, ppm))
    }

    /// Whether a pause and a delay after the validity check can outlast the write margin
    /// (`None`: one of them is not declared).
    pub(super) fn late_write_possible(&self) -> Option<bool> {
        Some(self.max_pause_ms?.saturating_add(self.max_delay_ms?) >= self.write_margin_ms)
    }
}

/// The flags a deployment file names: each key is a long flag of `check advise` (`ttl = "30s"`,
/// `clock_error_ppm = 200`, `clock_steps = true`), so a file and a command line mean the same and
/// are checked by the same parser. A key given both in the file and on the command line is an
/// error of that parser.
pub fn config_flags(path: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--config {path}: {e}"))?;
    let table: toml::Table = text.parse().map_err(|e| format!("--config {path}: not TOML: {e}"))?;
    let mut flags = Vec::new();
    for (key, value) in table {
        let flag = format!("--{}", key.replace('_', "-"));
        match value {
            toml::Value::Boolean(true) => flags.push(flag),
            toml::Value::Boolean(false) => {}
            toml::Value::String(s) => flags.extend([flag, s]),
            toml::Value::Integer(i) => flags.extend([flag, i.to_string()]),
            other => return Err(format!("--config {path}: {key} is a {}: give a string, an integer or a boolean", other.type_str())),
        }
    }
    Ok(flags)
}

/// Parses a duration with its unit: `250ms`, `30s`, `1.5s`, `2m`, `1h` (whole milliseconds).
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit_ms: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "" => return Err(format!("{text:?} has no unit: write it as 250ms, 30s, 2m or 1h")),
        other => return Err(format!("{text:?}: unknown unit {other:?} (use ms, s, m or h)")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(format!("{text:?} is not a duration: write it as 250ms, 30s, 1.5s, 2m or 1h"));
    }
    let digits = |s: &str| if s.is_empty() { Ok(0) } else { s.parse::<u64>().map_err(|_| format!("{text:?} is too large")) };
    let scale = 10u64.checked_pow(fraction.len() as u32).ok_or_else(|| format!("{text:?} has too many decimals"))?;
    let whole_ms = digits(whole)?.checked_mul(unit_ms);
    let fraction_units = u128::from(digits(fraction)?) * u128::from(unit_ms);
    if fraction_units % u128::from(scale) != 0 {
        return Err(format!("{text:?} is not a whole number of milliseconds"));
    }
    let ms = whole_ms
        .and_then(|w| w.checked_add(u64::try_from(fraction_units / u128::from(scale)).ok()?))
        .filter(|&ms| ms <= MAX_DURATION_MS)
        .ok_or_else(|| format!("{text:?} is longer than a year"))?;
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_carry_their_unit() {
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1_500));
        assert_eq!(parse_duration_ms("2m"), Ok(120_000));
        assert_eq!(parse_duration_ms("0ms"), Ok(0));
        for bad in ["30", "", "s", "1.5ms", "1.2.3s", "99999999999999999999s", "400d", "-1s", "10000h"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?} accepted");
        }
    }
}
