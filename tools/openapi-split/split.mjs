// Each function's own OpenAPI document, cut from openapi/openapi.json: the paths under its
// mount and the components they reach (transitively), nothing else. The functions embed
// openapi/functions/<name>.json and serve it at GET /<mount>/openapi.json, so a function
// deployed on its own hostname still answers with its contract.
//
//   node tools/openapi-split/split.mjs          writes openapi/functions/*.json
//   node tools/openapi-split/split.mjs --check  exits 1 if any of them is out of date
//
// tests/e2e/openapi.test.mjs checks what each function serves against the same cut.

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const MOUNTS = { agent: "/agent", "ratelimited-agent": "/ratelimited-agent", "kb-ingest": "/kb", webhooks: "/webhooks" };

/** The document of the function mounted at `mount`. */
export function split(spec, name, mount) {
  const paths = Object.fromEntries(Object.entries(spec.paths).filter(([p]) => p === mount || p.startsWith(`${mount}/`) || p.startsWith(`${mount}:`)));
  const components = {};
  const visit = (node) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string" && value.startsWith("#/components/")) {
        const [kind, id] = value.slice("#/components/".length).split("/");
        if (!components[kind]?.[id]) {
          (components[kind] ??= {})[id] = spec.components[kind][id];
          visit(spec.components[kind][id]);
        }
      } else {
        visit(value);
      }
    }
  };
  visit(paths);
  visit(spec.security ?? []);
  // Security schemes are referenced by name, not by $ref.
  if (spec.components.securitySchemes) components.securitySchemes = spec.components.securitySchemes;
  const sorted = Object.fromEntries(Object.keys(components).sort().map((kind) => [kind, Object.fromEntries(Object.keys(components[kind]).sort().map((id) => [id, components[kind][id]]))]));
  const tags = new Set(Object.values(paths).flatMap((item) => Object.values(item).flatMap((op) => op.tags ?? [])));
  return {
    openapi: spec.openapi,
    info: { ...spec.info, title: `${spec.info.title}: ${name}`, description: `The operations of the \`${name}\` function (mounted at \`${mount}\`), cut from the whole document (\`/openapi.json\` on the dev origin).` },
    // First the host the document was fetched from: a function deployed on its own hostname
    // serves this at /openapi.json and answers its paths there, with or without the mount.
    servers: [{ url: "/", description: "the host serving this document (the function's own hostname in production)" }, ...spec.servers],
    tags: (spec.tags ?? []).filter((t) => tags.has(t.name)),
    ...(spec.security ? { security: spec.security } : {}),
    paths,
    components: sorted,
  };
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const outputPath = (name) => path.join(ROOT, "openapi/functions", `${name}.json`);
export const render = (doc) => `${JSON.stringify(doc, null, 2)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const spec = JSON.parse(readFileSync(path.join(ROOT, "openapi/openapi.json"), "utf8"));
  const check = process.argv.includes("--check");
  let stale = 0;
  mkdirSync(path.join(ROOT, "openapi/functions"), { recursive: true });
  for (const [name, mount] of Object.entries(MOUNTS)) {
    const text = render(split(spec, name, mount));
    let current = null;
    try {
      current = readFileSync(outputPath(name), "utf8");
    } catch {}
    if (current === text) continue;
    if (check) {
      console.error(`openapi/functions/${name}.json is out of date: run node tools/openapi-split/split.mjs`);
      stale += 1;
    } else {
      writeFileSync(outputPath(name), text);
      console.log(`wrote openapi/functions/${name}.json`);
    }
  }
  process.exit(stale ? 1 : 0);
}
