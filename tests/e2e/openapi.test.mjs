// The OpenAPI document against the real thing: the dev router serves openapi/openapi.json, and
// real responses of every documented endpoint (successes and errors, JSON and SSE) are checked
// against it — status documented for the operation, required headers present and matching their
// schemas, JSON bodies (and every SSE `data:` frame) valid against the documented schema.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { basehubSignature, stripeSignature, STRIPE_SECRET } from "../support/signers.mjs";
import { startBundle, ROOT, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { startLlmDouble, textChunks } from "../support/llm-double.mjs";
import { split, render, outputPath, MOUNTS as SPLIT_MOUNTS } from "../../tools/openapi-split/split.mjs";

const SPEC = JSON.parse(readFileSync(path.join(ROOT, "openapi/openapi.json"), "utf8"));
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

// ---- the document as a schema registry --------------------------------------------------------

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
ajv.addSchema(SPEC, "openapi");

/** JSON pointer `#/a/b` into the document. */
function resolvePointer(pointer) {
  assert.ok(pointer.startsWith("#/"), `only local refs are used: ${pointer}`);
  return pointer
    .slice(2)
    .split("/")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((node, key) => (node === undefined ? undefined : node[key]), SPEC);
}

const deref = (node) => (node && typeof node.$ref === "string" ? deref(resolvePointer(node.$ref)) : node);

/** Local `$ref`s rewritten to point into the registered document. */
function anchored(schema) {
  return JSON.parse(JSON.stringify(schema), (key, value) => (key === "$ref" && typeof value === "string" && value.startsWith("#/") ? `openapi${value}` : value));
}

const compiled = new Map();
function validator(schema) {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) compiled.set(key, ajv.compile(anchored(schema)));
  return compiled.get(key);
}

function assertValid(schema, value, what) {
  const validate = validator(schema);
  assert.ok(validate(value), `${what}: ${ajv.errorsText(validate.errors, { separator: "; " })}\n${JSON.stringify(value).slice(0, 600)}`);
}

// ---- conformance of one real response ---------------------------------------------------------

const seen = new Set(); // "METHOD template status" actually exercised

function checkHeaders(res, response, what) {
  for (const [name, header] of Object.entries(response.headers ?? {})) {
    const h = deref(header);
    const value = res.headers.get(name);
    if (h.required) assert.ok(value !== null, `${what}: required header ${name} missing`);
    if (value !== null && h.schema) assertValid(h.schema, value, `${what}: header ${name}`);
  }
}

function parseFrames(text) {
  return text
    .split("\n\n")
    .filter((frame) => frame.split("\n").some((line) => line.startsWith("data:")))
    .map((frame) => ({
      id: frame.match(/^id: ?(.*)$/m)?.[1],
      data: JSON.parse(frame.match(/^data: ?(.*)$/m)[1]),
    }));
}

/**
 * Checks `res` against the response the document gives for `method template` and its status.
 * Returns the parsed JSON body, or `{ frames }` for an event stream.
 */
async function conform(res, method, template, what = `${method} ${template}`) {
  const op = SPEC.paths[template]?.[method.toLowerCase()];
  assert.ok(op, `${what}: no such operation in the document`);
  const status = String(res.status);
  const response = deref(op.responses[status] ?? op.responses[`${status[0]}XX`] ?? op.responses.default);
  assert.ok(response, `${what}: status ${status} is not documented (documented: ${Object.keys(op.responses).join(", ")})`);
  seen.add(`${method.toUpperCase()} ${template} ${status}`);
  return conformResponse(res, response, `${what} → ${status}`);
}

/** For answers the document describes outside any operation: 405 on a known path, 404 elsewhere. */
async function conformShared(res, name, what) {
  const response = deref({ $ref: `#/components/responses/${name}` });
  assert.ok(response, `components/responses/${name} exists`);
  seen.add(`${name} ${res.status}`);
  return conformResponse(res, response, `${what} → ${res.status}`);
}

