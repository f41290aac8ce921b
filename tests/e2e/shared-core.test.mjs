// The shared core inside workerd, through the test-only fixture Worker (tests/fixture-worker):
// tenant context from verified JWTs (HS256, RS256 and ES256 via JWKS) and validated bodies
// with the 400/413/415/422 contract. The same pieces are unit-tested natively; this proves
// they behave identically compiled to Wasm in the real runtime.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../support/bundle.mjs";
import { hs256, signingKey, signWith, unsigned, jwksServer } from "../support/jwt.mjs";

const SECRET = "e2e-hs256-secret-that-is-long-enough-0123456789";
const ISSUER = "https://auth.example.test/auth/v1";
const AUDIENCE = "authenticated";
const now = () => Math.floor(Date.now() / 1000);
const claims = (overrides = {}) => ({
  sub: "user-1",
  role: "authenticated",
  iss: ISSUER,
  aud: AUDIENCE,
  exp: now() + 600,
  iat: now(),
  app_metadata: { tenant_id: "tenant-a" },
  ...overrides,
});

let worker;
let jwks;
const rsa = signingKey("RS256", "rsa-1");
const ec = signingKey("ES256", "ec-1");
const published = [rsa, ec];

before(async () => {
  jwks = await jwksServer(() => published);
  worker = await startWorker("tests/fixture-worker", {
    AUTH_JWT_SECRET: SECRET,
    AUTH_JWKS_URL: jwks.url,
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
  });
});
after(async () => {
  await worker?.dispose();
  await jwks?.close();
});

async function whoami(token, headers = {}) {
  const res = await worker.fetch("/whoami", {
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers },
  });
  return { res, body: await res.json() };
}

async function expect401(token, messagePattern) {
  const { res, body } = await whoami(token);
  assert.equal(res.status, 401, JSON.stringify(body));
  assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer /);
  assert.equal(body.error.code, "unauthorized");
  if (messagePattern) assert.match(body.error.message, messagePattern);
  assert.ok(!JSON.stringify(body).includes(String(token).slice(-20)) || !token, "never echo the token");
}

describe("tenant context", () => {
  test("HS256, RS256 and ES256 tokens are accepted and yield the token's tenant", async () => {
    for (const token of [hs256(claims(), SECRET), signWith(rsa, claims()), signWith(ec, claims())]) {
      const { res, body } = await whoami(token);
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.deepEqual(body, { tenantId: "tenant-a", subject: "user-1", role: "authenticated" });
    }
  });

  test("expired, not yet valid, wrong audience and wrong issuer → 401 invalid_token", async () => {
    await expect401(signWith(rsa, claims({ exp: now() - 3600 })), /expired/i);
    await expect401(signWith(rsa, claims({ nbf: now() + 3600 })));
    await expect401(signWith(ec, claims({ aud: "someone-else" })), /aud/i);
    await expect401(hs256(claims({ iss: "https://evil.example" }), SECRET), /iss/i);
    const { res } = await whoami(signWith(rsa, claims({ exp: now() - 3600 })));
    assert.match(res.headers.get("www-authenticate"), /error="invalid_token"/);
  });

  test("wrong key, alg none and HS256 signed with the RSA public key → 401", async () => {
    const impostor = signingKey("RS256", "rsa-1"); // same kid, different key
    await expect401(signWith(impostor, claims()));
    await expect401(hs256(claims(), "not-the-secret"));
    await expect401(unsigned(claims()));
    const publicPem = rsa.publicKey.export({ format: "pem", type: "spki" });
    await expect401(hs256(claims(), publicPem, { kid: "rsa-1" }));
  });

  test("missing or malformed Authorization → 401", async () => {
    await expect401(undefined);
    await expect401("not-a-jwt");
    const { res } = await whoami(undefined, { authorization: "Basic dXNlcjpwYXNz" });
    assert.equal(res.status, 401);
  });

  test("a token without a tenant, or with it only in user_metadata → 401", async () => {
    await expect401(hs256(claims({ app_metadata: {}, user_metadata: { tenant_id: "tenant-a" } }), SECRET), /tenant/i);
  });

  test("X-Tenant-ID is an assertion: equal passes, different → 403 tenant_mismatch", async () => {
    const token = hs256(claims(), SECRET);
    assert.equal((await whoami(token, { "x-tenant-id": "tenant-a" })).res.status, 200);
    const { res, body } = await whoami(token, { "x-tenant-id": "tenant-b" });
    assert.equal(res.status, 403);
    assert.equal(body.error.code, "tenant_mismatch");
  });

  test("JWKS rotation: a new kid is picked up with one refetch, throttled to one per 5 s", async () => {
    // Make sure the cache holds the first JWKS, then publish a rotated key.
    assert.equal((await whoami(signWith(rsa, claims()))).res.status, 200);
    const rotated = signingKey("ES256", "ec-2");
    published.push(rotated);
    const fetchesBefore = jwks.fetches;
    const sinceLastFetch = Date.now() - jwks.lastFetchAt;
    if (sinceLastFetch < 4000) {
      // Inside the throttle window the unknown kid is refused without asking the IdP again.
      await expect401(signWith(rotated, claims()));
      assert.equal(jwks.fetches, fetchesBefore, "no refetch inside the window");
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 5200 - (Date.now() - jwks.lastFetchAt))));
    const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const { res } = await whoami(signWith(rotated, claims()), { traceparent: `00-${trace}-00f067aa0ba902b7-01` });
    assert.equal(res.status, 200);
    assert.equal(jwks.fetches, fetchesBefore + 1, "exactly one refetch for the new kid");
    assert.equal(jwks.lastTraceparent, `00-${trace}-${res.headers.get("traceresponse").split("-")[2]}-01`, "the key fetch joins the request's trace");
    const unknown = signingKey("RS256", "never-published");
    for (let i = 0; i < 10; i++) await expect401(signWith(unknown, claims()));
    assert.equal(jwks.fetches, fetchesBefore + 1, "a flood of unknown kids inside the window fetches nothing");
  });
});

