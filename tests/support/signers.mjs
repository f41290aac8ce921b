// Signed webhook deliveries for the suites and benches, in one place. Stripe's header comes
// from the official `stripe` package (it verifies our verifier); BaseHub's and Svix's schemes
// have no official signer in npm, so they are written out here once.

import { createHmac } from "node:crypto";
import Stripe from "stripe";
import { E2E_WEBHOOK_SECRETS } from "./bundle.mjs";

const stripe = new Stripe("sk_test_signers_not_a_real_key");

/** The secret the test bundle's webhooks Worker signs with now (the last of the rotation list). */
export const STRIPE_SECRET = E2E_WEBHOOK_SECRETS.STRIPE_WEBHOOK_SECRETS.split(",").at(-1).trim();
/** BaseHub's HMAC key: what follows the first `:` of `bshb_workflow_<id>:<secret>`. */
export const BASEHUB_KEY = E2E_WEBHOOK_SECRETS.BASEHUB_WEBHOOK_SECRET.split(":").slice(1).join(":");

/** `Stripe-Signature: t=…,v1=…` for `payload` (`timestamp` in seconds; `secret` to sign wrongly on purpose). */
export function stripeSignature(payload, { secret = STRIPE_SECRET, timestamp } = {}) {
  return stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp === undefined ? {} : { timestamp }) });
}

/** `x-basehub-webhook-signature`: lowercase hex HMAC-SHA256 of the raw body. */
export function basehubSignature(body, key = BASEHUB_KEY) {
  return createHmac("sha256", key).update(body).digest("hex");
}

/** `svix-signature` (`v1,<base64>`) over `id.timestamp.body` with a `whsec_` secret. */
export function svixSignature(id, timestamp, body, secret = E2E_WEBHOOK_SECRETS.BASEHUB_SVIX_SECRET) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}
