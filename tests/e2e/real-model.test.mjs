// Smoke test against a REAL local model (scripts/llm-server: llama-cpp-python serving
// SmolLM2-135M). Not part of CI's budget (a ~10 min build); run it with
//   scripts/llm-server 58080 &  SBA_REAL_LLM_URL=http://127.0.0.1:58080 scripts/test tests/e2e/real-model.test.mjs

import { test } from "node:test";
import assert from "node:assert/strict";
import { startBundle, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";

const url = process.env.SBA_REAL_LLM_URL;

test("a text run streams tokens from the real local model", { skip: !url && "SBA_REAL_LLM_URL is not set" }, async () => {
  const bundle = await startBundle({
    overrides: { agent: { bindings: { LLM_BASE_URLS: url, LLM_MODEL: "SmolLM2-135M-Instruct", LLM_FIRST_TOKEN_TIMEOUT_MS: "60000" } } },
  });
  try {
    const res = await bundle.fetch("/agent/run", {
      method: "POST",
      headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, "real-model")}`, "content-type": "application/json" },
      body: JSON.stringify({ threadId: "th", runId: `run-real-${Date.now()}`, messages: [{ id: "m", role: "user", content: "Say hello in one short sentence." }], tools: [], context: [] }),
    });
    const events = (await res.text()).split("\n").filter((l) => l.startsWith("data:")).map((l) => JSON.parse(l.slice(5)));
    assert.equal(events[0].type, "RUN_STARTED");
    assert.equal(events.at(-1).type, "RUN_FINISHED");
    const deltas = events.filter((e) => e.type === "TEXT_MESSAGE_CONTENT");
    assert.ok(deltas.length >= 2, "tokens arrive as several deltas");
    assert.ok(deltas.map((e) => e.delta).join("").trim().length > 0);
  } finally {
    await bundle.dispose();
  }
});