describe("validated bodies", () => {
  const valid = {
    customerName: "Ada",
    shipping: { country: "GB", contactEmail: "ada@example.com" },
    items: [{ title: "Lamp", quantity: 2 }],
  };
  const post = (body, headers = { "content-type": "application/json" }) =>
    worker.fetch("/orders", { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });

  test("a valid body passes through", async () => {
    const res = await post(valid);
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), valid);
  });

  test("malformed JSON → 400 invalid_json with line and column", async () => {
    const res = await post('{\n  "customerName": "Ada",\n  "shipping": {,\n}');
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error.code, "invalid_json");
    assert.equal(body.error.details.line, 3);
    assert.ok(body.error.details.column > 0);
  });

  test("wrong or missing content type → 415", async () => {
    assert.equal((await post(valid, { "content-type": "text/plain" })).status, 415);
    assert.equal((await post(valid, {})).status, 415);
  });

  test("a body over the limit → 413, declared or streamed", async () => {
    const big = JSON.stringify({ ...valid, customerName: "x".repeat(10_000) });
    const res = await post(big);
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, "payload_too_large");
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1000)));
        controller.close();
      },
    });
    const streamed = await worker.fetch("/orders", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    });
    assert.equal(streamed.status, 413);
  });

  test("rule failures → 422 with every issue at its nested path", async () => {
    const res = await post({
      customerName: "",
      shipping: { country: "GBR", contactEmail: "not-an-email" },
      items: [{ title: "ok", quantity: 1 }, { title: "x".repeat(21), quantity: 100 }],
    });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.error.code, "validation_failed");
    const byPath = Object.fromEntries(body.error.issues.map((i) => [JSON.stringify(i.path), i.code]));
    assert.deepEqual(byPath, {
      '["customerName"]': "too_short",
      '["items",1,"quantity"]': "too_big",
      '["items",1,"title"]': "too_long",
      '["shipping","contactEmail"]': "invalid_email",
      '["shipping","country"]': "too_long",
    });
    for (const issue of body.error.issues) assert.ok(issue.message.length > 0);
  });

  test("a wrong type → 422 at the offending path", async () => {
    const res = await post({ ...valid, items: [{ title: "Lamp", quantity: "two" }] });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.deepEqual(body.error.issues[0].path, ["items", 0, "quantity"]);
  });
});
