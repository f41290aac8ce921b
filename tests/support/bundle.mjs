// Runs the built sba-edge bundle (the dev router + every function's Wasm, exactly as
// worker-build emitted it) in workerd through Miniflare's API, wired to the local stack that
// scripts/test started. Every function's console output is captured so tests can assert on
// the JSON log lines.

import { Miniflare } from "miniflare";
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildPlaygroundIfStale } from "../../tools/playground/build.mjs";

// The Hyperdrive proxy opens its upstream socket with net.connect inside its connection
// handler; remember the newest one so the handler below can tie it to its client socket.
let lastUpstream = null;
if (!net.__sbaUpstreamTracked) {
  const connect = net.connect;
  net.connect = (...args) => (lastUpstream = connect(...args));
  net.__sbaUpstreamTracked = true;
}

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const FUNCTIONS = ["agent", "ratelimited-agent", "kb-ingest", "webhooks"];
/** Webhook secrets the test bundle's webhooks Worker verifies deliveries with. */
export const E2E_WEBHOOK_SECRETS = {
  STRIPE_WEBHOOK_SECRETS: "whsec_e2e_old_secret, whsec_e2e_current_secret",
  BASEHUB_WEBHOOK_SECRET: "bshb_workflow_e2e:e2e-basehub-secret",
  BASEHUB_SVIX_SECRET: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
  BASEHUB_TENANT_ID: "content-e2e",
};
export const REINGEST_QUEUE = "sba-kb-reingest";

/** The HS256 secret every function of the test bundle verifies tenant tokens with. */
export const E2E_JWT_SECRET = "e2e-bundle-jwt-secret-0123456789abcdef";

/**
 * Facts about the running local stack, handed over by scripts/test through the environment.
 * `postgresUrl` is Postgres itself (assertions, counting backends, direct clients);
 * `postgresPooledUrl` is PgBouncer in front of it, pooling as Hyperdrive does in production:
 * what every Worker's Hyperdrive binding gets unless a test overrides it.
 */
export function stackEnv() {
  const need = (name) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run the suite through scripts/test`);
    return value;
  };
  return {
    redisRestUrl: need("SBA_REDIS_REST_URL"),
    redisRestToken: need("SBA_REDIS_REST_TOKEN"),
    postgresUrl: need("SBA_POSTGRES_URL"),
    postgresPooledUrl: need("SBA_POSTGRES_POOLED_URL"),
    redisUrl: need("SBA_REDIS_URL"),
  };
}

// The dev router imports the built playground (target/playground): (re)build it when a source
// is newer, once per process, before the first bundle starts (esbuild: a fraction of a second).
let playgroundBuilt = null;
export function ensurePlayground() {
  playgroundBuilt ??= buildPlaygroundIfStale();
  return playgroundBuilt;
}

function wranglerField(tomlPath, field) {
  const match = readFileSync(tomlPath, "utf8").match(new RegExp(`^${field}\\s*=\\s*"([^"]+)"`, "m"));
  if (!match) throw new Error(`${field} missing in ${tomlPath}`);
  return match[1];
}

