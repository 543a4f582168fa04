// The node-redlock contender of `cargo bench -p redlock-client --bench client`.
//
// Started by the bench as `node runner.mjs PORT...` in target/bench/node (where the bench ran
// `npm ci`). It connects one ioredis client per port, prints `{"ready":true}`, then answers one
// JSON line per command line on stdin:
//   {"tasks": 8, "contended": false, "warmup_ms": 300, "duration_ms": 1000, "prefix": "..",
//    "ttl_ms": 10000, "retry_count": 3, "retry_delay_ms": 5, "retry_jitter_ms": 5}
// with {"ops": .., "failures": .., "lat_ns": [..], "cpu_us": .., "elapsed_ns": ..}: the same two
// phases as the Rust contenders (a warm-up, then the measured run), each task looping
// acquire + release on its own resource (or, contended, on one shared resource; the latency is
// then the acquire's). `cpu_us` is this process's user + system CPU time in the measured run.
import Redis from "ioredis";
import Redlock, { ExecutionError } from "redlock";
import readline from "node:readline";

const ports = process.argv.slice(2).map(Number);
const clients = ports.map(
  (port) => new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1 }),
);
await Promise.all(clients.map((c) => c.ping()));

let redlock = null;

async function phase(cmd, ms, lat) {
  const end = process.hrtime.bigint() + BigInt(ms) * 1000000n;
  let ops = 0;
  let failures = 0;
  const settings = {
    driftFactor: 0.01,
    retryCount: cmd.retry_count,
    retryDelay: cmd.retry_delay_ms,
    retryJitter: cmd.retry_jitter_ms,
  };
  async function worker(i) {
    const resource = cmd.contended ? `${cmd.prefix}:shared` : `${cmd.prefix}:${i}`;
    while (process.hrtime.bigint() < end) {
      const start = process.hrtime.bigint();
      let lock;
      try {
        lock = await redlock.acquire([resource], cmd.ttl_ms, settings);
      } catch (e) {
        if (e instanceof ExecutionError) {
          failures += 1;
          continue;
        }
        throw e;
      }
      const acquired = process.hrtime.bigint();
      await lock.release();
      const done = process.hrtime.bigint();
      ops += 1;
      if (lat) lat.push(Number((cmd.contended ? acquired : done) - start));
    }
  }
  const workers = [];
  for (let i = 0; i < cmd.tasks; i++) workers.push(worker(i));
  await Promise.all(workers);
  return { ops, failures };
}

async function run(cmd) {
  if (redlock === null) {
    redlock = new Redlock(clients, { automaticExtensionThreshold: 500 });
    // Failed votes are emitted as "error" events; without a listener node would throw.
    redlock.on("error", () => {});
  }
  await phase(cmd, cmd.warmup_ms, null);
  const lat = [];
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const { ops, failures } = await phase(cmd, cmd.duration_ms, lat);
  const elapsed_ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  return { ops, failures, lat_ns: lat, cpu_us: cpu.user + cpu.system, elapsed_ns };
}

process.stdout.write(JSON.stringify({ ready: true }) + "\n");
const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let out;
  try {
    out = await run(JSON.parse(line));
  } catch (e) {
    out = { error: String(e && e.stack ? e.stack : e) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
await Promise.all(clients.map((c) => c.quit().catch(() => {})));
process.exit(0);
