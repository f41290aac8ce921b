// Retrieval quality of the grounding step: the fixture knowledge base of a fictional small
// business (tests/bench/fixtures/kb.json: 50 short documents, 30 in English and 20 in
// Indonesian, and 40 questions, each with the one document that answers it) ingested through
// kb-ingest WITHOUT a language (so detection decides), then every question asked of
// `GET /kb/search?match=any`: the ranking the agent grounds its answers on. Reports recall@1,
// recall@5 and MRR (by document: a document's best chunk counts) per language and overall,
// and how many documents' languages were detected right. Target: recall@5 ≥ 0.9 in both
// languages.
//
//   SBA_BENCH_OUT=target/bench/retrieval.json node tests/bench/retrieval.mjs   (in a stack, see scripts/bench)

import { readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { startBundle, stackEnv, E2E_JWT_SECRET, ROOT } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { generousPlan } from "./plans.mjs";
import { writeResults } from "./results.mjs";

const TARGET_RECALL_AT_5 = 0.9;
const fixture = JSON.parse(readFileSync(path.join(ROOT, "tests/bench/fixtures/kb.json"), "utf8"));
const tenant = `bench-retrieval-${Date.now()}`;
const auth = { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}` };

/** recall@k and MRR of `ranks` (1-based rank of the answer, or null when not in the top 10). */
export function quality(ranks) {
  const n = ranks.length || 1;
  return {
    questions: ranks.length,
    recallAt1: ranks.filter((r) => r === 1).length / n,
    recallAt5: ranks.filter((r) => r !== null && r <= 5).length / n,
    mrr: ranks.reduce((sum, r) => sum + (r ? 1 / r : 0), 0) / n,
  };
}

async function main() {
  await generousPlan([tenant]);
  const bundle = await startBundle({ keepOutput: false });
  const db = new pg.Client({ connectionString: stackEnv().postgresUrl });
  await db.connect();
  try {
    const documents = fixture.documents.map((d) => ({ externalId: d.id, title: d.title, content: d.content, contentType: d.contentType }));
    const res = await bundle.fetch("/kb/documents:batch", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ documents }) });
    if (res.status !== 201) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
    const { rows } = await db.query("select external_id, language from kb_documents where tenant_id = $1", [tenant]);
    const detected = new Map(rows.map((r) => [r.external_id, r.language]));
    const expected = { en: "english", id: "indonesian" };
    const languageRight = fixture.documents.filter((d) => detected.get(d.id) === expected[d.language]).length;
    const idOf = new Map((await db.query("select id, external_id from kb_documents where tenant_id = $1", [tenant])).rows.map((r) => [r.id, r.external_id]));

    const asked = [];
    for (const question of fixture.questions) {
      const hits = await (await bundle.fetch(`/kb/search?match=any&limit=20&q=${encodeURIComponent(question.q)}`, { headers: auth })).json();
      const docs = [];
      for (const hit of hits.hits ?? []) {
        const doc = idOf.get(hit.documentId);
        if (!docs.includes(doc)) docs.push(doc);
      }
      const at = docs.indexOf(question.answer);
      asked.push({ ...question, rank: at >= 0 && at < 10 ? at + 1 : null, top: docs.slice(0, 3) });
    }
    const by = (language) => quality(asked.filter((q) => !language || q.language === language).map((q) => q.rank));
    const results = {
      documents: fixture.documents.length,
      languageDetected: { right: languageRight, of: fixture.documents.length },
      english: by("en"),
      indonesian: by("id"),
      overall: by(null),
      targetRecallAt5: TARGET_RECALL_AT_5,
      misses: asked.filter((q) => q.rank !== 1).map((q) => ({ q: q.q, answer: q.answer, rank: q.rank, top: q.top })),
    };
    const fmt = (x) => x.toFixed(3);
    console.log(`retrieval over ${results.documents} documents; language detected right for ${languageRight}/${fixture.documents.length}`);
    for (const [label, r] of [["english", results.english], ["indonesian", results.indonesian], ["overall", results.overall]]) {
      console.log(`${label.padEnd(11)} questions ${String(r.questions).padStart(2)}  recall@1 ${fmt(r.recallAt1)}  recall@5 ${fmt(r.recallAt5)} ${r.recallAt5 >= TARGET_RECALL_AT_5 ? "✓" : "✗"}  MRR ${fmt(r.mrr)}`);
    }
    for (const m of results.misses) console.log(`  rank ${m.rank ?? ">10"}: ${m.q} → ${m.answer} (top: ${m.top.join(", ")})`);
    writeResults(results);
  } finally {
    await db.end();
    await bundle.dispose();
  }
}

await main();