async function conformResponse(res, response, what) {
  checkHeaders(res, response, what);
  const contentType = res.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";")[0].trim().toLowerCase();
  const media = response.content?.[mediaType];
  assert.ok(media, `${what}: content type ${contentType || "(none)"} not documented (${Object.keys(response.content ?? {}).join(", ")})`);
  if (mediaType === "text/event-stream") {
    const frames = parseFrames(await res.text());
    assert.ok(frames.length > 0, `${what}: an event stream with events`);
    // The media type's schema describes one event as an SSE parser reads it; `data` is JSON
    // (`contentMediaType`) valid against its `contentSchema`.
    const eventSchema = deref(media.schema);
    const dataSchema = eventSchema.properties.data;
    assert.equal(dataSchema.contentMediaType, "application/json");
    for (const frame of frames) {
      assertValid(media.schema, { data: JSON.stringify(frame.data), event: "message", ...(frame.id ? { id: frame.id } : {}) }, `${what}: SSE event ${frame.id}`);
      assertValid(dataSchema.contentSchema, frame.data, `${what}: SSE data of ${frame.id}`);
    }
    return { frames };
  }
  const body = await res.json();
  assertValid(media.schema, body, `${what}: body`);
  if (res.status >= 400) {
    assert.equal(body.error.requestId, res.headers.get("x-request-id"), `${what}: error.requestId is the X-Request-Id header`);
  }
  return body;
}

// ---- the stack --------------------------------------------------------------------------------

const uid = (p) => `${p}-${randomBytes(5).toString("hex")}`;
const now = () => Math.floor(Date.now() / 1000);
let bundle;
let llm;

before(async () => {
  llm = await startLlmDouble(() => ({ chunks: textChunks("Conformance, streamed.", { pieces: 3 }) }));
  const llmBindings = { LLM_BASE_URLS: llm.url, LLM_MODEL: "scripted", LLM_FIRST_TOKEN_TIMEOUT_MS: "3000" };
  bundle = await startBundle({
    overrides: {
      agent: { bindings: llmBindings },
      // A burst of one: a tenant's second run at once is a 429 (each test uses its own tenant).
      "ratelimited-agent": { bindings: { ...llmBindings, RATE_LIMIT_IP_PER_MINUTE: "100000", RATE_LIMIT_BURST: "1", RATE_LIMIT_BURST_REFILL_INTERVAL_MS: "3600000" } },
    },
  });
});
after(async () => {
  await bundle?.dispose();
  await llm?.close();
});

/**
 * `bundle.fetch`, retried once when a kept-alive connection was reset: workerd closes the
 * connection after answering 413 before reading an upload, and the next request on that
 * socket fails without having reached the server.
 */
