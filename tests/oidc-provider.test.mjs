// The local OpenID provider (tests/support/oidc.mjs) issues real JWT access tokens that verify
// against its own discovery + JWKS, in both algorithms, and key rotation drops the old key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { startOidcProvider } from "./support/oidc.mjs";

const audience = "https://sba.test/api";

test("discovery, RS256 token with app_metadata.tenant_id, verified via jwks_uri", async () => {
  const op = await startOidcProvider({ audience });
  try {
    const discovery = await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json();
    assert.equal(discovery.issuer, op.issuer);
    assert.equal(discovery.jwks_uri, `${op.issuer}/jwks`);
    assert.ok(discovery.grant_types_supported.includes("client_credentials"));

    const token = await op.token({ tenantId: "t1", scope: "read", claims: { role: "service_role" } });
    assert.deepEqual(decodeProtectedHeader(token), { alg: "RS256", typ: "at+jwt", kid: op.kid });
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri)), { issuer: op.issuer, audience });
    assert.deepEqual(payload.app_metadata, { tenant_id: "t1" });
    assert.equal(payload.role, "service_role");
    assert.equal(payload.scope, "read");
    assert.equal(payload.sub, "sba-e2e");
    assert.equal(payload.exp - payload.iat, 300);
  } finally {
    await op.stop();
  }
});

test("ES256 with a top-level tenant claim; rotation removes the old key", async () => {
  const tenantClaim = "https://sba.example/tenant";
  const op = await startOidcProvider({ audience, alg: "ES256", tenantClaim });
  try {
    // cooldownDuration 0: an unknown kid makes the verifier refetch at once, as the Worker does.
    const jwks = createRemoteJWKSet(new URL(op.jwksUri), { cooldownDuration: 0 });
    const verify = (t) => jwtVerify(t, jwks, { issuer: op.issuer, audience });
    const old = await op.token({ tenantId: "t2" });
    assert.equal(decodeProtectedHeader(old).alg, "ES256");
    const { payload } = await verify(old);
    assert.equal(payload[tenantClaim], "t2");
    assert.equal(payload.app_metadata, undefined);

    const oldKid = op.kid;
    await op.rotate({ alg: "RS256" });
    assert.notEqual(op.kid, oldKid);
    const fresh = await op.token({ tenantId: "t2" });
    assert.deepEqual(decodeProtectedHeader(fresh), { alg: "RS256", typ: "at+jwt", kid: op.kid });
    await verify(fresh); // unknown kid → refetch
    await assert.rejects(verify(old), { code: "ERR_JWKS_NO_MATCHING_KEY" });
    const { keys } = await (await fetch(op.jwksUri)).json();
    assert.deepEqual(keys.map((k) => k.kid), [op.kid]);
  } finally {
    await op.stop();
  }
});
