// A real OpenID Connect provider (panva's certified `oidc-provider`) on loopback, for
// end-to-end tests that want tokens from a genuine token endpoint rather than hand-minted JWTs.
//
//   const op = await startOidcProvider({ audience: "https://sba.test/api", alg: "ES256" });
//   op.issuer                              // "http://127.0.0.1:PORT", exactly the tokens' `iss`
//   op.jwksUri                             // from discovery, for AUTH_JWKS_URL
//   await op.token({ tenantId: "t1" })     // client_credentials at POST /token → JWT access token
//   await op.rotate({ alg: "RS256" })      // new signing key; the old one leaves the JWKS
//   await op.stop()
//
// Options: `audience` (the resource indicator, becomes `aud`), `alg` ("RS256" | "ES256"),
// `tenantClaim` with the Worker's AUTH_TENANT_CLAIM meaning: unset or "app_metadata.tenant_id"
// → `app_metadata: { tenant_id }` (Supabase shape); any other name → a top-level claim of that
// literal name (dots do not nest, e.g. "https://sba.example/tenant"), `ttl` (seconds).

import http from "node:http";
import { exportJWK, generateKeyPair } from "jose";

export const CLIENT_ID = "sba-e2e";
export const CLIENT_SECRET = "sba-e2e-secret";

// oidc-provider prints "development-only" notices at import and construction (in-memory
// adapter, Node 20 not being its preferred LTS). They are true and irrelevant here; keep
// test output clean by muting only lines with its prefix, only while those calls run.
async function quietly(fn) {
  const { info, warn } = console;
  const mute = (orig) => (msg, ...rest) => {
    if (!String(msg).includes("oidc-provider ")) orig(msg, ...rest);
  };
  console.info = mute(info);
  console.warn = mute(warn);
  try {
    return await fn();
  } finally {
    Object.assign(console, { info, warn });
  }
}

const { default: Provider } = await quietly(() => import("oidc-provider"));

async function signingJwk(alg) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `${alg.toLowerCase()}-${crypto.randomUUID()}`, alg, use: "sig" };
}

export async function startOidcProvider({ audience, alg = "RS256", tenantClaim, ttl = 300 } = {}) {
  if (!audience) throw new Error("startOidcProvider needs an audience (the resource indicator)");
  const nested = !tenantClaim || tenantClaim === "app_metadata.tenant_id";

  // We own the listening socket and hand each request to the current Provider, so rotate()
  // can swap in a provider with new keys on the same port and issuer (the keystore is fixed
  // at construction; oidc-provider has no API to change it).
  let handler;
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;

  async function build(jwk) {
    const config = {
      jwks: { keys: [jwk] },
      clients: [{
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: "client_secret_post",
      }],
      // The client's default id_token alg is RS256; with only an ES256 key the client is
      // rejected as invalid_client_metadata unless the default follows our key.
      clientDefaults: { id_token_signed_response_alg: jwk.alg },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          // A bare client_credentials request still gets a JWT for our audience.
          defaultResource: () => audience,
          getResourceServerInfo: (ctx, resource) => ({
            audience: resource,
            scope: ctx.oidc.params.scope ?? "",
            accessTokenFormat: "jwt",
            accessTokenTTL: ttl,
            jwt: { sign: { alg: jwk.alg } },
          }),
        },
      },
      // The tenant (and any extra claims) ride in non-standard form fields; oidc-provider
      // drops unknown params from ctx.oidc.params but keeps the raw body in ctx.oidc.body.
      extraTokenClaims(ctx) {
        const { tenant_id: tenantId, extra_claims: extra } = ctx.oidc.body ?? {};
        const claims = extra ? JSON.parse(extra) : {};
        if (tenantId !== undefined) {
          Object.assign(claims, nested ? { app_metadata: { tenant_id: tenantId } } : { [tenantClaim]: tenantId });
        }
        return claims;
      },
      ttl: { AccessToken: ttl, ClientCredentials: ttl },
    };
    handler = (await quietly(() => new Provider(issuer, config))).callback();
  }

  let key = await signingJwk(alg);
  await build(key);
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();

  return {
    issuer,
    jwksUri: discovery.jwks_uri,
    tokenEndpoint: discovery.token_endpoint,
    get kid() { return key.kid; },
    get alg() { return key.alg; },

    /** A JWT access token from the real token endpoint (client_credentials). `tenantId`
     *  undefined leaves the tenant claim out; `claims` adds top-level claims (e.g. role). */
    async token({ tenantId, scope, audience: resource = audience, claims } = {}) {
      const body = new URLSearchParams({
        grant_type: "client_credentials", client_id: CLIENT_ID, client_secret: CLIENT_SECRET, resource,
      });
      if (scope) body.set("scope", scope);
      if (tenantId !== undefined) body.set("tenant_id", tenantId);
      if (claims) body.set("extra_claims", JSON.stringify(claims));
      const res = await fetch(discovery.token_endpoint, { method: "POST", body });
      const json = await res.json();
      if (!res.ok) throw new Error(`token endpoint ${res.status}: ${JSON.stringify(json)}`);
      return json.access_token;
    },

    /** New key (optionally another alg) signs from now on; the old key is gone from the JWKS. */
    async rotate({ alg: next = key.alg } = {}) {
      key = await signingJwk(next);
      await build(key);
      return key.kid;
    },

    stop() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
