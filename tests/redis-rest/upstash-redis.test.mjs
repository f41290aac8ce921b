// Compatibility tests for tools/redis-rest-server: the official @upstash/redis and
// @upstash/ratelimit clients are the judges of the protocol.
//
// Starts a throwaway redis-server and the built server binary (REDIS_REST_SERVER_BIN, default
// target/debug/redis-rest-server: `cargo build -p redis-rest-server` first), and stops both in
// after(), failures included. Run: node --test tests/redis-rest/

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Redis } from "@upstash/redis";
import { Ratelimit } from "@upstash/ratelimit";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SERVER_BIN = process.env.REDIS_REST_SERVER_BIN
  ? path.resolve(process.env.REDIS_REST_SERVER_BIN)
  : path.join(process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target"), "debug", "redis-rest-server");
const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? "redis-server";
const TOKEN = randomBytes(16).toString("hex");
const START_TIMEOUT_MS = 15_000;

const children = [];
let tmpDir;
let url;

const sha1 = (text) => createHash("sha1").update(text, "utf8").digest("hex");
const unique = (name) => `t:${name}:${randomBytes(4).toString("hex")}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Spawns a child, remembers it for after(), and resolves with the first stdout match. */
function start(cmd, args, { env, ready }) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], cwd: tmpDir });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} not ready after ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const onData = (chunk) => {
      output += chunk;
      if (output.length > 64 * 1024) output = output.slice(-32 * 1024);
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", (chunk) => { output += chunk; });
    child.on("error", (e) => { clearTimeout(timer); reject(e); });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited early (${code ?? signal}):\n${output}`));
    });
  });
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => { clearTimeout(kill); resolve(); });
    child.kill("SIGTERM");
  });
}

// Belt and braces: if the runner dies before after(), do not leave servers behind.
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

before(async () => {
  assert.ok(existsSync(SERVER_BIN), `${SERVER_BIN} not found: run \`cargo build -p redis-rest-server\` or set REDIS_REST_SERVER_BIN`);
  tmpDir = mkdtempSync(path.join(os.tmpdir(), "redis-rest-test-"));
  const redisPort = await freePort();
  await start(REDIS_BIN, ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmpDir], {
    ready: /Ready to accept connections/,
  });
  const [, listening] = await start(SERVER_BIN, ["--listen", "127.0.0.1:0", "--redis", `redis://127.0.0.1:${redisPort}`], {
    env: { REDIS_REST_TOKEN: TOKEN },
    ready: /^redis-rest-server listening on (http:\/\/127\.0\.0\.1:\d+)$/m,
  });
  url = listening;
});

after(async () => {
  await Promise.all(children.map(stop));
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
});

/** A raw request: JSON in, { status, headers, body } out. */
async function raw(pathAndQuery, { method = "POST", body, token = TOKEN, headers = {} } = {}) {
  const res = await fetch(url + pathAndQuery, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    assert.fail(`response is not JSON (${res.status}): ${text}`);
  }
  return { status: res.status, headers: res.headers, body: json };
}

