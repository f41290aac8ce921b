// The one table of scripts/bench, from what its steps left in a folder (default target/bench):
//   limiter.log       the native limiter bench's output (shared/ratelimit/examples/bench.rs)
//   endpoints.json    tests/bench/endpoints.mjs (wrk rows; the empty Worker is the baseline)
//   kb-ingest.json    tests/bench/kb-ingest.mjs
//   agent.json        tests/bench/agent.mjs (open SSE streams, workerd memory)
// and the built Wasm (gzip -9 computed here). Prints the table on stdout, writes bench.json
// next to the inputs, and exits 1 when a step failed or left nothing behind.
//
//   node tests/bench/table.mjs [folder]

import { execSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT, FUNCTIONS } from "../support/bundle.mjs";

const dir = path.resolve(process.argv[2] ?? path.join(ROOT, "target/bench"));
const problems = [];
const readJson = (name) => {
  const file = path.join(dir, name);
  if (!existsSync(file)) {
    problems.push(`${name}: missing (the step did not finish; see its log in ${dir})`);
    return null;
  }
  const data = JSON.parse(readFileSync(file, "utf8"));
  for (const f of data.failures ?? []) problems.push(`${name.replace(/\.json$/, "")}: ${f}`);
  return data;
};

// ---- inputs ---------------------------------------------------------------------------------
const endpoints = readJson("endpoints.json");
const kb = readJson("kb-ingest.json");
const agent = readJson("agent.json");

/** The native limiter bench's phase rows: name, ops, secs, ops/s, trips/op. */
function limiterRows() {
  const file = path.join(dir, "limiter.log");
  if (!existsSync(file)) {
    problems.push("limiter.log: missing");
    return [];
  }
  const text = readFileSync(file, "utf8");
  for (const line of text.split("\n")) if (line.startsWith("FAIL")) problems.push(`limiter: ${line}`);
  const rows = [];
  for (const line of text.split("\n")) {
    const m = line.match(/^(\S.*?)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$/);
    if (m) rows.push({ name: m[1], ops: Number(m[2]), secs: Number(m[3]), opsPerSec: Number(m[4]), tripsPerOp: Number(m[5]) });
  }
  if (!rows.length) problems.push("limiter.log: no phase rows");
  return rows;
}
const limiter = limiterRows().map((row, _, all) => {
  // Each phase next to the PING baseline at the same concurrency (its name says which).
  const concurrency = row.name.match(/(\d+) concurrent/)?.[1];
  const base = all.find((b) => b.name.startsWith("baseline") && (concurrency ? b.name.includes(`${concurrency} concurrent`) : b.name.includes("sequential")));
  return { ...row, ratioToPing: base ? row.opsPerSec / base.opsPerSec : null };
});

const sizes = [...FUNCTIONS.map((name) => ({ name, dir: `functions/${name}` })), { name: "empty Worker (baseline)", dir: "tests/empty-worker" }]
  .map(({ name, dir: crate }) => {
    const wasm = path.join(ROOT, crate, "build/index_bg.wasm");
    if (!existsSync(wasm)) {
      problems.push(`${crate}: no build/index_bg.wasm`);
      return { name, crate, wasmBytes: null, gzipBytes: null };
    }
    return { name, crate, wasmBytes: statSync(wasm).size, gzipBytes: gzipSync(readFileSync(wasm), { level: 9 }).length };
  });
const emptySize = sizes.at(-1).gzipBytes;
for (const s of sizes) s.gzipRatio = s.gzipBytes && emptySize ? s.gzipBytes / emptySize : null;

const throughput = (endpoints?.rows ?? []).map((row, _, all) => {
  const base = all.find((r) => r.id === endpoints.baseline);
  const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : null);
  return {
    ...row,
    ratio: { reqPerSec: ratio(row.reqPerSec, base?.reqPerSec), p50: ratio(row.p50Ms, base?.p50Ms), p99: ratio(row.p99Ms, base?.p99Ms) },
  };
});

// ---- the table ------------------------------------------------------------------------------
const LABEL = 56;
const CELL = 10;
const lines = [];
/** Three significant digits (whole numbers from 1000 on); "-" for nothing. */
const cell = (v) =>
  v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v))
    ? "-"
    : typeof v !== "number"
      ? String(v)
      : Math.abs(v) >= 1000
        ? Math.round(v).toString()
        : v.toPrecision(3);
