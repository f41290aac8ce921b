// Tokens from a real OpenID Connect provider: two issuers configured in AUTH_ISSUERS, each a
// local `oidc-provider` (a certified OP) issuing JWT access tokens through its token endpoint
// (client credentials), one RS256 with Supabase's tenant claim, one ES256 with a namespaced
// top-level claim. The Worker finds each issuer's keys by discovery, checks iss exactly and
// aud always, and follows a key rotation; tokens from a third, unlisted issuer, for another
// audience, or signed by a rotated-out key are refused with 401 (`unauthorized`, RFC 6750's
// `error="invalid_token"` in WWW-Authenticate) and a message naming the failed check.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { startBundle, stackEnv } from "../support/bundle.mjs";
import { startOidcProvider } from "../support/oidc.mjs";
import { sleep } from "../support/wait.mjs";

const AUDIENCE = "https://sba.test/api";
const NAMESPACED = "https://sba.example/tenant";
const uid = (p) => `${p}-${randomBytes(5).toString("hex")}`;

let bundle;
let db;
let rsa; // issuer A: RS256, app_metadata.tenant_id
let ec; // issuer B: ES256, a namespaced top-level tenant claim
let stranger; // a real OP that is not configured

before(async () => {
  rsa = await startOidcProvider({ audience: AUDIENCE, alg: "RS256" });
  ec = await startOidcProvider({ audience: AUDIENCE, alg: "ES256", tenantClaim: NAMESPACED });
  stranger = await startOidcProvider({ audience: AUDIENCE, alg: "RS256" });
  bundle = await startBundle({
    overrides: {
      "kb-ingest": { bindings: { AUTH_ISSUERS: `${rsa.issuer}|aud=${AUDIENCE}, ${ec.issuer}|aud=${AUDIENCE}|tenant=${NAMESPACED}` } },
    },
  });
  db = new pg.Client({ connectionString: stackEnv().postgresUrl });
  await db.connect();
});

after(async () => {
  await bundle?.dispose();
  await db?.end();
  for (const op of [rsa, ec, stranger]) await op?.stop();
});

const bearer = (token) => ({ authorization: `Bearer ${token}` });
async function ingest(token, title) {
  const res = await bundle.fetch("/kb/documents", {
    method: "POST",
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify({ title, content: `Opening hours ${uid("w")}`, contentType: "text" }),
  });
  return { status: res.status, body: await res.json() };
}
async function refusal(token) {
  const res = await bundle.fetch("/kb/search?q=hours", { headers: bearer(token) });
  return { status: res.status, challenge: res.headers.get("www-authenticate"), ...(await res.json()).error };
}

test("an RS256 access token from the first issuer's token endpoint is accepted, as its tenant", async () => {
  const tenant = uid("oidc-a");
  const token = await rsa.token({ tenantId: tenant });
  const { status, body } = await ingest(token, "Hours A");
  assert.equal(status, 201, JSON.stringify(body));
  const { rows } = await db.query("select tenant_id from kb_documents where id = $1", [body.id]);
  assert.equal(rows[0].tenant_id, tenant);
  // Another tenant of the same issuer does not see it (RLS on the verified tenant).
  const other = await bundle.fetch(`/kb/documents/${body.id}`, { headers: bearer(await rsa.token({ tenantId: uid("oidc-a") })) });
  assert.equal(other.status, 404);
});

test("an ES256 token from the second issuer carries the tenant in its own claim path", async () => {
  const tenant = uid("oidc-b");
  const { status, body } = await ingest(await ec.token({ tenantId: tenant }), "Hours B");
  assert.equal(status, 201, JSON.stringify(body));
  const { rows } = await db.query("select tenant_id from kb_documents where id = $1", [body.id]);
  assert.equal(rows[0].tenant_id, tenant);
});

test("a token from an issuer that is not configured is refused with 401", async () => {
  const refused = await refusal(await stranger.token({ tenantId: uid("t") }));
  assert.equal(refused.status, 401);
  assert.equal(refused.code, "unauthorized");
  assert.match(refused.challenge, /error="invalid_token"/);
  assert.match(refused.message, /issuer/);
});

test("a token for another audience is refused with 401", async () => {
  const refused = await refusal(await rsa.token({ tenantId: uid("t"), audience: "https://other.example/api" }));
  assert.equal(refused.status, 401);
  assert.equal(refused.code, "unauthorized");
  assert.match(refused.challenge, /error="invalid_token"/);
  assert.match(refused.message, /aud/);
});

test("key rotation mid-test: the new key is picked up, a token signed by the rotated-out key is refused", async () => {
  const tenant = uid("oidc-rot");
  const old = await rsa.token({ tenantId: tenant });
  assert.equal((await ingest(old, "Before rotation")).status, 201);
  await rsa.rotate();
  const fresh = await rsa.token({ tenantId: tenant });
  // An unknown kid refetches discovery and the JWKS, at most once per 5 s per issuer.
  let accepted;
  for (const deadline = Date.now() + 12_000; Date.now() < deadline; await sleep(500)) {
    accepted = await ingest(fresh, "After rotation");
    if (accepted.status === 201) break;
  }
  assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
  const refused = await refusal(old);
  assert.equal(refused.status, 401);
  assert.equal(refused.code, "unauthorized");
  assert.match(refused.challenge, /error="invalid_token"/);
});
