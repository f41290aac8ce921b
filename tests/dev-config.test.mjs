// scripts/dev's local settings (tools/dev-config/write.mjs): `.dev.overrides` lines land in the
// [vars] of the config each function runs with, for every function or for one, its paths made
// absolute; bad lines are named. (wrangler-dev.test.mjs checks that wrangler honours them.)

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { configWith, optionalSecretsIn, parseOverrides, writeDevConfigs, ROOT } from "../tools/dev-config/write.mjs";

const TOML = `name = "x"\nmain = "build/index.js"\n\n[build]\ncommand = "cd \\"$(git rev-parse --show-toplevel)\\" && scripts/build --if-stale x"\nwatch_dir = ["src", "../../shared"]\n\n[vars]\nA = "1"   # why\nB = "2"\n\n[secrets]\nrequired = ["S"]\n`;

test("overrides apply to every function or to one, and bad lines are named", () => {
  const o = parseOverrides("# mine\nLLM_IDLE_TIMEOUT_MS=5000\nagent.LLM_MODEL='qwen'\n\n", ["agent", "kb-ingest"]);
  assert.deepEqual(o, { all: { LLM_IDLE_TIMEOUT_MS: "5000" }, only: { agent: { LLM_MODEL: "qwen" } } });
  assert.throws(() => parseOverrides("x=1", ["agent"]), /line 1: expected NAME=value/);
  assert.throws(() => parseOverrides("kb.X=1", ["agent"]), /no function named kb/);
});

test("a function's config gets the values in its [vars], its paths absolute, the rest untouched", () => {
  const out = configWith(TOML, { root: "/repo", fn: "x", vars: { A: "9", C: 'say "hi"' } });
  assert.match(out, /^main = "\/repo\/functions\/x\/build\/index.js"$/m);
  assert.match(out, /^watch_dir = \["\/repo\/functions\/x\/src", "\/repo\/shared"\]$/m);
  assert.match(out, /^command = "cd \\"\/repo\\" && scripts\/build --if-stale x"$/m);
  assert.match(out, /^A = "9"   # from \.dev\.overrides$/m);
  assert.match(out, /^B = "2"$/m);
  assert.match(out, /^C = "say \\"hi\\""   # from \.dev\.overrides\n\n\[secrets\]/m, "a new var goes at the end of [vars]");
  assert.match(out, /^required = \["S"\]$/m);
});

test("every function of the repository gets a config, with the one-function override only in its own", () => {
  const out = mkdtempSync(path.join(tmpdir(), "dev-config-"));
  try {
    const files = writeDevConfigs({ out, overridesText: "RATE_LIMIT_BURST=3\nkb-ingest.AUTH_AUDIENCE=local\n" });
    assert.equal(files.length, 4);
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      assert.match(text, /^RATE_LIMIT_BURST = "3"/m);
      assert.equal(/^AUTH_AUDIENCE = "local"/m.test(text), file.includes("kb-ingest"), file);
      assert.match(text, new RegExp(`^main = "${ROOT}/functions/`, "m"));
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("optional secrets set in the environment join [secrets] required (wrangler dev binds only those)", () => {
  const env = {
    LLM_BASE_URLS: "https://api.openai.com/v1|model=m|key=OPENAI_KEY, https://api.anthropic.com|key=ANTHROPIC_KEY",
    LLM_API_KEY: "sk-shared", OPENAI_KEY: "sk-o", OTEL_EXPORTER_OTLP_HEADERS: "",
  };
  // Set and non-empty only: ANTHROPIC_KEY is named but not set, the OTLP headers are empty.
  assert.deepEqual(optionalSecretsIn(env).sort(), ["LLM_API_KEY", "OPENAI_KEY"]);
  const out = configWith(TOML, { root: "/repo", fn: "x", vars: {}, secrets: ["LLM_API_KEY", "S"] });
  assert.match(out, /^required = \["LLM_API_KEY", "S"\]$/m, "added once, before the declared ones");
  const dir = mkdtempSync(path.join(tmpdir(), "dev-config-"));
  try {
    for (const file of writeDevConfigs({ out: dir, overridesText: "", env })) {
      const text = readFileSync(file, "utf8");
      assert.match(text, /^required = \["LLM_API_KEY", "OPENAI_KEY", /m, file);
      assert.ok(!text.includes("sk-shared") && !text.includes("sk-o"), "names only, never values");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
