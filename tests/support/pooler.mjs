// PgBouncer, the pooler scripts/lib.sh's `pgbouncer_start` puts in front of Postgres (as
// Hyperdrive pools in production), seen from tests and benchmarks:
//
//   const pooler = await poolerConsole(stackEnv().postgresPooledUrl);
//   await pooler.clients()   // the Workers' connections open at the pooler right now
//   await pooler.servers()   // the Postgres connections the pooler holds (its pool)
//   await pooler.end()
//
//   const own = await startPgbouncer({ upstreamPort, settings: { server_check_delay: 3600 } });
//   own.url(stack.postgresUrl)   // the same URL, through this pooler
//   await own.stop()
//
// The console is PgBouncer's virtual database `pgbouncer` (same user and password:
// admin_users/stats_users in pgbouncer_start); it speaks the simple query protocol only, which
// is what node-postgres uses for a query without parameters.

import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { unusedPort } from "./ports.mjs";

const LIB_SH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../scripts/lib.sh");

/** `pooledUrl` with its database replaced by the pooler's console. */
export function poolerConsoleUrl(pooledUrl) {
  const u = new URL(pooledUrl);
  u.pathname = "/pgbouncer";
  return u.toString();
}

/** A connection to the console of the pooler at `pooledUrl`, reading its pool for that URL's database. */
export async function poolerConsole(pooledUrl) {
  const database = decodeURIComponent(new URL(pooledUrl).pathname.slice(1));
  const client = new pg.Client({ connectionString: poolerConsoleUrl(pooledUrl) });
  client.on("error", () => {});
  await client.connect();
  const pools = async () => (await client.query("SHOW POOLS")).rows.filter((r) => r.database === database);
  const sum = (rows, keys) => rows.reduce((n, r) => n + keys.reduce((m, k) => m + Number(r[k] ?? 0), 0), 0);
  return {
    /** SHOW POOLS rows of the database (one per user). */
    pools,
    /** Client connections open now: linked to a server, idle between transactions, or waiting for one. */
    clients: async () => sum(await pools(), ["cl_active", "cl_waiting"]),
    /** Server connections open now (in use, idle, being reset or tested, logging in). */
    servers: async () => sum(await pools(), ["sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"]),
    /** Any console command (SHOW STATS, SHOW SERVERS…): its rows. */
    show: async (what) => (await client.query(`SHOW ${what}`)).rows,
    end: () => client.end().catch(() => {}),
  };
}

/**
 * A PgBouncer of one's own, started by scripts/lib.sh's `pgbouncer_start` (same settings as the
 * stack's, SBA_PGBOUNCER_POOL_MODE included) in a temporary folder, its upstream
 * 127.0.0.1:`upstreamPort` (Postgres, or a proxy in front of it). `settings` are extra
 * `key: value` lines for its [pgbouncer] section. `stop()` ends it (and only it).
 */
export async function startPgbouncer({ upstreamPort, settings = {} }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sba-pgbouncer-"));
  chmodSync(dir, 0o755);
  const port = await unusedPort();
  const extra = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  // The shell keeps PgBouncer as its tracked child: TERM makes it exit, and its EXIT trap
  // (lib.sh's stack_stop) stops PgBouncer.
  const script = 'source "$0"; trap stack_stop EXIT; trap "exit 0" TERM INT; pgbouncer_start "$@"; echo ready; wait';
  const child = spawn("bash", ["-c", script, LIB_SH, path.join(dir, "pgbouncer"), String(port), String(upstreamPort), ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  // Should this process end without stop() (an uncaught error, process.exit), the shell still
  // gets its TERM and stops PgBouncer.
  const onExit = () => child.kill("SIGTERM");
  process.once("exit", onExit);
  exited.then(() => process.off("exit", onExit));
  await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      output += d;
      if (output.includes("ready\n")) resolve();
    });
    exited.then((code) => reject(new Error(`pgbouncer_start exited (${code}): ${output.trim()}`)));
  });
  return {
    port,
    dir: path.join(dir, "pgbouncer"),
    /** `target` with its host and port replaced by this pooler's. */
    url(target) {
      const u = new URL(target);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
