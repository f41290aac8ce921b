// Differential tests: our limiter (sba-ratelimit, driven through its ratelimit-cli example as
// a long-lived child process) and the official @upstash/ratelimit 2.2.0, on the same
// identifiers in the same Redis (the local REST server of scripts/test), must see each
// other's consumption: interleaved calls agree on success, remaining and reset, and the keys
// one writes are the keys the other reads.
//
// Where we deliberately differ (exactness), the tests assert both behaviours side by side.
//
// Needs SBA_REDIS_REST_URL / SBA_REDIS_REST_TOKEN (scripts/test exports them). Builds the
// example with cargo unless SBA_RATELIMIT_CLI names a built binary.
// Run: node --test tests/ratelimit/

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

import { Redis } from "@upstash/redis";
import { Ratelimit } from "@upstash/ratelimit";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through scripts/test or set SBA_REDIS_REST_URL and SBA_REDIS_REST_TOKEN`);
  return value;
}

const unique = (name) => `rl-diff:${name}:${randomBytes(6).toString("hex")}`;

let redis;
let cli;
let lines;
const pending = [];

/** One decision by our limiter: the CLI's JSON answer. */
function ours(request) {
  return new Promise((resolve, reject) => {
    pending.push({ resolve, reject });
    cli.stdin.write(`${JSON.stringify(request)}\n`);
  });
}

/** The official limiter, with its in-memory cache off so every answer comes from Redis. */
function official(limiter) {
  return new Ratelimit({ redis, limiter, ephemeralCache: false, analytics: false, timeout: 10_000 });
}

/** Waits out the last seconds of a `windowMs` window so a test stays inside one window. */
async function awayFromWindowEdge(windowMs, marginMs = 5_000) {
  const into = Date.now() % windowMs;
  if (into > windowMs - marginMs) await new Promise((r) => setTimeout(r, windowMs - into + 50));
}

before(async () => {
  const url = need("SBA_REDIS_REST_URL");
  const token = need("SBA_REDIS_REST_TOKEN");
  let bin = process.env.SBA_RATELIMIT_CLI;
  if (!bin) {
    execFileSync("cargo", ["build", "-q", "-p", "sba-ratelimit", "--example", "ratelimit-cli"], { cwd: ROOT, stdio: "inherit" });
    bin = path.join(TARGET, "debug", "examples", "ratelimit-cli");
  }
  redis = new Redis({ url, token, retry: false, enableTelemetry: false });
  cli = spawn(bin, [], { env: { ...process.env, SBA_REDIS_REST_URL: url, SBA_REDIS_REST_TOKEN: token }, stdio: ["pipe", "pipe", "inherit"] });
  cli.on("exit", (code) => {
    for (const p of pending.splice(0)) p.reject(new Error(`ratelimit-cli exited with ${code}`));
  });
  lines = readline.createInterface({ input: cli.stdout });
  lines.on("line", (line) => {
    const next = pending.shift();
    if (!next) return;
    const answer = JSON.parse(line);
    if (answer.error) next.reject(new Error(`ratelimit-cli: ${answer.error}`));
    else next.resolve(answer);
  });
});

after(() => {
  lines?.close();
  cli?.stdin.end();
  cli?.kill();
});

/**
 * Runs `steps` in order, alternating libraries as each step says, and checks every answer
 * against the expected [success, remaining]. Returns the answers.
 */
async function interleave({ theirs, mine, identifier, steps }) {
  const answers = [];
  for (const [who, rate, success, remaining] of steps) {
    const answer =
      who === "node"
        ? await theirs.limit(identifier, { rate })
        : await ours({ ...mine, identifier, rate });
    const label = `${who} rate ${rate} (step ${answers.length + 1})`;
    assert.equal(answer.success, success, `${label}: success`);
    assert.equal(answer.remaining, remaining, `${label}: remaining`);
    if (who === "rust") {
      assert.equal(answer.reason, null, `${label}: decided in Redis`);
      assert.equal(answer.roundTrips <= 2, true, `${label}: round trips`);
    }
    answers.push(answer);
  }
  return answers;
}

describe("our limiter and @upstash/ratelimit 2.2.0 share one limit", () => {
  test("sliding window: interleaved calls agree", async () => {
    await awayFromWindowEdge(60_000);
    const identifier = unique("sliding");
    const theirs = official(Ratelimit.slidingWindow(5, "60 s"));
    const mine = { algorithm: "slidingWindow", limit: 5, window_ms: 60_000 };
    const answers = await interleave({
      theirs,
      mine,
      identifier,
      steps: [
        ["node", 1, true, 4],
        ["rust", 1, true, 3],
        ["node", 1, true, 2],
        ["rust", 2, true, 0],
        ["node", 1, false, 0],
        ["rust", 1, false, 0],
      ],
    });
    const resets = new Set(answers.map((a) => a.reset));
    assert.equal(resets.size, 1, `one window, one reset: ${[...resets]}`);
    const bucket = Math.floor(answers[0].reset / 60_000) - 1;
    assert.equal(Number(await redis.get(`@upstash/ratelimit:${identifier}:${bucket}`)), 5);
    assert.equal((await theirs.getRemaining(identifier)).remaining, 0);
  });

  test("fixed window: interleaved calls agree", async () => {
    await awayFromWindowEdge(60_000);
    const identifier = unique("fixed");
    const theirs = official(Ratelimit.fixedWindow(3, "60 s"));
    const mine = { algorithm: "fixedWindow", limit: 3, window_ms: 60_000 };
    const answers = await interleave({
      theirs,
      mine,
      identifier,
      steps: [
        ["node", 1, true, 2],
        ["rust", 1, true, 1],
        ["node", 1, true, 0],
        ["rust", 1, false, 0],
        ["node", 1, false, 0],
        ["rust", 1, false, 0],
      ],
    });
    assert.equal(new Set(answers.map((a) => a.reset)).size, 1);
    const bucket = Math.floor(answers[0].reset / 60_000) - 1;
    // Upstream counts its refused request (INCRBY first); ours writes nothing when refusing.
    assert.equal(Number(await redis.get(`@upstash/ratelimit:${identifier}:${bucket}`)), 4);
  });

  test("token bucket: interleaved calls agree, one hash", async () => {
    const identifier = unique("bucket");
    const theirs = official(Ratelimit.tokenBucket(1, "1 h", 5));
    const mine = { algorithm: "tokenBucket", limit: 5, window_ms: 3_600_000, refill_rate: 1 };
    const answers = await interleave({
      theirs,
      mine,
      identifier,
      steps: [
        ["node", 1, true, 4],
        ["rust", 1, true, 3],
        ["node", 2, true, 1],
        ["rust", 1, true, 0],
        ["node", 1, false, 0],
        ["rust", 1, false, 0],
      ],
    });
    assert.equal(new Set(answers.map((a) => a.reset)).size, 1, "reset = refilledAt + interval for both");
    const hash = await redis.hgetall(`@upstash/ratelimit:${identifier}`);
    assert.deepEqual(Object.keys(hash).sort(), ["refilledAt", "tokens"]);
    assert.equal(Number(hash.tokens), 0);
    assert.equal(Number(hash.refilledAt) + 3_600_000, answers[0].reset);
  });

  test("refunds by one are seen by the other", async () => {
    await awayFromWindowEdge(60_000);
    const identifier = unique("refund");
    const theirs = official(Ratelimit.slidingWindow(2, "60 s"));
    const mine = { algorithm: "slidingWindow", limit: 2, window_ms: 60_000 };
    await interleave({
      theirs,
      mine,
      identifier,
      steps: [
        ["node", 2, true, 0],
        ["rust", 1, false, 0],
        ["rust", -1, true, 1],
        ["node", 1, true, 0],
        ["node", -2, true, 2],
        ["rust", 2, true, 0],
      ],
    });
  });

  test("deliberate difference: a rate that does not fit is refused without being counted", async () => {
    await awayFromWindowEdge(60_000);
    const mine = { algorithm: "slidingWindow", limit: 10, window_ms: 60_000 };
    const theirs = official(Ratelimit.slidingWindow(10, "60 s"));

    // 9 of 10 used, then rate 3. Upstream checks `used >= limit` without the rate, so it
    // increments anyway: it answers "refused" but the window now holds 12 of 10, and the
    // unit that was left is gone.
    const a = unique("over-upstream");
    const first = await theirs.limit(a, { rate: 9 });
    assert.equal(first.remaining, 1);
    const up = await theirs.limit(a, { rate: 3 });
    assert.deepEqual([up.success, up.remaining], [false, 0]);
    const bucket = Math.floor(first.reset / 60_000) - 1;
    assert.equal(Number(await redis.get(`@upstash/ratelimit:${a}:${bucket}`)), 12);
    assert.equal((await theirs.limit(a)).success, false, "upstream: the last unit was burnt");

    // The same with ours: refused, nothing counted, and upstream still sees 1 left.
    const b = unique("over-ours");
    assert.equal((await theirs.limit(b, { rate: 9 })).remaining, 1);
    const mineAnswer = await ours({ ...mine, identifier: b, rate: 3 });
    assert.deepEqual([mineAnswer.success, mineAnswer.remaining], [false, 1]);
    assert.equal(Number(await redis.get(`@upstash/ratelimit:${b}:${bucket}`)), 9);
    assert.equal((await theirs.getRemaining(b)).remaining, 1);
    assert.equal((await theirs.limit(b)).success, true);
  });

  test("deliberate difference: a refused token-bucket request reports the tokens left", async () => {
    const identifier = unique("bucket-refused");
    const theirs = official(Ratelimit.tokenBucket(1, "1 h", 5));
    const mine = { algorithm: "tokenBucket", limit: 5, window_ms: 3_600_000, refill_rate: 1 };
    assert.equal((await ours({ ...mine, identifier, rate: 3 })).remaining, 2);
    const up = await theirs.limit(identifier, { rate: 3 });
    assert.deepEqual([up.success, up.remaining], [false, 0], "upstream answers 0 when refusing");
    const mineAnswer = await ours({ ...mine, identifier, rate: 3 });
    assert.deepEqual([mineAnswer.success, mineAnswer.remaining], [false, 2], "we answer what is left");
    assert.equal((await theirs.getRemaining(identifier)).remaining, 2, "neither consumed");
  });
});
