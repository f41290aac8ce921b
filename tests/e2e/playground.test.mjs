// The playground (tools/playground, served by the dev router at /) in a real headless
// Chromium (Debian's /usr/bin/chromium through playwright-core; no browser is downloaded):
// the page's own @ag-ui/client against the Wasm in workerd, an LLM double scripted to stream
// text and call searchKb, the knowledge base, the rate limit and a signed Stripe checkout,
// all under the page's CSP. Screenshots land in target/playground/screenshots/.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Miniflare } from "miniflare";
import { chromium } from "playwright-core";
import { startAgentHarness } from "../support/agent-harness.mjs";
import { ROOT, E2E_JWT_SECRET, routerWorker, ensurePlayground } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { textChunks, toolCallChunks } from "../support/llm-double.mjs";
import { awayFromMinuteEdge } from "../support/wait.mjs";

const CHROMIUM = process.env.SBA_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = path.join(ROOT, "target/playground/screenshots");
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const uid = (p) => `${p}-${randomBytes(5).toString("hex")}`;
const say = (text, { pieces = 3, delayMs = 0 } = {}) => {
  const chunks = textChunks(text, { pieces });
  return { chunks: delayMs ? chunks.flatMap((c) => [{ delayMs }, c]) : chunks };
};

let harness;
let browser;
let script = () => say("Hello from the playground.");
/** Every page's CSP violations, uncaught errors and console lines (printed when a test fails). */
const problems = [];
const consoleLines = [];

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: scripts/setup installs Debian's chromium package`);
  mkdirSync(SHOTS, { recursive: true });
  [harness, browser] = await Promise.all([
    startAgentHarness((body, i) => script(body, i)),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"] }),
  ]);
});

after(async () => {
  if (process.env.SBA_PLAYGROUND_CONSOLE === "1") console.log(consoleLines.join("\n"));
  await browser?.close();
  await harness?.close();
});

