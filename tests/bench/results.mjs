// How each node benchmark hands its figures to scripts/bench: one JSON file at $SBA_BENCH_OUT
// (when set), read by tests/bench/table.mjs into the one table and target/bench/bench.json.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export function writeResults(results) {
  const out = process.env.SBA_BENCH_OUT;
  if (!out) return;
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
}