async function send(p, init) {
  try {
    return await bundle.fetch(p, init);
  } catch (e) {
    if (!["ECONNRESET", "UND_ERR_SOCKET", "EPIPE"].includes(e?.cause?.code)) throw e;
    return bundle.fetch(p, init);
  }
}
const auth = (tenant) => ({ authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}` });
const postJson = (p, body, headers = {}) =>
  send(p, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

// ---- the document itself ----------------------------------------------------------------------

describe("the document", () => {
  test("GET /openapi.json serves openapi/openapi.json with JSON content type and security headers", async () => {
    const res = await send("/openapi.json", { headers: { "x-request-id": "oas-probe-1" } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    assert.equal(res.headers.get("x-request-id"), "oas-probe-1");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const body = await conform(res, "GET", "/openapi.json");
    assert.deepEqual(body, SPEC);
    const head = await send("/openapi.json", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    const post = await send("/openapi.json", { method: "POST", body: "{}" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await conformShared(post, "MethodNotAllowed", "POST /openapi.json");
  });

  test("is OpenAPI 3.1 at the top level, every $ref resolves and every schema compiles", () => {
    assert.match(SPEC.openapi, /^3\.1\.\d+$/);
    assert.equal(typeof SPEC.info?.title, "string");
    assert.equal(typeof SPEC.info?.version, "string");
    const expected = ["/openapi.json"];
    for (const mount of ["/agent", "/ratelimited-agent"]) expected.push(`${mount}/healthz`, `${mount}/readyz`, `${mount}/run`, `${mount}/runs/{runId}/events`);
    expected.push("/kb/healthz", "/kb/readyz", "/kb/documents", "/kb/documents:batch", "/kb/documents/{id}", "/kb/documents/{id}/chunks", "/kb/search", "/kb/settings");
    expected.push("/webhooks/healthz", "/webhooks/readyz", "/webhooks/stripe", "/webhooks/basehub");
    for (const mount of MOUNTS) expected.push(`${mount}/openapi.json`);
    assert.deepEqual(Object.keys(SPEC.paths).sort(), expected.sort());
    const refs = [];
    (function walk(node, at) {
      if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}/${i}`));
      else if (node && typeof node === "object") {
        if (typeof node.$ref === "string") refs.push([node.$ref, at]);
        for (const [k, v] of Object.entries(node)) walk(v, `${at}/${k}`);
      }
    })(SPEC, "#");
    assert.ok(refs.length > 50);
    for (const [ref, at] of refs) assert.notEqual(resolvePointer(ref), undefined, `${ref} (at ${at}) resolves`);
    for (const name of Object.keys(SPEC.components.schemas)) validator({ $ref: `#/components/schemas/${name}` });
  });

  test("every operation is consistent: unique operationId, path parameters declared, one Error shape for every 4xx/5xx", () => {
    const ids = new Set();
    const errorRef = "#/components/schemas/Error";
    const usesError = (schema) => schema?.$ref === errorRef || (schema?.allOf ?? []).some((s) => s.$ref === errorRef);
    for (const [template, item] of Object.entries(SPEC.paths)) {
      for (const method of METHODS.filter((m) => item[m])) {
        const op = item[method];
        assert.ok(op.operationId && !ids.has(op.operationId), `${method} ${template}: unique operationId`);
        ids.add(op.operationId);
        const params = (op.parameters ?? []).map(deref);
        for (const [, name] of template.matchAll(/\{([^}]+)\}/g)) {
          assert.ok(params.some((p) => p.in === "path" && p.name === name && p.required), `${method} ${template}: path parameter ${name}`);
        }
        for (const [status, ref] of Object.entries(op.responses)) {
          const response = deref(ref);
          assert.ok(deref(response.headers?.["X-Request-Id"])?.required, `${method} ${template} ${status}: X-Request-Id`);
          // The readiness probe's 503 reports its checks (components/responses/NotReady).
          if (Number(status) >= 400 && ref.$ref !== "#/components/responses/NotReady") {
            assert.ok(usesError(response.content?.["application/json"]?.schema), `${method} ${template} ${status}: the Error shape`);
          }
        }
        const secured = (op.security ?? SPEC.security).length > 0;
        if (secured && (op.security ?? SPEC.security).some((s) => "bearerAuth" in s)) {
          assert.ok(op.responses[401], `${method} ${template}: a bearer operation documents 401`);
        }
      }
    }
  });
});

// ---- health, routing, the error layer ---------------------------------------------------------

const MOUNTS = ["/agent", "/ratelimited-agent", "/kb", "/webhooks"];

