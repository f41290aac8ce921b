// Writes the wrangler.toml each function runs with under `scripts/dev`: its own config with
// the developer's local settings applied.
//
// Why not `.dev.vars`: once a function's wrangler.toml declares `[secrets] required`,
// wrangler dev takes ONLY those names from `.dev.vars` (or `.env`); any other line is
// ignored, and a `.dev.vars` present also stops the secrets coming from the environment. So a
// developer who added one to change a var lost every secret (401 "HS256 tokens are not
// accepted here") and still did not get the var. Instead, local settings live in ONE
// git-ignored file at the root, `.dev.overrides`:
//
//   LLM_IDLE_TIMEOUT_MS=5000                   # every function
//   ratelimited-agent.RATE_LIMIT_BURST=3       # one function
//
// and this writes `<out>/<function>/wrangler.toml`: the function's own, with those values in
// its `[vars]` and its paths made absolute. Secrets keep coming from scripts/dev's environment
// (no `.dev.vars` sits next to the written config). The optional secrets the code reads
// (`LLM_API_KEY`, the keys `LLM_BASE_URLS` names with `key=`, …) are not in `[secrets]
// required`, so wrangler dev would drop them: those set in the environment join that list in
// the written config, and reach the Worker as secrets (never written to a file).
//
//   node tools/dev-config/write.mjs [out]      (scripts/dev runs it; out: .local/dev-config)

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const FUNCTIONS = ["agent", "ratelimited-agent", "kb-ingest", "webhooks"];

/** `.dev.overrides` → { all: {NAME: value}, only: {function: {NAME: value}} }; bad lines throw. */
export function parseOverrides(text, functions = FUNCTIONS) {
  const all = {};
  const only = {};
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const m = line.match(/^(?:([a-z][a-z0-9-]*)\.)?([A-Z][A-Z0-9_]*)=(.*)$/);
    if (!m) throw new Error(`.dev.overrides line ${i + 1}: expected NAME=value or <function>.NAME=value, got ${JSON.stringify(raw)}`);
    const [, fn, name, value] = m;
    if (fn && !functions.includes(fn)) throw new Error(`.dev.overrides line ${i + 1}: no function named ${fn} (${functions.join(", ")})`);
    if (fn) (only[fn] ??= {})[name] = unquote(value);
    else all[name] = unquote(value);
  });
  return { all, only };
}

function unquote(value) {
  const v = value.trim();
  return v.length >= 2 && v[0] === v.at(-1) && (v[0] === '"' || v[0] === "'") ? v.slice(1, -1) : v;
}

/** Secrets the code reads when they are set (docs/deploy.md, "Optional secrets"). */
export const OPTIONAL_SECRETS = ["LLM_API_KEY", "BASEHUB_TOKEN", "OTEL_EXPORTER_OTLP_HEADERS"];

/** The optional secrets set in `env`, with the key names its `LLM_BASE_URLS` entries give. */
export function optionalSecretsIn(env) {
  const named = (env.LLM_BASE_URLS ?? "")
    .split(",")
    .flatMap((entry) => entry.split("|").slice(1))
    .map((option) => option.trim())
    .filter((option) => option.startsWith("key="))
    .map((option) => option.slice(4));
  return [...new Set([...OPTIONAL_SECRETS, ...named])].filter((name) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && env[name]);
}

/**
 * `toml` (a function's wrangler.toml from `dir`) with `vars` set in its `[vars]` table, the
 * `secrets` names added to its `[secrets] required` list, and its relative paths (main,
 * watch_dir, the build command's folder) made absolute.
 */
export function configWith(toml, { root, fn, vars, secrets = [] }) {
  const dir = path.join(root, "functions", fn);
  let out = toml
    .replace(/^main = "([^"]+)"/m, (_, p) => `main = ${JSON.stringify(path.join(dir, p))}`)
    .replace(/^watch_dir = \[([^\]]*)\]/m, (_, list) => `watch_dir = [${list.split(",").map((p) => JSON.stringify(path.join(dir, p.trim().replace(/^"|"$/g, "")))).join(", ")}]`)
    .replace(/^command = .*$/m, `command = ${JSON.stringify(`cd ${JSON.stringify(root)} && scripts/build --if-stale ${fn}`)}`);
  const required = out.match(/^required = \[([^\]]*)\]/m);
  const missing = secrets.filter((name) => !required?.[1].includes(`"${name}"`));
  if (missing.length) {
    if (!required) throw new Error(`${fn}: its wrangler.toml has no [secrets] required list`);
    out = out.replace(/^required = \[/m, `required = [${missing.map((n) => JSON.stringify(n)).join(", ")}, `);
  }
  const lines = out.split("\n");
  const start = lines.findIndex((l) => l.trim() === "[vars]");
  if (start < 0 && Object.keys(vars).length) throw new Error(`${fn}: its wrangler.toml has no [vars] table`);
  let end = lines.findIndex((l, i) => i > start && /^\s*\[/.test(l));
  if (end < 0) end = lines.length;
  for (const [name, value] of Object.entries(vars)) {
    const line = `${name} = ${JSON.stringify(value)}   # from .dev.overrides`;
    const at = lines.findIndex((l, i) => i > start && i < end && new RegExp(`^${name}\\s*=`).test(l));
    if (at >= 0) lines[at] = line;
    else {
      // After the table's last line, before the blank lines that end it.
      let after = end;
      while (after > start + 1 && lines[after - 1].trim() === "") after -= 1;
      lines.splice(after, 0, line);
      end += 1;
    }
  }
  return lines.join("\n");
}

/** Writes `<out>/<fn>/wrangler.toml` for every function; returns their paths. */
export function writeDevConfigs({ root = ROOT, out = path.join(root, ".local", "dev-config"), functions = FUNCTIONS, overridesText, env = process.env } = {}) {
  const secrets = optionalSecretsIn(env);
  const overridesPath = path.join(root, ".dev.overrides");
  const text = overridesText ?? (existsSync(overridesPath) ? readFileSync(overridesPath, "utf8") : "");
  const overrides = parseOverrides(text, functions);
  return functions.map((fn) => {
    const ignored = path.join(root, "functions", fn, ".dev.vars");
    if (existsSync(ignored)) console.warn(`scripts/dev: ${path.relative(root, ignored)} is ignored (wrangler would take only its required secrets from it): put its lines in .dev.overrides`);
    const toml = readFileSync(path.join(root, "functions", fn, "wrangler.toml"), "utf8");
    const file = path.join(out, fn, "wrangler.toml");
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, configWith(toml, { root, fn, vars: { ...overrides.all, ...(overrides.only[fn] ?? {}) }, secrets }));
    return file;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const written = writeDevConfigs(process.argv[2] ? { out: path.resolve(process.argv[2]) } : {});
    console.log(written.map((f) => path.relative(ROOT, f)).join(" "));
  } catch (e) {
    console.error(`scripts/dev: ${e.message}`);
    process.exit(1);
  }
}
