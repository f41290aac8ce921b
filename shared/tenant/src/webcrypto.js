// JWT signature checks with the runtime's WebCrypto (crypto.subtle): native code, so no
// RSA/EC/HMAC implementation ships in the Wasm and none runs in it. Imported keys are kept
// for the isolate's life under the id the caller gives (a key's id changes with its
// material), so a key is imported once, not per request.
const imported = new Map();
const IMPORT = {
  HS256: { name: "HMAC", hash: "SHA-256" },
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
};
const VERIFY = {
  HS256: { name: "HMAC" },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  // JWS ES256 signatures are r || s, which is WebCrypto's ECDSA format too.
  ES256: { name: "ECDSA", hash: "SHA-256" },
};

export async function verifyJws(alg, keyId, jwkJson, signingInput, signature) {
  let key = imported.get(keyId);
  if (key === undefined) {
    key = await crypto.subtle.importKey("jwk", JSON.parse(jwkJson), IMPORT[alg], false, ["verify"]);
    if (imported.size >= 1000) imported.clear();
    imported.set(keyId, key);
  }
  return crypto.subtle.verify(VERIFY[alg], key, signature, signingInput);
}
