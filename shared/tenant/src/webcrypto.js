// RS256/ES256 signature checks with the runtime's WebCrypto (crypto.subtle): native code, so
// no RSA or elliptic-curve implementation ships in the Wasm and none runs in it. Imported
// keys are kept for the isolate's life under the id the caller gives (an id changes with the
// key's material): a key is imported once, not per request.
const imported = new Map();
const IMPORT = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
};
const VERIFY = {
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  // JWS ES256 signatures are r || s, which is WebCrypto's ECDSA format too.
  ES256: { name: "ECDSA", hash: "SHA-256" },
};

// Resolves to true/false, or to undefined when the key is not imported yet (then the caller
// passes its JWK to importJwk and asks again): the JWK crosses from the Wasm only once.
export async function verifyJws(alg, keyId, signingInput, signature) {
  const key = imported.get(keyId);
  if (key === undefined) return undefined;
  return crypto.subtle.verify(VERIFY[alg], key, signature, signingInput);
}

export async function importJwk(alg, keyId, jwkJson) {
  const key = await crypto.subtle.importKey("jwk", JSON.parse(jwkJson), IMPORT[alg], false, ["verify"]);
  if (imported.size >= 1000) imported.clear();
  imported.set(keyId, key);
}
