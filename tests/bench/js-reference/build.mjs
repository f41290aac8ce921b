// Bundles the JS reference Worker (worker.mjs beside this file) with esbuild, from
// node_modules, into ONE ES module under target/bench/ for Miniflare; returns its path.
// Resolves each package's Worker build (the `workerd`/`worker`/`browser` export conditions),
// as wrangler would.

import { build } from "esbuild";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../../..");

export async function buildJsReference(outfile = path.join(ROOT, "target/bench/js-reference/worker.js")) {
  await build({
    entryPoints: [path.join(HERE, "worker.mjs")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    minify: false,
    logLevel: "warning",
  });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(await buildJsReference());