/** A wrangler.toml's `compatibility_flags = ["…", …]` (one line), or none. */
function wranglerFlags(tomlPath) {
  const match = readFileSync(tomlPath, "utf8").match(/^compatibility_flags\s*=\s*\[([^\]]*)\]/m);
  return match ? [...match[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [];
}

// What each function's wrangler.toml binds beyond the common set (kept in step by hand:
// Miniflare does not read wrangler.toml).
const EXTRA = {
  webhooks: {
    bindings: E2E_WEBHOOK_SECRETS,
    queueProducers: { REINGEST_QUEUE: { queueName: REINGEST_QUEUE } },
  },
  // Every suite calls from 127.0.0.1, so the plain agent's IP window and burst bucket would
  // make the suites depend on one another; they are the same admission code as the rate-limited
  // agent's, tested there. The tenant's plan window and period quotas still apply.
  agent: {
    bindings: { RATE_LIMIT_IP_PER_MINUTE: "1000000", RATE_LIMIT_BURST: "1000000" },
  },
  "kb-ingest": {
    // As wrangler.toml: retries, then the dead-letter queue, whose batches kb-ingest logs.
    queueConsumers: {
      [REINGEST_QUEUE]: { maxBatchSize: 10, maxBatchTimeout: 0.2, maxRetries: 3, deadLetterQueue: `${REINGEST_QUEUE}-dlq` },
      [`${REINGEST_QUEUE}-dlq`]: { maxBatchSize: 10, maxBatchTimeout: 0.2 },
    },
  },
};

function functionWorker(name, stack, overrides = {}) {
  const dir = path.join(ROOT, "functions", name);
  const buildDir = path.join(dir, "build");
  const toml = path.join(dir, "wrangler.toml");
  const extra = EXTRA[name] ?? {};
  return {
    ...(extra.queueProducers ? { queueProducers: extra.queueProducers } : {}),
    ...(extra.queueConsumers ? { queueConsumers: extra.queueConsumers } : {}),
    name: wranglerField(toml, "name"),
    modules: true,
    scriptPath: path.join(buildDir, "index.js"),
    modulesRoot: buildDir,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: wranglerField(toml, "compatibility_date"),
    compatibilityFlags: wranglerFlags(toml),
    bindings: {
      REDIS_REST_URL: stack.redisRestUrl,
      REDIS_REST_TOKEN: stack.redisRestToken,
      AUTH_JWT_SECRET: E2E_JWT_SECRET,
      AUTH_AUDIENCE: "authenticated",
      OUTBOUND_ALLOWLIST: "127.0.0.1 localhost",
      ...extra.bindings,
      ...overrides.bindings,
    },
    hyperdrives: { DB: overrides.postgresUrl ?? stack.postgresPooledUrl },
  };
}

/** Miniflare options of a Worker built from `dir` (a crate with a worker-build `build/` folder). */
function crateWorker(dir, bindings = {}) {
  const buildDir = path.join(ROOT, dir, "build");
  return {
    modules: true,
    scriptPath: path.join(buildDir, "index.js"),
    modulesRoot: buildDir,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: "2026-04-20",
    bindings: { OUTBOUND_ALLOWLIST: "127.0.0.1 localhost", ...bindings },
  };
}

/**
 * Miniflare options of a JavaScript Worker already bundled into ONE ES module (no imports
 * left), e.g. the bench's JS reference Worker: `{ scriptPath, bindings?, compatibilityDate?,
 * compatibilityFlags? }`.
 */
function scriptWorker({ scriptPath, bindings = {}, compatibilityDate = "2026-04-20", compatibilityFlags = [] }) {
  return { modules: true, scriptPath, compatibilityDate, compatibilityFlags, bindings };
}

/**
 * Starts one Worker built from `dir` (a crate with a worker-build `build/` folder), for the
 * suites that exercise shared pieces through a test-only fixture Worker.
 */
export async function startWorker(dir, bindings = {}) {
  const mf = new Miniflare({ host: "127.0.0.1", port: 0, ...crateWorker(dir, bindings) });
  const url = await mf.ready;
  return { url, fetch: (p, init) => fetch(new URL(p, url), init), dispose: () => mf.dispose() };
}

/**
 * Miniflare options of the dev router (the top-level wrangler.toml's Worker), dev tools on:
 * SBA_DEV_TOOLS as scripts/dev passes it, the bundle's JWT and Stripe secrets. `bindings`
 * replace those (e.g. `{ SBA_DEV_TOOLS: "" }`).
 */
export function routerWorker(bindings = {}) {
  const routerToml = path.join(ROOT, "wrangler.toml");
  return {
    name: wranglerField(routerToml, "name"),
    modules: true,
    scriptPath: path.join(ROOT, wranglerField(routerToml, "main")),
    // The router imports openapi/openapi.json; Miniflare has no JSON module type, so it
    // loads as text (wrangler's esbuild makes it an object; the router accepts both). The
    // built playground is text too (wrangler.toml's [[rules]]). ONE rule per type: Miniflare
    // keeps only the first rule of a type without `fallthrough`.
    modulesRoot: ROOT,
    modulesRules: [{ type: "Text", include: ["**/*.json", "**/target/playground/*"] }],
    compatibilityDate: wranglerField(routerToml, "compatibility_date"),
    bindings: {
      SBA_DEV_TOOLS: "1",
      AUTH_JWT_SECRET: E2E_JWT_SECRET,
      STRIPE_WEBHOOK_SECRETS: E2E_WEBHOOK_SECRETS.STRIPE_WEBHOOK_SECRETS,
      ...bindings,
    },
  };
}

/**
 * Starts the bundle, every Hyperdrive binding on the stack's pooler (`postgresPooledUrl`).
 * `overrides["dev-router"]` replaces bindings of the dev router (routerWorker).
 * `overrides[name]` replaces bindings of one function (e.g. a dead Postgres URL; note that
 * Miniflare keys its Hyperdrive proxy by binding name, so only the FIRST function's
 * `postgresUrl` decides host and port, the others' only user, password and database). Returns { url, logs, fetch, dispose }: `logs` collects parsed JSON lines.
 * `extraWorkers` ({ name: crate folder }) run in the same workerd next to the functions (the
 * bench's empty Worker); a value may also be `{ scriptPath, bindings, … }`, a bundled JS
 * Worker (scriptWorker: the bench's JS reference Worker). With `direct`, every function and
 * extra Worker also listens on a loopback port of its own, without the router or Miniflare's
 * entry Worker in front (as each is deployed: on its own route): `directUrl(name)` is its
 * origin, `name` as in wrangler.toml. With `keepOutput: false` the runtime's output is read
 * and dropped (`logs` stays empty): throughput benches, where parsing thousands of log lines a
 * second in this process would compete with the runtime for the same cores.
 */
export async function startBundle({ overrides = {}, extraWorkers = {}, direct = false, keepOutput = true } = {}) {
  const stack = stackEnv();
  const logs = [];
  const raw = { text: "" };
  const collect = (stream) => {
    let buffered = "";
    stream.on("data", (chunk) => {
      raw.text += chunk.toString();
      buffered += chunk.toString();
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        const start = line.indexOf("{");
        if (start < 0) continue;
        try {
          logs.push(JSON.parse(line.slice(start)));
        } catch {
          // not a JSON log line (runtime chatter)
        }
      }
    });
  };
  await ensurePlayground();
  // Miniflare 4.20260426 keys its Hyperdrive proxy servers by binding name, so with four
  // Workers all binding `DB` it closes only the last on dispose and the other three keep
  // Node alive. Record the servers it creates and close the leftovers ourselves.
  const proxies = [];
  const createServer = net.createServer;
  // The same proxies leave Nagle's algorithm on, stalling many Postgres round trips by
  // ~40 ms (local-only; a 20-document batch took seconds): switch it off per connection.
  net.createServer = (...args) => {
    const server = createServer(...args);
    server.on("connection", (socket) => {
      socket.setNoDelay(true);
      // When workerd's side goes away, close the proxy's upstream too (the proxy only pipes,
      // and a reset client leaves Postgres holding an idle transaction and Node alive).
      const upstream = lastUpstream;
      upstream?.setNoDelay?.(true);
      // An outage test cutting the database mid-write makes the upstream side fail too
      // ("socket has been ended by the other party"); the proxy has no handler for that.
      upstream?.on?.("error", () => {});
      socket.on("close", () => upstream?.destroy());
      // The proxy attaches no error handler; a connection reset while the runtime shuts down
      // (a waitUntil audit write cut off by dispose) would otherwise crash the test process.
      socket.on("error", () => {});
    });
    proxies.push(server);
    return server;
  };
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio(stdout, stderr) {
      if (!keepOutput) {
        stdout.resume();
        stderr.resume();
        return;
      }
      collect(stdout);
      collect(stderr);
    },
    workers: [
      {
        ...routerWorker(overrides["dev-router"]?.bindings),
        serviceBindings: {
          AGENT: "sba-agent",
          RATELIMITED_AGENT: "sba-ratelimited-agent",
          KB_INGEST: "sba-kb-ingest",
          WEBHOOKS: "sba-webhooks",
        },
      },
      ...[
        ...FUNCTIONS.map((name) => functionWorker(name, stack, overrides[name])),
        ...Object.entries(extraWorkers).map(([name, spec]) => ({ name, ...(typeof spec === "string" ? crateWorker(spec) : scriptWorker(spec)) })),
      ].map((worker) => (direct ? { ...worker, unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : worker)),
    ],
  });
  let url;
  try {
    url = await mf.ready;
  } finally {
    net.createServer = createServer;
  }
  return {
    url: url.toString().replace(/\/$/, ""),
    logs,
    /** Everything the runtime printed, verbatim (for leak checks). */
    rawOutput: () => raw.text,
    fetch: (p, init) => fetch(new URL(p, url), init),
    /** The origin of one Worker's own socket (`direct` only), e.g. "http://127.0.0.1:41234". */
    directUrl: async (name) => (await mf.unsafeGetDirectURL(name)).toString().replace(/\/$/, ""),
    /** Runs one Worker's cron handler now (`name` as in its wrangler.toml, e.g. "sba-webhooks"). */
    scheduled: async (name, cron = "* * * * *") => (await mf.getWorker(name)).scheduled({ cron }),
    /** Waits until a log line matching `predicate` arrives (logs are asynchronous). */
    async waitForLog(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = logs.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching log line; saw ${JSON.stringify(logs.slice(-5))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async dispose() {
      // Let waitUntil work (audit rows, token accounting) finish before the runtime stops.
      await new Promise((r) => setTimeout(r, 250));
      await mf.dispose();
      for (const server of proxies) if (server.listening) server.close();
    },
  };
}