describe("health, readiness and routing", () => {
  for (const mount of MOUNTS) {
    test(`${mount}: healthz, readyz, 405 with Allow, 404 for an unknown route`, async () => {
      await conform(await send(`${mount}/healthz`), "GET", `${mount}/healthz`);
      const ready = await conform(await send(`${mount}/readyz`), "GET", `${mount}/readyz`);
      assert.equal(ready.status, "ready");

      const wrong = await send(`${mount}/healthz`, { method: "DELETE" });
      assert.equal(wrong.status, 405);
      const documented = METHODS.filter((m) => SPEC.paths[`${mount}/healthz`][m]).map((m) => m.toUpperCase());
      assert.deepEqual(wrong.headers.get("allow").split(", ").sort(), [...documented, "HEAD"].sort(), "Allow lists the documented methods");
      await conformShared(wrong, "MethodNotAllowed", `DELETE ${mount}/healthz`);

      const missing = await send(`${mount}/no/such/route`, { headers: { "x-request-id": "bad id with spaces" } });
      assert.equal(missing.status, 404);
      await conformShared(missing, "NotFound", `GET ${mount}/no/such/route`);
    });

    test(`${mount}: the function serves its own contract at ${mount}/openapi.json`, async () => {
      const name = Object.keys(SPLIT_MOUNTS).find((n) => SPLIT_MOUNTS[n] === mount);
      const own = await conform(await send(`${mount}/openapi.json`), "GET", `${mount}/openapi.json`);
      assert.deepEqual(own, split(SPEC, name, mount), "what it serves is the cut of the whole document");
      assert.ok(Object.keys(own.paths).length >= 3 && Object.keys(own.paths).every((p) => p.startsWith(mount)), "its own operations only");
      // Its first server is wherever the document came from, so a client generated from it
      // calls the function's own hostname, not the dev origin.
      const docUrl = new URL(`${mount}/openapi.json`, bundle.url);
      const server = new URL(own.servers[0].url, docUrl);
      assert.equal(server.origin, docUrl.origin);
      assert.equal((await fetch(new URL(`${mount}/healthz`.slice(1), server))).status, 200, "a documented path on the first server");
      // The committed cut (what the Wasm embeds) is the current one.
      assert.equal(readFileSync(outputPath(name), "utf8"), render(split(SPEC, name, mount)), `openapi/functions/${name}.json is stale: node tools/openapi-split/split.mjs`);
    });
  }

  test("the router's own 404 has the same shape (and never echoes an unsafe request id)", async () => {
    const res = await send("/nowhere", { headers: { "x-request-id": "bad id with spaces" } });
    assert.equal(res.status, 404);
    const body = await conformShared(res, "NotFound", "GET /nowhere");
    assert.notEqual(body.error.requestId, "bad id with spaces");
  });

  test("a documented path called with an undocumented method answers 405 with the documented Allow", async () => {
    for (const [method, p, template] of [
      ["PUT", "/kb/documents", "/kb/documents"],
      ["GET", "/kb/documents:batch", "/kb/documents:batch"],
      ["POST", `/kb/documents/${randomUUID()}`, "/kb/documents/{id}"],
      ["DELETE", "/kb/search?q=x", "/kb/search"],
      ["GET", "/agent/run", "/agent/run"],
      ["POST", "/agent/runs/r1/events", "/agent/runs/{runId}/events"],
      ["GET", "/webhooks/stripe", "/webhooks/stripe"],
      ["PATCH", "/webhooks/basehub", "/webhooks/basehub"],
    ]) {
      const res = await send(p, { method, headers: auth(uid("t")) });
      assert.equal(res.status, 405, `${method} ${p}`);
      const documented = METHODS.filter((m) => SPEC.paths[template][m]).map((m) => m.toUpperCase());
      if (documented.includes("GET")) documented.push("HEAD");
      assert.deepEqual(res.headers.get("allow").split(", ").sort(), documented.sort(), `${method} ${p}: Allow`);
      await conformShared(res, "MethodNotAllowed", `${method} ${p}`);
    }
  });
});

// ---- knowledge base ---------------------------------------------------------------------------

const GUIDE = { title: "Refund policy", content: "# Refunds\n\nRefunds are paid within 14 days of a return.", contentType: "markdown", tags: ["billing"], metadata: { lang: "en" } };

