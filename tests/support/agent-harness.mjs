// The harness the agent suites share: the LLM double, the bundle with both agents pointed at
// it (the rate-limited one with IP and burst limits out of the way, so the tenant's plan is
// what binds), and a direct Postgres client for assertions.
//
//   const h = await startAgentHarness((body, i) => script(body, i), { LLM_IDLE_TIMEOUT_MS: "400" });
//   h.bundle, h.llm, h.db;  await h.close();
//
// `llmUrls(llm)` chooses LLM_BASE_URLS (default: the double alone).

import pg from "pg";
import { startBundle, stackEnv } from "./bundle.mjs";
import { startLlmDouble } from "./llm-double.mjs";

export async function startAgentHarness(script, extraBindings = {}, { llmUrls = (llm) => llm.url } = {}) {
  const llm = await startLlmDouble(script);
  const llmBindings = { LLM_BASE_URLS: llmUrls(llm), LLM_MODEL: "scripted", ...extraBindings };
  const bundle = await startBundle({
    overrides: {
      agent: { bindings: llmBindings },
      "ratelimited-agent": { bindings: { ...llmBindings, RATE_LIMIT_IP_PER_MINUTE: "100000", RATE_LIMIT_BURST: "1000" } },
    },
  });
  const db = new pg.Client({ connectionString: stackEnv().postgresUrl });
  await db.connect();
  return {
    llm,
    bundle,
    db,
    close: async () => {
      await bundle.dispose();
      await llm.close();
      await db.end();
    },
  };
}
