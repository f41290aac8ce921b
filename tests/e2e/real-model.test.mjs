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

test("the refund question over the fixture knowledge base: the right source is streamed and the answer says 30 days", { skip: !url && "SBA_REAL_LLM_URL is not set", timeout: 300_000 }, async () => {
  const { readFileSync } = await import("node:fs");
  const path = await import("node:path");
  const { ROOT } = await import("../support/bundle.mjs");
  const fixture = JSON.parse(readFileSync(path.join(ROOT, "tests/bench/fixtures/kb.json"), "utf8"));
  const bundle = await startBundle({
    overrides: { agent: { bindings: { LLM_BASE_URLS: url, LLM_MODEL: "SmolLM2-135M-Instruct", LLM_FIRST_TOKEN_TIMEOUT_MS: "60000" } } },
  });
  const tenant = `real-model-kb-${Date.now()}`;
  const auth = { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}` };
  try {
    const documents = fixture.documents.map((d) => ({ externalId: d.id, title: d.title, content: d.content, contentType: d.contentType }));
    const ingested = await bundle.fetch("/kb/documents:batch", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ documents }) });
    assert.equal(ingested.status, 201, await ingested.clone().text());
    const refund = (await ingested.json()).documents.find((d) => d.externalId === "doc-01").id;
    const res = await bundle.fetch("/agent/run", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ threadId: "th", runId: `run-real-kb-${Date.now()}`, messages: [{ id: "m", role: "user", content: "What is our refund policy?" }], tools: [], context: [] }),
    });
    const events = (await res.text()).split("\n").filter((l) => l.startsWith("data:")).map((l) => JSON.parse(l.slice(5)));
    const sources = events.find((e) => e.type === "CUSTOM" && e.name === "sba.sources")?.value.sources ?? [];
    assert.equal(sources[0]?.documentId, refund, JSON.stringify(sources));
    const answer = events.filter((e) => e.type === "TEXT_MESSAGE_CONTENT").map((e) => e.delta).join("");
    assert.match(answer, /30/, answer);
  } finally {
    await bundle.dispose();
  }
});
