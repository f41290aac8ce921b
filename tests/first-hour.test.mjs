// The first hour from a checkout where it is awkward: as root in a private home folder
// (many dev containers), Postgres and PgBouncer run as `postgres`, which cannot enter the
// checkout's .local/. scripts/dev then keeps their data in a folder under /var/tmp derived
// from the checkout's path (scripts/lib.sh `dev_server_dir`), and a real Postgres starts there.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, chmodSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";
import { ROOT } from "./support/bundle.mjs";

const isRoot = process.getuid?.() === 0;
const hasPostgresUser = spawnSync("id", ["-u", "postgres"]).status === 0;
const lib = path.join(ROOT, "scripts/lib.sh");

/** Runs `script` after sourcing scripts/lib.sh as if the checkout were at `checkout`. */
function inCheckout(checkout, script) {
  return execFileSync("bash", ["-c", `source "${lib}"; ROOT="${checkout}"; LOCAL="${checkout}/.local"; ${script}`], { encoding: "utf8" }).trim();
}

test("as root in a private home, Postgres gets a reachable data folder named after the checkout, and starts there", {
  skip: !(isRoot && hasPostgresUser) && "needs root and a postgres user (scripts/setup installs PostgreSQL)",
  timeout: 60_000,
}, () => {
  const home = mkdtempSync("/tmp/sba-private-home-");
  chmodSync(home, 0o700); // like /root
  const checkout = path.join(home, "sba-edge");
  mkdirSync(checkout);
  const expected = `/var/tmp/sba-dev-${createHash("sha256").update(checkout).digest("hex").slice(0, 12)}`;
  try {
    assert.equal(inCheckout(checkout, "dev_server_dir"), expected);
    assert.equal(inCheckout(checkout, "dev_server_dir"), expected, "the same checkout finds the same folder again");
    // A real Postgres in it, as scripts/dev starts it; then stopped.
    const port = inCheckout(checkout, "free_port");
    const out = inCheckout(checkout, `dir="$(dev_server_dir)"; pg_start "$dir/pg" ${port}; pg_psql ${port} postgres -tAc "select 1"; pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/pg" -w stop >/dev/null`);
    assert.match(out, /^1$/m);
  } finally {
    rmSync(home, { recursive: true, force: true });
    rmSync(expected, { recursive: true, force: true });
  }
});

test("a checkout postgres can reach keeps its data in .local/", () => {
  const checkout = mkdtempSync("/tmp/sba-open-checkout-");
  chmodSync(checkout, 0o755);
  try {
    assert.equal(inCheckout(checkout, "dev_server_dir"), `${checkout}/.local`);
  } finally {
    rmSync(checkout, { recursive: true, force: true });
  }
});