for (const enableAutoPipelining of [false, true]) {
  describe(`@upstash/redis (enableAutoPipelining: ${enableAutoPipelining})`, () => {
    let redis;
    before(() => {
      redis = new Redis({ url, token: TOKEN, enableAutoPipelining, retry: false, enableTelemetry: false });
    });

    test("SET / GET", async () => {
      const key = unique("setget");
      assert.equal(await redis.set(key, "bar"), "OK");
      assert.equal(await redis.get(key), "bar");
      assert.equal(await redis.get(unique("missing")), null);
    });

    test("SET with EX, then TTL", async () => {
      const key = unique("ttl");
      assert.equal(await redis.set(key, "v", { ex: 100 }), "OK");
      const ttl = await redis.ttl(key);
      assert.ok(ttl > 0 && ttl <= 100, `ttl ${ttl}`);
    });

    test("INCR / INCRBY", async () => {
      const key = unique("incr");
      assert.equal(await redis.incr(key), 1);
      assert.equal(await redis.incrby(key, 41), 42);
      assert.equal(await redis.get(key), 42);
    });

    test("pipeline", async () => {
      const a = unique("pipe-a");
      const b = unique("pipe-b");
      const p = redis.pipeline();
      p.set(a, "one");
      p.incr(b);
      p.incrby(b, 2);
      p.get(a);
      p.mget(a, b);
      assert.deepEqual(await p.exec(), ["OK", 1, 3, "one", ["one", 3]]);
    });

    test("pipeline keeps per-command errors in order", async () => {
      const key = unique("pipe-err");
      const p = redis.pipeline();
      p.set(key, "text");
      p.incr(key);
      p.get(key);
      const res = await p.exec({ keepErrors: true });
      assert.equal(res[0].result, "OK");
      assert.match(res[1].error, /^ERR value is not an integer/);
      assert.equal(res[2].result, "text");
    });

    test("multi-exec", async () => {
      const key = unique("multi");
      const tx = redis.multi();
      tx.set(key, "1");
      tx.incr(key);
      tx.get(key);
      tx.del(key);
      assert.deepEqual(await tx.exec(), ["OK", 2, 2, 1]);
    });

    test("non-ASCII, emoji and JSON values round-trip (base64 responses)", async () => {
      const text = unique("text");
      const obj = unique("obj");
      const value = "héllo wörld – 😀 中文 \u0000 \"quoted\"";
      const object = { a: 1, nested: { list: [1, "two", null], emoji: "🎉" }, ok: true };
      assert.equal(await redis.set(text, value), "OK");
      assert.equal(await redis.set(obj, object), "OK");
      assert.equal(await redis.get(text), value);
      assert.deepEqual(await redis.get(obj), object);
      assert.deepEqual(await redis.mget(text, obj), [value, object]);
      // A stored "OK" is a bulk string, not the status reply; inside arrays too.
      const okKey = unique("ok");
      await redis.set(okKey, "OK");
      assert.equal(await redis.get(okKey), "OK");
      assert.deepEqual(await redis.mget(okKey, text), ["OK", value]);
    });

    test("HSET / HGETALL", async () => {
      const key = unique("hash");
      assert.equal(await redis.hset(key, { name: "Zoë", count: 3, obj: { x: 1 } }), 3);
      assert.deepEqual(await redis.hgetall(key), { name: "Zoë", count: 3, obj: { x: 1 } });
      assert.equal(await redis.hget(key, "name"), "Zoë");
      assert.equal(await redis.hgetall(unique("nohash")), null);
    });

    test("scripts: createScript falls back to EVAL on NOSCRIPT; scriptLoad + evalsha", async () => {
      const key = unique("script");
      const body = `return redis.call("INCRBY", KEYS[1], ARGV[1]) -- ${key}`;
      const script = redis.createScript(body);
      assert.equal(await script.exec([key], ["2"]), 2); // EVALSHA → NOSCRIPT → EVAL
      assert.equal(await script.exec([key], ["3"]), 5); // EVALSHA hits the cache
      const other = `return ARGV[1] .. "!" -- ${key}`;
      assert.equal(await redis.scriptLoad(other), sha1(other));
      assert.equal(await redis.evalsha(sha1(other), [], ["hé"]), "hé!");
      assert.deepEqual(await redis.scriptExists(sha1(other), sha1(`never ${key}`)), [1, 0]);
      await assert.rejects(redis.evalsha(sha1(`never loaded ${key}`), [], []), /NOSCRIPT/);
      assert.equal(await redis.createScript(`return 7 -- fresh ${key}`).exec([], []), 7);
    });

    test("scripts: #!lua flags=allow-key-locking via EVAL, then EVALSHA by the original SHA-1", async () => {
      const key = unique("locking");
      const body = `#!lua flags=allow-key-locking\nreturn redis.call("INCR", KEYS[1]) -- ${key}`;
      assert.equal(await redis.eval(body, [key], []), 1);
      assert.equal(await redis.evalsha(sha1(body), [key], []), 2);
      assert.deepEqual(await redis.scriptExists(sha1(body)), [1]);
      const readOnly = `#!lua flags=no-writes,allow-key-locking\nreturn redis.call("GET", KEYS[1]) -- ${key}`;
      assert.equal(await redis.scriptLoad(readOnly), sha1(readOnly));
      assert.equal(await redis.evalsha(sha1(readOnly), [key], []), 2);
      const viaCreate = redis.createScript(`#!lua flags=allow-key-locking\nreturn {KEYS[1], "OK", 3} -- ${key}`);
      assert.deepEqual(await viaCreate.exec([key], []), [key, "OK", 3]);
      assert.deepEqual(await viaCreate.exec([key], []), [key, "OK", 3]);
      // also inside a pipeline and a transaction
      const p = redis.pipeline();
      p.evalsha(sha1(body), [key], []);
      p.eval(body, [key], []);
      assert.deepEqual(await p.exec(), [3, 4]);
      const tx = redis.multi();
      tx.evalsha(sha1(body), [key], []);
      tx.get(key);
      assert.deepEqual(await tx.exec(), [5, 5]);
    });

    test("PUBLISH returns a number", async () => {
      assert.equal(await redis.publish(unique("channel"), "hello"), 0);
    });

    test("a wrong token makes the client throw", async () => {
      const wrong = new Redis({ url, token: "wrong-token", enableAutoPipelining, retry: false, enableTelemetry: false });
      await assert.rejects(wrong.get("anything"), /Unauthorized/);
    });
  });
}

