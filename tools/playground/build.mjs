// Builds the playground (README "Playground") into target/playground/: index.html and app.css
// as they are, app.js bundled with @ag-ui/client into ONE browser module by esbuild. The dev
// router imports the three files as text and serves them at /, /app.css and /app.js.
//
//   node tools/playground/build.mjs     (scripts/dev runs it; the test bundle calls
//                                        buildPlaygroundIfStale() before starting workerd)

import { build } from "esbuild";
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, "../..");
export const OUT_DIR = path.join(ROOT, "target/playground");

/** Writes `text` to `file` through a temporary name, so a running wrangler dev never reads half a file. */
function writeAtomically(file, text) {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

/** Builds the three files into `outDir` (default target/playground); returns their paths. */
export async function buildPlayground({ outDir = OUT_DIR, minify = true } = {}) {
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: [path.join(HERE, "app.js")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: ["chrome120", "firefox121", "safari17"],
    minify,
    legalComments: "none",
    // @ag-ui/client reads process.env only behind `typeof process` checks.
    define: { "process.env.NODE_ENV": '"production"' },
    outfile: path.join(outDir, "app.js"),
    logLevel: "warning",
  });
  const files = {
    "index.html": readFileSync(path.join(HERE, "index.html"), "utf8"),
    "app.css": readFileSync(path.join(HERE, "app.css"), "utf8"),
    "app.js": result.outputFiles[0].text,
  };
  for (const name of OUTPUTS) writeAtomically(path.join(outDir, name), files[name]);
  return OUTPUTS.map((name) => path.join(outDir, name));
}

const OUTPUTS = ["index.html", "app.css", "app.js"];

/** True when every output in `outDir` is newer than every source (this folder, the npm lockfile). */
export function playgroundFresh(outDir = OUT_DIR) {
  const mtime = (file) => {
    try {
      return statSync(file).mtimeMs;
    } catch {
      return null;
    }
  };
  const sources = [...readdirSync(HERE).map((name) => path.join(HERE, name)), path.join(ROOT, "package-lock.json")];
  const newestSource = Math.max(...sources.map((f) => mtime(f) ?? 0));
  return OUTPUTS.every((name) => (mtime(path.join(outDir, name)) ?? -1) > newestSource);
}

/** buildPlayground() unless playgroundFresh(): what the test bundle calls before each start. */
export async function buildPlaygroundIfStale(options = {}) {
  if (playgroundFresh(options.outDir)) return false;
  await buildPlayground(options);
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const written = await buildPlayground();
  console.log(`playground: ${written.map((f) => path.relative(ROOT, f)).join(", ")}`);
}