const row = (label, cells) => lines.push(`${label.padEnd(LABEL)}${cells.map((c) => c.padStart(CELL)).join("")}`);
const section = (title, label, heads) => {
  lines.push("", title);
  row(label, heads);
  lines.push("-".repeat(LABEL + CELL * heads.length));
};

const commit = (() => {
  try {
    const head = execSync("git rev-parse --short=12 HEAD", { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execSync("git status --porcelain", { cwd: ROOT, encoding: "utf8" }).trim() ? "-dirty" : "";
    return head + dirty;
  } catch {
    return "unknown";
  }
})();
lines.push(`sba-edge bench — ${new Date().toISOString()}, ${os.cpus().length} CPUs, node ${process.version}, commit ${commit}`);
lines.push("×empty = this row ÷ the empty Worker measured in the same run on the same workerd (higher req/s and lower latency are better)");

const wrkSetup = endpoints ? `wrk -t${endpoints.threads} -c${endpoints.connections} -d${endpoints.secs}s` : "wrk";
section(`THROUGHPUT: ${wrkSetup} --latency on loopback; the Wasm in workerd (Miniflare), each Worker on its own socket`, "endpoint", ["req/s", "×empty", "p50 ms", "×empty", "p99 ms", "×empty", "errors"]);
for (const r of throughput) {
  if (r.failed) {
    row(r.label, ["-", "-", "-", "-", "-", "-", "FAILED"]);
    continue;
  }
  row(r.label, [cell(r.reqPerSec), cell(r.ratio.reqPerSec), cell(r.p50Ms), cell(r.ratio.p50), cell(r.p99Ms), cell(r.ratio.p99), String(r.errors)]);
}

section("REDIS ROUND TRIPS per limiter decision: native client, local REST server; ×PING = ÷ PING/s at the same concurrency", "phase", ["trips/op", "ops/s", "×PING"]);
for (const r of limiter) row(r.name, [cell(r.tripsPerOp), cell(r.opsPerSec), cell(r.ratioToPing)]);

section("WASM SIZE: release build; gzip -9 is what ships and counts against the size limit", "function", ["wasm KB", "gzip KB", "×empty"]);
for (const s of sizes) row(s.name, [cell(s.wasmBytes && s.wasmBytes / 1024), cell(s.gzipBytes && s.gzipBytes / 1024), cell(s.gzipRatio)]);

const st = agent?.streams;
section(
  "SSE STREAMS: agent runs held open in one workerd (model silent after one token, `: ping` heartbeats); workerd RSS",
  "",
  ["held", "cap", "RSS MB", "idle MB", "KB/stream", "hz p50 ms"],
);
if (st) {
  const kbPerStream = st.held > 0 ? ((st.workerdRssMb - st.workerdRssMbBefore) * 1024) / st.held : null;
  row("concurrent open SSE streams", [String(st.held), String(st.cap), cell(st.workerdRssMb), cell(st.workerdRssMbBefore), cell(kbPerStream), cell(st.healthzP50Ms)]);
} else {
  row("concurrent open streams held", ["FAILED"]);
}

section("KB INGEST: node client through the router, one document a request; ×hz = ÷ GET /kb/healthz/s at the same concurrency", "phase", [
  "docs/s", "×hz", "p50 ms", "chunks/s", "chunk/doc",
]);
for (const r of (kb?.rows ?? []).filter((r) => r.chunks > 0)) {
  row(r.name, [cell(r.perSec), cell(r.ratio), cell(r.p50), cell(r.chunksPerSec), cell(r.chunksPerDoc)]);
}

if (problems.length) {
  lines.push("", `FAILURES (${problems.length}):`);
  for (const p of problems) lines.push(`  ${p}`);
}
console.log(lines.join("\n"));

writeFileSync(
  path.join(dir, "bench.json"),
  `${JSON.stringify(
    {
      generatedAt: new Date().toISOString(),
      commit,
      cpus: os.cpus().length,
      node: process.version,
      throughput: { tool: "wrk", threads: endpoints?.threads, connections: endpoints?.connections, secs: endpoints?.secs, baseline: endpoints?.baseline, rows: throughput },
      limiter,
      wasmSizes: sizes,
      streams: st ?? null,
      agent,
      kbIngest: kb,
      failures: problems,
      table: lines,
    },
    null,
    2,
  )}\n`,
);
process.exit(problems.length ? 1 : 0);