describe("raw protocol", () => {
  test("PUT is 405 with a JSON error", async () => {
    const res = await raw("/", { method: "PUT", body: ["GET", "x"] });
    assert.equal(res.status, 405);
    assert.equal(typeof res.body.error, "string");
  });

  test("malformed JSON and non-array bodies are 400", async () => {
    for (const body of ['["GET",', '{"cmd":"GET"}', "[]", '"PING"']) {
      const res = await raw("/", { body });
      assert.equal(res.status, 400, body);
      assert.equal(typeof res.body.error, "string", body);
    }
    const res = await raw("/pipeline", { body: '[["PING"],"PING"]' });
    assert.equal(res.status, 400);
  });

  test("no auth is 401; ?_token= works", async () => {
    const none = await raw("/", { body: ["PING"], token: null });
    assert.equal(none.status, 401);
    assert.deepEqual(none.body, { error: "Unauthorized" });
    const bad = await raw(`/?_token=nope`, { body: ["PING"], token: null });
    assert.equal(bad.status, 401);
    const ok = await raw(`/?_token=${encodeURIComponent(TOKEN)}`, { body: ["PING"], token: null });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { result: "PONG" });
  });

  test("upstash-sync-token on every response, increasing", async () => {
    const first = await raw("/", { body: ["PING"], headers: { "upstash-sync-token": "anything" } });
    const second = await raw("/", { body: ["PING"] });
    const denied = await raw("/", { body: ["PING"], token: null });
    const tokens = [first, second, denied].map((r) => r.headers.get("upstash-sync-token"));
    for (const t of tokens) assert.match(t ?? "", /^\d+$/);
    assert.ok(Number(tokens[1]) > Number(tokens[0]));
  });

  test("commands, errors and encodings", async () => {
    const key = unique("raw");
    assert.deepEqual((await raw("/", { body: ["SET", key, "bär", "EX", 100] })).body, { result: "OK" });
    assert.deepEqual((await raw("/", { body: ["GET", key] })).body, { result: "bär" });
    const b64 = { "Upstash-Encoding": "base64" };
    assert.deepEqual((await raw("/", { body: ["SET", key, "bär"], headers: b64 })).body, { result: "OK" });
    assert.deepEqual((await raw("/", { body: ["GET", key], headers: b64 })).body, { result: Buffer.from("bär").toString("base64") });
    assert.deepEqual((await raw("/", { body: ["PING"], headers: b64 })).body, { result: "UE9ORw==" });
    const err = await raw("/", { body: ["INCR", key], headers: b64 });
    assert.equal(err.status, 400);
    assert.match(err.body.error, /^ERR value is not an integer/);
    // numbers, booleans and objects as arguments
    assert.deepEqual((await raw("/", { body: ["SET", key, { b: 1, a: [true, null] }] })).body, { result: "OK" });
    assert.deepEqual((await raw("/", { body: ["GET", key] })).body, { result: '{"b":1,"a":[true,null]}' });
    assert.deepEqual((await raw("/", { body: ["SET", key, 1.5] })).body, { result: "OK" });
    assert.deepEqual((await raw("/", { body: ["INCRBYFLOAT", key, 1] })).body, { result: "2.5" });
  });

  test("path form: GET and POST with a body", async () => {
    const key = unique("path/with space");
    const enc = encodeURIComponent(key);
    assert.deepEqual((await raw(`/set/${enc}/hello`, { method: "GET" })).body, { result: "OK" });
    assert.deepEqual((await raw(`/get/${enc}`, { method: "GET" })).body, { result: "hello" });
    assert.deepEqual((await raw(`/set/${enc}`, { body: "from the body ✓" })).body, { result: "OK" });
    assert.deepEqual((await raw(`/get/${enc}`, { method: "GET" })).body, { result: "from the body ✓" });
  });

  test("pipeline and multi-exec shapes", async () => {
    const key = unique("shapes");
    const p = await raw("/pipeline", { body: [["SET", key, "x"], ["INCR", key], ["GET", key]] });
    assert.equal(p.status, 200);
    assert.equal(p.body[0].result, "OK");
    assert.match(p.body[1].error, /^ERR/);
    assert.equal(p.body[2].result, "x");
    const m = await raw("/multi-exec", { body: [["SET", key, "1"], ["INCR", key]] });
    assert.deepEqual(m.body, [{ result: "OK" }, { result: 2 }]);
  });

  test("a transaction discarded as a whole answers one error object", async () => {
    const key = unique("discarded");
    for (const bad of [["SET", key], ["NOSUCHCOMMAND"], ["MULTI"]]) {
      const res = await raw("/multi-exec", { body: [["SET", key, "1"], bad, ["INCR", key]] });
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.ok(!Array.isArray(res.body), JSON.stringify(res.body));
      assert.equal(typeof res.body.error, "string");
    }
    assert.deepEqual((await raw("/", { body: ["EXISTS", key] })).body, { result: 0 });
  });

  test("bodies over the limit are 413", async () => {
    const res = await raw("/", { body: JSON.stringify(["SET", "big", "x".repeat(11 * 1024 * 1024)]) });
    assert.equal(res.status, 413);
    assert.equal(typeof res.body.error, "string");
  });
});

describe("@upstash/ratelimit 2.2.0", () => {
  test("slidingWindow(3, '10 s'): three pass, the fourth is rejected", async () => {
    const redis = new Redis({ url, token: TOKEN, retry: false, enableTelemetry: false });
    const prefix = unique("ratelimit");
    const ratelimit = new Ratelimit({ redis, limiter: Ratelimit.slidingWindow(3, "10 s"), prefix });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await ratelimit.limit("user-1"));
    assert.deepEqual(results.map((r) => r.success), [true, true, true, false]);
    assert.deepEqual(results.map((r) => r.remaining), [2, 1, 0, 0]);
    for (const r of results) {
      assert.equal(r.limit, 3);
      assert.equal(r.reason, undefined); // not a fail-open timeout
      await r.pending;
    }
    const keys = await redis.keys(`${prefix}:user-1:*`);
    assert.ok(keys.length >= 1, "the limiter state lives in redis");
    assert.equal((await ratelimit.limit("user-2")).success, true);
  });
});
