// Answers grounded in the tenant's knowledge base. Before the first model turn the agent
// retrieves the tenant's best chunks for the user's latest message (the ranking of
// /kb/search?match=any, under RLS), puts them in the prompt as numbered sources and streams
// them to the client as a CUSTOM `sba.sources` event before any text; the LLM double checks
// what reached the prompt. In English and Indonesian.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { HttpAgent } from "@ag-ui/client";
import { E2E_JWT_SECRET } from "../support/bundle.mjs";
import { startAgentHarness } from "../support/agent-harness.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { textChunks } from "../support/llm-double.mjs";

const uid = (p) => `${p}-${randomBytes(5).toString("hex")}`;
const REFUND_EN = "Customers may request a refund within 30 days of the invoice date. Refunds go back to the original payment method.";
const REFUND_ID =
  "Pelanggan dapat meminta pengembalian dana dalam 14 hari setelah pembelian di kafe atau toko kami. Dana dikembalikan ke metode pembayaran yang sama dan Anda harus menunjukkan struk.";

let harness;
let bundle;
let llm;
let db;
before(async () => {
  harness = await startAgentHarness(() => ({ chunks: textChunks("Refunds are possible within 30 days of the invoice date [1].") }));
  ({ bundle, llm, db } = harness);
});
after(() => harness?.close());

const auth = (tenant) => ({ authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}` });

async function ingest(tenant, documents) {
  const res = await bundle.fetch("/kb/documents:batch", { method: "POST", headers: { ...auth(tenant), "content-type": "application/json" }, body: JSON.stringify({ documents }) });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).documents.map((d) => d.id);
}

/** A run through the official client: its events, and the system prompt the model received. */
async function ask(tenant, question) {
  const before = llm.requests.length;
  const agent = new HttpAgent({ url: `${bundle.url}/agent/run`, headers: auth(tenant), threadId: uid("th"), initialMessages: [{ id: uid("m"), role: "user", content: question }] });
  const events = [];
  const runId = uid("run");
  await agent.runAgent({ runId }, { onEvent: ({ event }) => events.push(event) });
  const request = llm.requests[before];
  const system = request.messages.find((m) => m.role === "system").content;
  return { events, system, runId };
}

const sourcesOf = (events) => events.find((e) => e.type === "CUSTOM" && e.name === "sba.sources")?.value.sources;

test("the refund question is answered from the tenant's refund policy, cited, and the client gets the sources first", async () => {
  const tenant = uid("g-en");
  const [refund] = await ingest(tenant, [
    { title: "Refund policy", content: `# Refund policy\n\n${REFUND_EN}`, contentType: "markdown" },
    { title: "Opening hours", content: "# Opening hours\n\nThe café is open from 7 am to 9 pm every day except public holidays.", contentType: "markdown" },
  ]);
  const { events, system, runId } = await ask(tenant, "What is our refund policy?");
  assert.match(system, /\[1\] Refund policy/);
  assert.ok(system.includes("refund within 30 days of the invoice date"), system);
  assert.match(system, /Cite the ones you use as \[n\]/);
  assert.doesNotMatch(system, /Opening hours/, "an unrelated document is not a source");
  const sources = sourcesOf(events);
  assert.deepEqual(sources.map((s) => [s.n, s.documentId, s.title]), [[1, refund, "Refund policy"]]);
  assert.deepEqual(sources[0].headingPath, ["Refund policy"]);
  const types = events.map((e) => e.type);
  assert.ok(types.indexOf("CUSTOM") < types.indexOf("TEXT_MESSAGE_START"), `sources before text: ${types.join(",")}`);
  // The run log keeps them: a replay of the run carries the same event.
  const replay = await (await bundle.fetch(`/agent/runs/${runId}/events`, { headers: auth(tenant) })).text();
  assert.match(replay, /"type":"CUSTOM","name":"sba.sources"/);
  assert.ok(replay.includes(refund));
  // The tenant's own knowledge only: another tenant asking the same gets no source.
  const other = await ask(uid("g-other"), "What is our refund policy?");
  assert.deepEqual(sourcesOf(other.events), []);
  assert.match(other.system, /nothing in it matches this question/);
});

test("Indonesian: a document in Indonesian (language detected) is found by an Indonesian question, in search and as a source", async () => {
  const tenant = uid("g-id");
  const [refund] = await ingest(tenant, [
    { title: "Kebijakan pengembalian dana", content: `# Kebijakan pengembalian dana\n\n${REFUND_ID}`, contentType: "markdown" },
    { title: "Jam buka", content: "# Jam buka\n\nKafe kami buka setiap hari dari pukul 07.00 sampai 21.00, kecuali hari libur nasional.", contentType: "markdown" },
  ]);
  const { rows } = await db.query("select language from kb_documents where id = $1", [refund]);
  assert.equal(rows[0].language, "indonesian");
  // The search box, every word required: the Indonesian stemmer matches "pengembalian" and "kebijakan".
  const search = await (await bundle.fetch(`/kb/search?q=${encodeURIComponent("kebijakan pengembalian dana")}`, { headers: auth(tenant) })).json();
  assert.equal(search.hits[0]?.documentId, refund, JSON.stringify(search));
  assert.match(search.hits[0].headline, /\*\*/);
  const { events, system } = await ask(tenant, "Bagaimana cara meminta pengembalian dana?");
  assert.ok(system.includes("dalam 14 hari setelah pembelian"), system);
  assert.equal(sourcesOf(events)[0]?.documentId, refund);
});

test("nothing relevant: no source, and the prompt tells the model to say it does not know", async () => {
  const tenant = uid("g-none");
  await ingest(tenant, [{ title: "Opening hours", content: "# Opening hours\n\nOpen from 7 am to 9 pm.", contentType: "markdown" }]);
  const { events, system } = await ask(tenant, "Which accounting software do we use for payroll?");
  assert.deepEqual(sourcesOf(events), []);
  assert.match(system, /say that you do not know/);
});

test("a tenant's default language applies to documents that neither name nor show one", async () => {
  const tenant = uid("g-default");
  const put = (body) => bundle.fetch("/kb/settings", { method: "PUT", headers: { ...auth(tenant), "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.deepEqual(await (await bundle.fetch("/kb/settings", { headers: auth(tenant) })).json(), { defaultLanguage: "en" });
  const bad = await put({ defaultLanguage: "fr" });
  assert.equal(bad.status, 422, await bad.clone().text());
  const set = await put({ defaultLanguage: "id" });
  assert.deepEqual(await set.json(), { defaultLanguage: "id" });
  // Too few function words to tell: the tenant's default decides.
  const [terse, named] = await ingest(tenant, [
    { title: "Harga", content: "Latte Rp 32.000. Kopi susu gula aren Rp 28.000. Americano Rp 25.000.", contentType: "text" },
    { title: "Prices", content: "Latte 32k. Flat white 30k.", contentType: "text", language: "en" },
  ]);
  const { rows } = await db.query("select id, language from kb_documents where id = any($1)", [[terse, named]]);
  const language = Object.fromEntries(rows.map((r) => [r.id, r.language]));
  assert.deepEqual([language[terse], language[named]], ["indonesian", "english"]);
  // Another tenant keeps English.
  const [other] = await ingest(uid("g-default-other"), [{ title: "Harga", content: "Latte Rp 32.000. Americano Rp 25.000.", contentType: "text" }]);
  assert.equal((await db.query("select language from kb_documents where id = $1", [other])).rows[0].language, "english");
});