const url = (p) => `${harness.bundle.url}${p}`;
const asTenant = (tenant) => ({ authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}` });

/** A fresh browser context on the playground, signed in as `tenant`. */
async function openPlayground(tenant, name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Violations also reach the page as events, whatever the console says.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  page.on("console", (msg) => {
    const text = `[${name}] ${msg.type()}: ${msg.text()}`;
    consoleLines.push(text);
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(msg.text())) problems.push(text);
  });
  page.on("pageerror", (error) => problems.push(`[${name}] pageerror: ${error.message}`));
  const res = await page.goto(url("/"));
  assert.equal(res.status(), 200);
  assert.equal(res.headers()["content-security-policy"], PAGE_CSP);
  await page.fill("#tenant", tenant);
  await page.press("#tenant", "Enter");
  await waitText(page, "#tenant-status", new RegExp(`signed in as tenant ${tenant}\\b`));
  return page;
}

async function waitText(page, selector, pattern, timeout = 15_000) {
  try {
    await page.waitForFunction(
      ([s, source, flags]) => new RegExp(source, flags).test(document.querySelector(s)?.textContent ?? ""),
      [selector, pattern.source, pattern.flags],
      { timeout },
    );
  } catch (e) {
    const seen = await page.textContent(selector).catch(() => "(none)");
    throw new Error(`${selector} never matched ${pattern}; it says ${JSON.stringify(seen)}\n${consoleLines.slice(-15).join("\n")}`, { cause: e });
  }
}

async function assertNoViolations(page, name) {
  const inPage = await page.evaluate(() => window.__cspViolations);
  assert.deepEqual(inPage, [], `CSP violations on ${name}`);
  assert.deepEqual(problems, [], `console/page errors:\n${problems.join("\n")}`);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const assistantText = (page) => page.$$eval("#transcript li.assistant .text", (els) => els.map((e) => e.textContent));

describe("the playground in Chromium", () => {
  test("a run end to end: text streams in, the searchKb call and its result show, RUN_FINISHED, RateLimit headers", async () => {
    const tenant = uid("pg-run");
    const seeded = await fetch(url("/kb/documents"), {
      method: "POST",
      headers: { ...asTenant(tenant), "content-type": "application/json" },
      body: JSON.stringify({ title: "Refund policy", content: "Refunds are issued within five business days.", contentType: "text" }),
    });
    assert.equal(seeded.status, 201);
    const answer = "Refunds are issued within five business days, says the knowledge base.";
    script = (body) =>
      body.messages.some((m) => m.role === "tool")
        ? say(answer, { pieces: 8, delayMs: 150 })
        : { chunks: toolCallChunks([{ id: "call_kb_1", name: "searchKb", arguments: { query: "refund" } }]) };
    const page = await openPlayground(tenant, "run");
    await page.fill("#prompt", "How long do refunds take?");
    await page.press("#prompt", "Enter");

    // Shown as they happen: the tool call with its result, then text while still streaming.
    await page.waitForSelector('#transcript li.tool[data-tool="searchKb"] .result:not(:empty)');
    await page.waitForSelector("#transcript li.assistant.streaming .text:not(:empty)");
    const partial = (await assistantText(page))[0];
    assert.ok(partial.length < answer.length && answer.startsWith(partial), `a prefix while streaming, got ${JSON.stringify(partial)}`);
    await waitText(page, "#run-status", /^finished run-/);

    assert.deepEqual(await assistantText(page), [answer]);
    const tool = page.locator('#transcript li.tool[data-tool="searchKb"]');
    assert.match(await tool.locator(".args").textContent(), /"query":\s*"refund"/);
    assert.match(await tool.locator(".result").textContent(), /Refund policy/);
    assert.equal(await page.textContent("#transcript li.user .text"), "How long do refunds take?");
    assert.equal(await page.textContent("#rl-limit"), "20", "the free plan's runs a minute");
    assert.equal(await page.textContent("#rl-remaining"), "19");
    assert.equal(await page.evaluate(() => JSON.parse(sessionStorage.getItem("sba-playground")).run), null, "no run left to resume");
    // Keyboard: focus stays usable, Enter in the box sent the message (no click above).
    assert.equal(await page.evaluate(() => document.activeElement?.id), "prompt");
    await assertNoViolations(page, "run");
    await page.context().close();
  });

  test("a run that fails shows RUN_ERROR with its code", async () => {
    script = () => ({ status: 500, body: '{"error":{"message":"the model is down"}}' });
    const page = await openPlayground(uid("pg-error"), "run-error");
    await page.fill("#prompt", "Anyone there?");
    await page.press("#prompt", "Enter");
    await waitText(page, "#run-status", /^RUN_ERROR llm_/);
    const error = page.locator("#transcript li.run-error");
    assert.match(await error.getAttribute("data-code"), /^llm_[a-z_]+$/);
    assert.match(await error.textContent(), /^RUN_ERRORllm_[a-z_]+: /);
    assert.equal(await page.evaluate(() => JSON.parse(sessionStorage.getItem("sba-playground")).run), null);
    assert.ok(await page.isEnabled("#send"), "the next message can go");
    await assertNoViolations(page, "run-error");
    await page.context().close();
  });

  test("reload in the middle of a run: it resumes after Last-Event-ID, the text arrives exactly once", async () => {
    const tenant = uid("pg-resume");
    const answer = Array.from({ length: 24 }, (_, i) => `word${i + 1}`).join(" ") + ".";
    script = () => say(answer, { pieces: 24, delayMs: 120 });
    const page = await openPlayground(tenant, "resume");
    const llmRequestsBefore = harness.llm.requests.length;
    await page.fill("#prompt", "Count for me, slowly.");
    await page.press("#prompt", "Enter");
    await page.waitForFunction(() => (document.querySelector("#transcript li.assistant .text")?.textContent ?? "").split(" ").length >= 4);
    const before = await page.evaluate(() => JSON.parse(sessionStorage.getItem("sba-playground")).run);
    assert.match(before.lastEventId, new RegExp(`^${before.runId}:\\d+$`));

    await page.screenshot({ path: path.join(SHOTS, "resume-before-reload.png"), fullPage: true });
    const resumeRequests = [];
    page.on("request", (req) => {
      if (req.url().includes("/runs/")) resumeRequests.push({ url: req.url(), lastEventId: req.headers()["last-event-id"] });
    });
    await page.reload();
    await waitText(page, "#run-status", /^finished run-/, 20_000);

    assert.deepEqual(await assistantText(page), [answer], "the whole answer, once, in one bubble");
    assert.equal(resumeRequests.length, 1, JSON.stringify(resumeRequests));
    assert.equal(new URL(resumeRequests[0].url).pathname, `/ratelimited-agent/runs/${before.runId}/events`);
    const [runId, seq] = resumeRequests[0].lastEventId.split(":");
    assert.equal(runId, before.runId);
    assert.ok(Number(seq) >= Number(before.lastEventId.split(":")[1]), "resumed after what the page had rendered");
    assert.equal(harness.llm.requests.length - llmRequestsBefore, 1, "the run went on in the background; nothing ran twice");
    assert.equal(await page.locator("#transcript li.user").count(), 1);
    await assertNoViolations(page, "resume");
    await page.context().close();
  });

  test("knowledge base: upload a Markdown file, see its chunks, search with <mark> highlights, delete", async () => {
    const tenant = uid("pg-kb");
    const page = await openPlayground(tenant, "kb");
    const dir = path.join(ROOT, "target/playground/fixtures");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `returns-${tenant}.md`);
    writeFileSync(
      file,
      "# Returns\n\nRefunds are issued within five business days. <img src=x onerror=alert(1)> stays text.\n\n## Exchanges\n\nExchanges are free for thirty days.\n",
    );
    await page.setInputFiles("#kb-file", file);
    await page.click("#upload");
    await waitText(page, "#kb-status", /created, \d+ chunks?/);
    assert.match(await page.textContent("#documents li"), new RegExp(`returns-${tenant} — \\d+ chunks?, markdown, v1`));

    await page.click("#documents li button.view");
    await waitText(page, "#document-content", /Refunds are issued within five business days/);
    assert.match(await page.textContent("#document-facts"), /^markdown · \d+ chunks? · version 1/);
    const chunkCount = Number((await page.textContent("#document-facts")).match(/(\d+) chunks?/)[1]);
    assert.equal(await page.locator("#document-chunks li").count(), chunkCount, "one item per chunk");
    assert.match(await page.textContent("#document-chunks li:first-child .where"), /^chunk 0 · Returns/);
    assert.match(await page.textContent("#document-chunks"), /Exchanges are free for thirty days/);
    assert.equal(await page.locator("#document-chunks img").count(), 0, "chunk text stays text");

    await page.fill("#search-q", "refunds");
    await page.press("#search-q", "Enter");
    await page.waitForSelector("#hits li mark");
    const marks = await page.$$eval("#hits mark", (els) => els.map((e) => e.textContent));
    assert.ok(marks.length >= 1 && marks.every((m) => /^refund/i.test(m)), JSON.stringify(marks));
    assert.equal(await page.locator("#hits img, #hits b, #hits script").count(), 0, "stored content never becomes markup");
    assert.ok(!(await page.textContent("#hits")).includes("**"), "every ** pair became a <mark>");
    await page.screenshot({ path: path.join(SHOTS, "kb-search.png"), fullPage: true });

    await page.click("#documents li button.delete");
    await page.waitForFunction(() => document.querySelectorAll("#documents li").length === 0);
    await page.press("#search-q", "Enter");
    await waitText(page, "#kb-status", /^0 hits/);
    await assertNoViolations(page, "kb");
    await page.context().close();
  });

  test("429: the Retry-After counts down; a signed Stripe checkout to pro raises the limit on the next run", async () => {
    const tenant = uid("pg-429");
    script = () => say("ok");
    // Use up the free plan's 20 runs a minute for this tenant (one window for them and the
    // 21st: across a minute boundary the sliding window may rightly admit it).
    await awayFromMinuteEdge(20_000);
    const runs = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await fetch(url("/ratelimited-agent/run"), {
          method: "POST",
          headers: { ...asTenant(tenant), "content-type": "application/json" },
          body: JSON.stringify({ threadId: uid("th"), runId: uid(`run${i}`), messages: [{ id: "m", role: "user", content: "Hi" }], tools: [], context: [] }),
        });
        await res.text();
        return res.status;
      }),
    );
    assert.deepEqual(runs, Array(20).fill(200));
    const page = await openPlayground(tenant, "ratelimit");
    await page.fill("#prompt", "One more?");
    await page.press("#prompt", "Enter");
    await page.waitForSelector('#transcript li.run-error[data-code="rate_limited"]');
    assert.match(await page.textContent('#transcript li.run-error[data-code="rate_limited"]'), /HTTP 429/);
    assert.equal(await page.textContent("#rl-remaining"), "0");
    await waitText(page, "#rl-retry", /^\d+ s$/);
    const first = Number((await page.textContent("#rl-retry")).split(" ")[0]);
    assert.ok(first >= 1 && first <= 60, `Retry-After ${first}`);
    assert.ok(await page.isDisabled("#send"), "sending waits for the countdown");
    await page.screenshot({ path: path.join(SHOTS, "ratelimit-429.png"), fullPage: true });
    if (first > 1) {
      await page.waitForFunction((n) => Number(document.querySelector("#rl-retry").textContent.split(" ")[0]) < n, first, { timeout: 3_000 });
    }

    // Billing: the dev router signs checkout.session.completed + customer.subscription.created.
    await page.selectOption("#plan", "pro");
    await page.click("#send-plan");
    await waitText(page, "#plan-status", /plan: pro \(applied\)/);
    assert.deepEqual(await page.$$eval("#deliveries li", (els) => els.map((e) => e.textContent)), [
      "checkout.session.completed → 200 applied",
      "customer.subscription.created → 200 applied",
    ]);
    assert.equal(await page.textContent("#rl-retry"), "–", "the old Retry-After no longer applies");
    // The isolate trusts the plan it remembers for a blocked tenant for PLAN_TRUST_MS (1 s).
    await new Promise((r) => setTimeout(r, 1_100));
    await page.fill("#prompt", "And now?");
    await page.press("#prompt", "Enter");
    await waitText(page, "#run-status", /^finished run-/);
    assert.equal(await page.textContent("#rl-limit"), "120", "the pro plan's runs a minute");
    const { rows } = await harness.db.query("select plan from tenant_plans where tenant_id = $1", [tenant]);
    assert.deepEqual(rows, [{ plan: "pro" }]);
    await assertNoViolations(page, "billing");
    await page.context().close();
  });
});

test("the router serves the page under its CSP, and its dev tools only with SBA_DEV_TOOLS=1", async () => {
  await ensurePlayground();
  const mf = new Miniflare({ host: "127.0.0.1", port: 0, ...routerWorker({ SBA_DEV_TOOLS: "" }) });
  try {
    const origin = await mf.ready;
    const page = await fetch(new URL("/", origin));
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(page.headers.get("content-security-policy"), PAGE_CSP);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    const html = await page.text();
    assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=/i.test(html), "no inline script, style or handler");
    assert.equal((await fetch(new URL("/app.js", origin))).headers.get("content-type"), "text/javascript; charset=utf-8");
    for (const [p, init] of [["/dev/token?tenant=acme", {}], ["/dev/stripe-event", { method: "POST", body: '{"tenant":"acme","plan":"pro"}' }]]) {
      const res = await fetch(new URL(p, origin), init);
      assert.equal(res.status, 404, p);
      assert.equal((await res.json()).error.code, "not_found");
    }
  } finally {
    await mf.dispose();
  }
  // With the tools on (the harness's bundle), a token is a real tenant token.
  const minted = await (await fetch(url("/dev/token?tenant=pg-token"))).json();
  const search = await fetch(url("/kb/search?q=anything"), { headers: { authorization: `Bearer ${minted.token}` } });
  assert.equal(search.status, 200);
  assert.equal((await fetch(url("/dev/token?tenant=not%20a%20tenant"))).status, 422);
  const notJson = await fetch(url("/dev/stripe-event"), { method: "POST", body: '{"tenant":"acme","plan":"pro"}' });
  assert.equal(notJson.status, 415, "JSON only: no cross-site form can post it");
  const badPlan = await fetch(url("/dev/stripe-event"), { method: "POST", headers: { "content-type": "application/json" }, body: '{"tenant":"acme","plan":"Pro!"}' });
  assert.equal(badPlan.status, 422);
});