describe("kb", () => {
  test("create (201), unchanged (200), get, search, delete, then 404", async () => {
    const tenant = uid("t");
    const doc = { ...GUIDE, externalId: uid("ext"), source: { kind: "manual", url: "https://example.com/refunds" } };
    const created = await conform(await postJson("/kb/documents", doc, auth(tenant)), "POST", "/kb/documents");
    assert.equal(created.change, "created");
    const again = await conform(await postJson("/kb/documents", doc, auth(tenant)), "POST", "/kb/documents");
    assert.equal(again.change, "unchanged");
    const got = await conform(await send(`/kb/documents/${created.id}`, { headers: auth(tenant) }), "GET", "/kb/documents/{id}");
    assert.equal(got.title, GUIDE.title);
    const chunks = await conform(await send(`/kb/documents/${created.id}/chunks`, { headers: auth(tenant) }), "GET", "/kb/documents/{id}/chunks");
    assert.equal(chunks.chunks.length, got.chunks);
    const found = await conform(await send("/kb/search?q=refunds&limit=5", { headers: auth(tenant) }), "GET", "/kb/search");
    assert.ok(found.hits.length >= 1);
    const deleted = await conform(await send(`/kb/documents/${created.id}`, { method: "DELETE", headers: auth(tenant) }), "DELETE", "/kb/documents/{id}");
    assert.deepEqual(deleted, { id: created.id, deleted: true });
    await conform(await send(`/kb/documents/${created.id}`, { method: "DELETE", headers: auth(tenant) }), "DELETE", "/kb/documents/{id}");
    await conform(await send(`/kb/documents/${created.id}`, { headers: auth(tenant) }), "GET", "/kb/documents/{id}");
    await conform(await send("/kb/documents/not-a-uuid", { headers: auth(tenant) }), "GET", "/kb/documents/{id}");
    await conform(await send(`/kb/documents/${created.id}/chunks`, { headers: auth(tenant) }), "GET", "/kb/documents/{id}/chunks");
    await conform(await send("/kb/documents/not-a-uuid/chunks", { headers: auth(tenant) }), "GET", "/kb/documents/{id}/chunks");
  });

  test("batch: 201, 200 when nothing new, 422 naming every bad item", async () => {
    const tenant = uid("t");
    const batch = { documents: [{ ...GUIDE, externalId: "a" }, { ...GUIDE, externalId: "b", content: "Shipping takes 3 days." }] };
    const first = await conform(await postJson("/kb/documents:batch", batch, auth(tenant)), "POST", "/kb/documents:batch");
    assert.equal(first.created, 2);
    const second = await conform(await postJson("/kb/documents:batch", batch, auth(tenant)), "POST", "/kb/documents:batch");
    assert.equal(second.created, 0);
    const bad = { documents: [{ ...GUIDE, title: "" }, GUIDE, { ...GUIDE, contentType: "pdf", extra: 1 }] };
    const res = await postJson("/kb/documents:batch", bad, auth(tenant));
    assert.equal(res.status, 422);
    const body = await conform(res, "POST", "/kb/documents:batch");
    assert.deepEqual([...new Set(body.error.issues.map((i) => i.path[1]))], [0, 2]);
    const empty = await postJson("/kb/documents:batch", { documents: [] }, auth(tenant));
    assert.equal(empty.status, 422);
    await conform(empty, "POST", "/kb/documents:batch");
  });

  test("Idempotency-Key: replay, reuse with another body (422), malformed (400)", async () => {
    const tenant = uid("t");
    const key = { ...auth(tenant), "idempotency-key": uid("key") };
    const doc = { ...GUIDE, content: `Unique ${uid("c")}` };
    const first = await conform(await postJson("/kb/documents", doc, key), "POST", "/kb/documents");
    const replay = await conform(await postJson("/kb/documents", doc, key), "POST", "/kb/documents");
    assert.deepEqual(replay, first);
    const reused = await postJson("/kb/documents", { ...doc, title: "Other" }, key);
    assert.equal(reused.status, 422);
    assert.equal((await conform(reused, "POST", "/kb/documents")).error.code, "idempotency_key_reused");
    const malformed = await postJson("/kb/documents", doc, { ...auth(tenant), "idempotency-key": "has a space" });
    assert.equal(malformed.status, 400);
    assert.equal((await conform(malformed, "POST", "/kb/documents")).error.code, "invalid_idempotency_key");
  });

  test("errors: 401, 403, 400, 415, 413, 422 (body and query)", async () => {
    const tenant = uid("t");
    const cases = [
      ["no token", () => postJson("/kb/documents", GUIDE), 401],
      ["garbage token", () => postJson("/kb/documents", GUIDE, { authorization: "Bearer a.b.c" }), 401],
      ["expired token", () => postJson("/kb/documents", GUIDE, { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant, { exp: now() - 3600 })}` }), 401],
      ["tenant mismatch", () => postJson("/kb/documents", GUIDE, { ...auth(tenant), "x-tenant-id": "someone-else" }), 403],
      ["malformed JSON", () => postJson("/kb/documents", '{"title": ', auth(tenant)), 400],
      ["empty body", () => postJson("/kb/documents", "", auth(tenant)), 400],
      ["text/plain", () => send("/kb/documents", { method: "POST", headers: { ...auth(tenant), "content-type": "text/plain" }, body: JSON.stringify(GUIDE) }), 415],
      ["wrong shape", () => postJson("/kb/documents", { ...GUIDE, contentType: "pdf" }, auth(tenant)), 422],
      ["broken rules", () => postJson("/kb/documents", { ...GUIDE, title: "a\nb", tags: [" x"], externalId: "" }, auth(tenant)), 422],
      ["over 2 MiB", () => postJson("/kb/documents", { ...GUIDE, content: "x".repeat(2 * 1024 * 1024 + 1) }, auth(tenant)), 413],
    ];
    for (const [what, call, status] of cases) {
      const res = await call();
      assert.equal(res.status, status, what);
      const body = await conform(res, "POST", "/kb/documents", `POST /kb/documents (${what})`);
      if (status === 401) assert.match(res.headers.get("www-authenticate"), /^Bearer /);
      if (status === 422) assert.ok(body.error.issues.length >= 1);
    }
    for (const [query, status] of [["", 422], ["?q=%20%20", 422], ["?q=x&limit=0", 422], [`?q=${"x".repeat(300)}`, 422], ["?q=refund&limit=abc", 422]]) {
      const res = await send(`/kb/search${query}`, { headers: auth(tenant) });
      assert.equal(res.status, status, query);
      await conform(res, "GET", "/kb/search", `GET /kb/search${query}`);
    }
    const anonymous = await send(`/kb/documents/${randomUUID()}`);
    assert.equal(anonymous.status, 401);
    await conform(anonymous, "GET", "/kb/documents/{id}");
    // The tenant's settings: read, set, refused.
    assert.deepEqual(await conform(await send("/kb/settings", { headers: auth(tenant) }), "GET", "/kb/settings"), { defaultLanguage: "en" });
    assert.equal((await send("/kb/settings")).status, 401);
    await conform(await send("/kb/settings"), "GET", "/kb/settings", "GET /kb/settings (no token)");
    const set = await conform(await send("/kb/settings", { method: "PUT", headers: { ...auth(tenant), "content-type": "application/json" }, body: JSON.stringify({ defaultLanguage: "id" }) }), "PUT", "/kb/settings");
    assert.deepEqual(set, { defaultLanguage: "id" });
    for (const [what, body, status] of [["unknown language", { defaultLanguage: "fr" }, 422], ["unknown field", { defaultLanguage: "en", x: 1 }, 422]]) {
      const res = await send("/kb/settings", { method: "PUT", headers: { ...auth(tenant), "content-type": "application/json" }, body: JSON.stringify(body) });
      assert.equal(res.status, status, what);
      await conform(res, "PUT", "/kb/settings", `PUT /kb/settings (${what})`);
    }
  });
});

// ---- agent ------------------------------------------------------------------------------------

const runInput = (overrides = {}) => ({
  threadId: uid("thread"),
  runId: uid("run"),
  messages: [{ id: "m1", role: "user", content: "Hi" }],
  tools: [],
  context: [],
  state: {},
  forwardedProps: {},
  ...overrides,
});

for (const mount of ["/agent", "/ratelimited-agent"]) {
  describe(`${mount} (AG-UI over SSE)`, () => {
    test("a run streams AG-UI events that match the documented event schema", async () => {
      const tenant = uid("t");
      const input = runInput();
      const res = await postJson(`${mount}/run`, input, { ...auth(tenant), accept: "text/event-stream" });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type"), /^text\/event-stream/);
      const { frames } = await conform(res, "POST", `${mount}/run`);
      const types = frames.map((f) => f.data.type);
      assert.equal(types[0], "RUN_STARTED");
      assert.equal(types.at(-1), "RUN_FINISHED");
      assert.ok(types.includes("TEXT_MESSAGE_CONTENT"));
      frames.forEach((f, i) => assert.equal(f.id, `${input.runId}:${i + 1}`));
      const documentedTypes = SPEC.components.schemas.AguiEventType.enum;
      for (const t of types) assert.ok(documentedTypes.includes(t), `${t} is in the AguiEventType enum`);

      const resumed = await send(`${mount}/runs/${input.runId}/events`, { headers: { ...auth(tenant), "last-event-id": frames[1].id } });
      const rest = await conform(resumed, "GET", `${mount}/runs/{runId}/events`);
      assert.deepEqual(rest.frames, frames.slice(2));

      const badCursor = await send(`${mount}/runs/${input.runId}/events`, { headers: { ...auth(tenant), "last-event-id": "nonsense" } });
      assert.equal(badCursor.status, 400);
      await conform(badCursor, "GET", `${mount}/runs/{runId}/events`);
      const unknown = await send(`${mount}/runs/${uid("run")}/events`, { headers: auth(tenant) });
      assert.equal(unknown.status, 404);
      await conform(unknown, "GET", `${mount}/runs/{runId}/events`);
      const anonymous = await send(`${mount}/runs/${input.runId}/events`);
      assert.equal(anonymous.status, 401);
      await conform(anonymous, "GET", `${mount}/runs/{runId}/events`);
    });

    test("refused before any stream: 401, 403, 400, 415, 413, 422", async () => {
      // A fresh tenant per case: ratelimited-agent admits (and charges) before it reads the body.
      const cases = [
        ["no token", () => postJson(`${mount}/run`, runInput()), 401],
        ["tenant mismatch", (t) => postJson(`${mount}/run`, runInput(), { ...auth(t), "x-tenant-id": "other" }), 403],
        ["malformed JSON", (t) => postJson(`${mount}/run`, "{", auth(t)), 400],
        ["no content type", (t) => send(`${mount}/run`, { method: "POST", headers: auth(t), body: "{}" }), 415],
        ["bad ids", (t) => postJson(`${mount}/run`, runInput({ runId: "bad id!", threadId: "" }), auth(t)), 422],
        ["unknown role", (t) => postJson(`${mount}/run`, runInput({ messages: [{ id: "m", role: "wizard", content: "hi" }] }), auth(t)), 422],
        ["over 1 MiB", (t) => postJson(`${mount}/run`, runInput({ state: { blob: "x".repeat(1024 * 1024) } }), auth(t)), 413],
      ];
      for (const [what, call, status] of cases) {
        const res = await call(uid("t"));
        assert.equal(res.status, status, what);
        await conform(res, "POST", `${mount}/run`, `POST ${mount}/run (${what})`);
      }
    });
  });
}

describe("run replay and conflicts", () => {
  test("/agent: re-POST replays (200 SSE); the same runId on another thread is 409", async () => {
    const tenant = uid("t");
    const input = runInput();
    const first = await conform(await postJson("/agent/run", input, auth(tenant)), "POST", "/agent/run");
    const replay = await conform(await postJson("/agent/run", input, auth(tenant)), "POST", "/agent/run");
    assert.deepEqual(replay.frames, first.frames);
    const conflict = await postJson("/agent/run", { ...input, threadId: uid("other") }, auth(tenant));
    assert.equal(conflict.status, 409);
    assert.equal((await conform(conflict, "POST", "/agent/run")).error.code, "run_id_conflict");
  });

  test("/ratelimited-agent: RateLimit headers on admission, 429 with Retry-After past the burst", async () => {
    const tenant = uid("t");
    const admitted = await postJson("/ratelimited-agent/run", runInput(), auth(tenant));
    assert.equal(admitted.status, 200);
    assert.match(admitted.headers.get("ratelimit-policy"), /"burst";q=1/);
    // The bucket refills one run per second: three more at once, before reading the first
    // stream, leave at least two refused however slow the machine is (unless it takes > 2 s).
    const more = await Promise.all([1, 2, 3].map(() => postJson("/ratelimited-agent/run", runInput(), auth(tenant))));
    await conform(admitted, "POST", "/ratelimited-agent/run");
    const limited = more.filter((r) => r.status === 429);
    assert.ok(limited.length >= 1, `statuses ${more.map((r) => r.status)}`);
    for (const res of more) {
      const body = await conform(res, "POST", "/ratelimited-agent/run");
      if (res.status === 429) {
        assert.equal(body.error.code, "rate_limited");
        assert.equal(body.error.details.policy, "burst");
        assert.ok(Number(res.headers.get("retry-after")) >= 1);
      }
    }
  });
});

// ---- webhooks ---------------------------------------------------------------------------------

const stripeHeader = (payload, t = now(), secret = STRIPE_SECRET) => stripeSignature(payload, { secret, timestamp: t });

describe("webhooks", () => {
  test("stripe: 200 (then a duplicate), 400 for every refusal, 413 past 512 KiB", async () => {
    const payload = JSON.stringify({ id: uid("evt"), object: "event", created: now(), type: "customer.tax_id.created", data: { object: { id: "txi_1" } } });
    const ok = await conform(await postJson("/webhooks/stripe", payload, { "stripe-signature": stripeHeader(payload) }), "POST", "/webhooks/stripe");
    assert.deepEqual(ok, { received: true, duplicate: false, outcome: "ignored" });
    const dup = await conform(await postJson("/webhooks/stripe", payload, { "stripe-signature": stripeHeader(payload) }), "POST", "/webhooks/stripe");
    assert.equal(dup.duplicate, true);
    const notAnEvent = JSON.stringify({ hello: "world" });
    for (const [what, body, headers, code] of [
      ["no signature", payload, {}, "signature_missing"],
      ["garbage signature", payload, { "stripe-signature": "garbage" }, "signature_malformed"],
      ["wrong secret", payload, { "stripe-signature": stripeHeader(payload, now(), "whsec_wrong") }, "signature_mismatch"],
      ["too old", payload, { "stripe-signature": stripeHeader(payload, now() - 400) }, "timestamp_too_old"],
      ["not an event", notAnEvent, { "stripe-signature": stripeHeader(notAnEvent) }, "invalid_event"],
    ]) {
      const res = await postJson("/webhooks/stripe", body, headers);
      assert.equal(res.status, 400, what);
      assert.equal((await conform(res, "POST", "/webhooks/stripe", `POST /webhooks/stripe (${what})`)).error.code, code);
    }
    const huge = await postJson("/webhooks/stripe", "x".repeat(512 * 1024 + 1), { "stripe-signature": stripeHeader("x") });
    assert.equal(huge.status, 413);
    await conform(huge, "POST", "/webhooks/stripe");
  });

  test("basehub: 200 (then a duplicate), 400 without or with a wrong signature", async () => {
    const payload = JSON.stringify({ type: "block.updated", timestamp: new Date().toISOString(), data: { blockId: uid("blk") } });
    const ok = await conform(await postJson("/webhooks/basehub", payload, { "x-basehub-webhook-signature": basehubSignature(payload) }), "POST", "/webhooks/basehub");
    assert.equal(ok.duplicate, false);
    assert.equal(ok.queued, true);
    const dup = await conform(await postJson("/webhooks/basehub", payload, { "x-basehub-webhook-signature": basehubSignature(payload) }), "POST", "/webhooks/basehub");
    assert.deepEqual(dup, { received: true, duplicate: true });
    for (const [what, headers] of [
      ["no signature", {}],
      ["wrong signature", { "x-basehub-webhook-signature": "0".repeat(64) }],
      ["not hex", { "x-basehub-webhook-signature": "zz" }],
    ]) {
      const res = await postJson("/webhooks/basehub", payload, headers);
      assert.equal(res.status, 400, what);
      await conform(res, "POST", "/webhooks/basehub", `POST /webhooks/basehub (${what})`);
    }
  });
});

// ---- coverage of the document by this suite ---------------------------------------------------

test("every documented operation was exercised with a success and an error status", () => {
  for (const [template, item] of Object.entries(SPEC.paths)) {
    for (const method of METHODS.filter((m) => item[m])) {
      const statuses = [...seen].filter((s) => s.startsWith(`${method.toUpperCase()} ${template} `)).map((s) => Number(s.split(" ").at(-1)));
      assert.ok(statuses.some((s) => s < 400), `${method.toUpperCase()} ${template}: a success was checked`);
      const public_ = template.endsWith("/openapi.json") || template.endsWith("/healthz") || template.endsWith("/readyz");
      if (!public_) assert.ok(statuses.some((s) => s >= 400), `${method.toUpperCase()} ${template}: an error was checked`);
    }
  }
});
