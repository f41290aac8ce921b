// Minting real JWTs for the end-to-end suite with Node's own crypto (HS256, RS256, ES256),
// and a JWKS endpoint on loopback that counts how often the Worker fetches it.

import { createHmac, generateKeyPairSync, sign } from "node:crypto";
import http from "node:http";

const b64url = (data) => Buffer.from(data).toString("base64url");

function encode(header, payload) {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
}

export function hs256(payload, secret, header = {}) {
  const input = encode({ alg: "HS256", typ: "JWT", ...header }, payload);
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/** A fresh signing key: RS256 (RSA 2048) or ES256 (P-256), with its public JWK. */
export function signingKey(alg, kid) {
  const { privateKey, publicKey } =
    alg === "RS256"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" };
  return { alg, kid, privateKey, publicKey, jwk };
}

export function signWith(key, payload, header = {}) {
  const input = encode({ alg: key.alg, typ: "JWT", kid: key.kid, ...header }, payload);
  const signature = sign("sha256", Buffer.from(input), {
    key: key.privateKey,
    ...(key.alg === "ES256" ? { dsaEncoding: "ieee-p1363" } : {}),
  });
  return `${input}.${b64url(signature)}`;
}

export function unsigned(payload) {
  return `${encode({ alg: "none", typ: "JWT" }, payload)}.`;
}

/** Serves `keys()` as a JWKS on 127.0.0.1; `fetches` counts requests. */
export async function jwksServer(keys) {
  const state = { fetches: 0 };
  const server = http.createServer((req, res) => {
    state.fetches += 1;
    state.lastFetchAt = Date.now();
    state.lastTraceparent = req.headers.traceparent;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: keys().map((k) => k.jwk) }));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${server.address().port}/auth/v1/.well-known/jwks.json`;
  state.close = () => new Promise((r) => server.close(r));
  return state;
}

/** A valid tenant token for the test bundle (HS256, aud "authenticated"). */
export function tenantToken(secret, tenant, overrides = {}) {
  const now = Math.floor(Date.now() / 1000);
  return hs256(
    { sub: `user-of-${tenant}`, role: "authenticated", aud: "authenticated", iat: now, exp: now + 600, app_metadata: { tenant_id: tenant }, ...overrides },
    secret,
  );
}
