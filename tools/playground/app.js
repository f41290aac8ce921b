// The playground's script, bundled with @ag-ui/client into ONE file by build.mjs. It talks only
// to its own origin (the dev router): a tenant token from GET /dev/token, runs through the
// AG-UI client, the knowledge base, and signed test Stripe events from POST /dev/stripe-event.
//
// Stored content is never parsed as markup: every string from the API reaches the page as
// textContent (search headlines are split on their `**` marks into text and <mark> nodes).
//
// Resume: the page keeps the conversation, the running run's id and the id of the last event
// it rendered in sessionStorage, updated with every event. After a reload it asks
// GET <mount>/runs/{runId}/events with Last-Event-ID and renders only what follows.

import "./jitless.js"; // first: before any zod schema parses (see the file)
import { HttpAgent, runHttpRequest, transformHttpEventStream } from "@ag-ui/client";

const STORE_KEY = "sba-playground";
const TENANT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const CONTENT_TYPES = { md: "markdown", markdown: "markdown", html: "html", htm: "html", txt: "text", text: "text" };
const MAX_RESUMES = 3;

const $ = (id) => document.getElementById(id);
const randomHex = (bytes) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
const newId = (prefix) => `${prefix}-${randomHex(8)}`;

// ---------------------------------------------------------------- state (sessionStorage)

function freshState(tenant) {
  return { tenant, threadId: newId("thread"), items: [], run: null, documents: [], plan: null, rateLimit: null, retryUntil: 0 };
}

function load() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? "null");
    if (saved && typeof saved.tenant === "string" && Array.isArray(saved.items)) return { ...freshState(saved.tenant), ...saved };
  } catch {
    // a broken entry: start over
  }
  return freshState(`demo-${randomHex(3)}`);
}

let state = load();
let unloading = false;
addEventListener("pagehide", () => {
  unloading = true;
});

function persist() {
  sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
}

// ---------------------------------------------------------------- token

let token = null;
let tokenExpiresAt = 0;

function setStatus(id, text, tone = "muted") {
  const el = $(id);
  el.textContent = text;
  el.className = tone;
}

async function ensureToken() {
  if (token && tokenExpiresAt - Date.now() / 1000 > 60) return token;
  const res = await fetch(`/dev/token?tenant=${encodeURIComponent(state.tenant)}`);
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = apiError(res, body);
    setStatus("tenant-status", `no token: ${err.message}`, "error");
    throw err;
  }
  token = body.token;
  tokenExpiresAt = body.expiresAt;
  setStatus("tenant-status", `signed in as tenant ${state.tenant} (token valid until ${new Date(body.expiresAt * 1000).toLocaleTimeString()})`, "ok");
  return token;
}

function apiError(res, body) {
  const code = body?.error?.code ?? `http_${res.status}`;
  const message = body?.error?.message ?? res.statusText ?? "request failed";
  const err = new Error(`${res.status} ${code}: ${message}`);
  err.status = res.status;
  err.code = code;
  return err;
}

/** A JSON call as the tenant. */
async function api(path, init = {}) {
  await ensureToken();
  const headers = { authorization: `Bearer ${token}`, ...(init.body ? { "content-type": "application/json" } : {}), ...init.headers };
  const res = await fetch(path, { ...init, headers });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw apiError(res, body);
  return body;
}

// ---------------------------------------------------------------- transcript

const nodes = new Map(); // item id → <li>

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function renderItem(item) {
  let li = nodes.get(item.id);
  if (!li) {
    li = el("li");
    li.dataset.kind = item.kind;
    nodes.set(item.id, li);
    $("transcript").append(li);
  }
  switch (item.kind) {
    case "user":
      li.className = "user";
      li.replaceChildren(el("span", { class: "who", text: "you" }), el("span", { class: "text", text: item.text }));
      break;
    case "assistant":
      li.className = item.done ? "assistant" : "assistant streaming";
      if (!li.firstChild) li.append(el("span", { class: "who", text: "assistant" }), el("span", { class: "text" }));
      li.querySelector(".text").textContent = item.text;
      break;
    case "tool": {
      li.className = "tool";
      li.dataset.tool = item.name;
      const result = item.result === null ? (item.done ? "running…" : "") : prettyJson(item.result);
      li.replaceChildren(
        el("span", { class: "who", text: `tool call · ${item.name}${item.result === null ? "" : " · result"}` }),
        el("pre", { class: "args", text: `args: ${item.args}` }),
        el("pre", { class: "result", text: item.result === null ? result : `result: ${result}` }),
      );
      break;
    }
    case "error":
      li.className = "run-error";
      li.dataset.code = item.code;
      li.replaceChildren(el("span", { class: "who", text: item.title ?? "RUN_ERROR" }), el("span", { class: "text", text: `${item.code}: ${item.message}` }));
      break;
    default:
      li.className = "notice";
      li.replaceChildren(el("span", { class: "text", text: item.text }));
  }
  li.scrollIntoView?.({ block: "nearest" });
}

function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function renderTranscript() {
  nodes.clear();
  $("transcript").replaceChildren();
  state.items.forEach(renderItem);
}

function addItem(item) {
  state.items.push(item);
  renderItem(item);
  return item;
}

const findItem = (id) => state.items.find((i) => i.id === id);

/** The conversation so far as AG-UI messages: user turns and finished assistant answers. */
function history() {
  return state.items.flatMap((i) =>
    i.kind === "user" ? [{ id: i.id, role: "user", content: i.text }] : i.kind === "assistant" && i.done && i.text ? [{ id: i.id, role: "assistant", content: i.text }] : [],
  );
}

// ---------------------------------------------------------------- rate limit, Retry-After

function showRateLimit(headers) {
  const limit = headers.get("x-ratelimit-limit");
  if (limit === null) return;
  state.rateLimit = { limit, remaining: headers.get("x-ratelimit-remaining"), reset: headers.get("x-ratelimit-reset") };
  renderRateLimit();
}

function renderRateLimit() {
  const rl = state.rateLimit;
  $("rl-limit").textContent = rl?.limit ?? "–";
  $("rl-remaining").textContent = rl?.remaining ?? "–";
  $("rl-reset").textContent = rl?.reset ? `${rl.reset} s` : "–";
}

let countdown = null;

function startRetryCountdown(seconds) {
  state.retryUntil = Date.now() + Math.max(1, seconds) * 1000;
  persist();
  tickRetry();
}

function stopRetryCountdown() {
  state.retryUntil = 0;
  tickRetry();
}

function tickRetry() {
  clearTimeout(countdown);
  const left = Math.ceil((state.retryUntil - Date.now()) / 1000);
  const out = $("rl-retry");
  if (left > 0) {
    out.textContent = `${left} s`;
    out.className = "counting";
    countdown = setTimeout(tickRetry, 250);
  } else {
    out.textContent = "–";
    out.className = "";
  }
  updateControls();
}

// ---------------------------------------------------------------- runs

let activeAgent = null;

/** HttpAgent that can also resume a run: `connect` reads the run's events after Last-Event-ID. */
class PlaygroundAgent extends HttpAgent {
  constructor(config, resume) {
    super(config);
    this.resume = resume;
  }

  connect() {
    const { url, lastEventId, prefix } = this.resume;
    const headers = { ...this.headers, Accept: "text/event-stream" };
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    const signal = this.abortController.signal;
    return transformHttpEventStream(
      runHttpRequest(async () => withPrefix(await this.fetch(url, { headers, signal }), prefix)),
      this.debugLogger,
    );
  }
}

/**
 * The events a resumed stream continues from, which the client's checks need to have seen
 * (RUN_STARTED, the steps, text messages and tool calls still open): rendered already, so
 * the page skips them.
 */
function withPrefix(res, prefix) {
  if (!res.ok || !res.body || prefix.length === 0) return res;
  const head = new TextEncoder().encode(prefix.map((e) => `data: ${JSON.stringify(e)}\n\n`).join(""));
  const { readable, writable } = new TransformStream();
  const writer = writable.getWriter();
  writer
    .write(head)
    .then(() => {
      writer.releaseLock();
      return res.body.pipeTo(writable);
    })
    .catch(() => {});
  return new Response(readable, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/**
 * A fetch for the AG-UI client that shows the RateLimit headers of the run request and notes
 * the `id:` of every SSE frame (the client's parser reads only `data:`), in order, so each
 * event the client delivers can be matched to its id.
 */
function trackingFetch(tracker) {
  return async (url, init) => {
    const res = await fetch(url, init);
    tracker.response = res;
    showRateLimit(res.headers);
    if (!res.ok || !res.body) return res;
    const decoder = new TextDecoder();
    let buffer = "";
    const frames = new TransformStream({
      transform(chunk, controller) {
        buffer += decoder.decode(chunk, { stream: true });
        buffer = buffer.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id = null;
          const data = [];
          for (const line of frame.split("\n")) {
            if (line.startsWith("id:")) id = line.slice(3).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (data.length === 0) continue; // `: ping` and other comments
          try {
            tracker.frames.push({ id, type: JSON.parse(data.join("\n")).type });
          } catch {
            tracker.frames.push({ id, type: null });
          }
        }
        controller.enqueue(chunk);
      },
    });
    return new Response(res.body.pipeThrough(frames), { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

function makeAgent(route, messages, resume = null) {
  const tracker = { frames: [], synthetic: resume?.prefix.length ?? 0, response: null, terminal: false };
  const agent = new PlaygroundAgent(
    { url: route, headers: { authorization: `Bearer ${token}` }, threadId: state.threadId, initialMessages: messages, fetch: trackingFetch(tracker) },
    resume,
  );
  return { agent, tracker };
}

function onEvent(event, tracker) {
  if (tracker.synthetic > 0) {
    tracker.synthetic -= 1;
    return;
  }
  const frames = tracker.frames;
  while (frames.length && frames[0].type !== event.type) frames.shift();
  const frame = frames.shift();
  const run = state.run;
  if (!run) return;
  switch (event.type) {
    case "RUN_STARTED":
      setStatus("run-status", `running ${run.runId}`);
      break;
    case "STEP_STARTED":
      run.open.steps.push(event.stepName);
      setStatus("run-status", `running ${run.runId} · ${event.stepName}`);
      break;
    case "STEP_FINISHED":
      run.open.steps = run.open.steps.filter((s) => s !== event.stepName);
      break;
    case "TEXT_MESSAGE_START":
      run.open.messages.push(event.messageId);
      if (!findItem(event.messageId)) addItem({ kind: "assistant", id: event.messageId, text: "", done: false });
      break;
    case "TEXT_MESSAGE_CONTENT": {
      const item = findItem(event.messageId);
      if (item) {
        item.text += event.delta;
        renderItem(item);
      }
      break;
    }
    case "TEXT_MESSAGE_END": {
      run.open.messages = run.open.messages.filter((m) => m !== event.messageId);
      const item = findItem(event.messageId);
      if (item) {
        item.done = true;
        renderItem(item);
      }
      break;
    }
    case "TOOL_CALL_START":
      run.open.tools.push({ id: event.toolCallId, name: event.toolCallName });
      if (!findItem(event.toolCallId)) addItem({ kind: "tool", id: event.toolCallId, name: event.toolCallName, args: "", result: null, done: false });
      break;
    case "TOOL_CALL_ARGS": {
      const item = findItem(event.toolCallId);
      if (item) {
        item.args += event.delta;
        renderItem(item);
      }
      break;
    }
    case "TOOL_CALL_END": {
      run.open.tools = run.open.tools.filter((t) => t.id !== event.toolCallId);
      const item = findItem(event.toolCallId);
      if (item) {
        item.done = true;
        renderItem(item);
      }
      break;
    }
    case "TOOL_CALL_RESULT": {
      const item = findItem(event.toolCallId);
      if (item) {
        item.result = event.content;
        renderItem(item);
      }
      break;
    }
    case "RUN_FINISHED":
      tracker.terminal = true;
      finishRun(`finished ${run.runId}`, "ok");
      break;
    case "RUN_ERROR":
      tracker.terminal = true;
      addItem({ kind: "error", id: newId("err"), title: "RUN_ERROR", code: event.code ?? "run_error", message: event.message });
      finishRun(`RUN_ERROR ${event.code ?? ""}`.trim(), "error");
      break;
    default:
      break;
  }
  if (state.run && frame?.id) state.run.lastEventId = frame.id;
  persist();
}

function finishRun(text, tone) {
  for (const item of state.items) {
    if ((item.kind === "assistant" || item.kind === "tool") && !item.done) {
      item.done = true;
      renderItem(item);
    }
  }
  state.run = null;
  persist();
  setStatus("run-status", text, tone);
}

function onFailure(error, tracker) {
  if (unloading || tracker.terminal) return "done";
  const run = state.run;
  const res = tracker.response;
  if (typeof error?.status === "number") {
    // Refused before any stream: 401/402/422/429/503 with the JSON error shape.
    const code = error.payload?.error?.code ?? `http_${error.status}`;
    const message = error.payload?.error?.message ?? error.message;
    if ((error.status === 429 || error.status === 503) && res) startRetryCountdown(Number(res.headers.get("retry-after") ?? "1"));
    addItem({ kind: "error", id: newId("err"), title: `HTTP ${error.status}`, code, message });
    if (run) state.run = null;
    persist();
    setStatus("run-status", `refused: ${error.status} ${code}`, "error");
    return "done";
  }
  if (error?.name === "AbortError" || stopped) {
    finishRun(run ? `stopped (the server finishes ${run.runId} in the background)` : "stopped", "muted");
    return "done";
  }
  // The stream broke mid-run: pick it up where it stopped.
  if (run && (run.resumes ?? 0) < MAX_RESUMES) {
    run.resumes = (run.resumes ?? 0) + 1;
    persist();
    return "resume";
  }
  addItem({ kind: "error", id: newId("err"), title: "stream failed", code: "stream_failed", message: String(error?.message ?? error) });
  finishRun("stream failed", "error");
  return "done";
}

let stopped = false;

async function drive({ agent, tracker }, start) {
  activeAgent = agent;
  stopped = false;
  updateControls();
  let failure = null;
  const subscriber = {
    onEvent: ({ event }) => {
      onEvent(event, tracker);
    },
    onRunFailed: ({ error }) => {
      failure = error;
      return { stopPropagation: true };
    },
  };
  try {
    await start(subscriber);
  } catch (e) {
    failure ??= e;
  }
  activeAgent = null;
  let next = "done";
  if (failure) next = onFailure(failure, tracker);
  else if (state.run && !tracker.terminal && !unloading) next = onFailure(new Error("the stream ended before the run did"), tracker);
  updateControls();
  if (next === "resume") await resumeRun();
}

async function sendMessage(text) {
  if (state.run || activeAgent) return;
  try {
    await ensureToken();
  } catch {
    return;
  }
  const route = $("route").value;
  const runId = newId("run");
  const messages = [...history()];
  const user = addItem({ kind: "user", id: newId("msg"), text });
  messages.push({ id: user.id, role: "user", content: text });
  state.run = { runId, route, lastEventId: null, open: { steps: [], messages: [], tools: [] }, resumes: 0 };
  persist();
  setStatus("run-status", `starting ${runId}`);
  const made = makeAgent(route, messages);
  await drive(made, (subscriber) => made.agent.runAgent({ runId }, subscriber));
}

async function resumeRun() {
  const run = state.run;
  if (!run || activeAgent) return;
  try {
    await ensureToken();
  } catch {
    return;
  }
  const url = run.route.replace(/\/run$/, `/runs/${encodeURIComponent(run.runId)}/events`);
  const prefix = run.lastEventId
    ? [
        { type: "RUN_STARTED", threadId: state.threadId, runId: run.runId },
        ...run.open.steps.map((stepName) => ({ type: "STEP_STARTED", stepName })),
        ...run.open.messages.map((messageId) => ({ type: "TEXT_MESSAGE_START", messageId, role: "assistant" })),
        ...run.open.tools.map((t) => ({ type: "TOOL_CALL_START", toolCallId: t.id, toolCallName: t.name })),
      ]
    : [];
  setStatus("run-status", `resuming ${run.runId}${run.lastEventId ? ` after ${run.lastEventId}` : ""}`);
  const made = makeAgent(run.route, history(), { url, lastEventId: run.lastEventId, prefix });
  await drive(made, (subscriber) => made.agent.connectAgent({ runId: run.runId }, subscriber));
}

function updateControls() {
  const busy = Boolean(activeAgent || state.run);
  const waiting = state.retryUntil > Date.now();
  $("send").disabled = busy || waiting;
  $("stop").disabled = !activeAgent;
  $("route").disabled = busy;
  $("clear").disabled = busy;
}

// ---------------------------------------------------------------- knowledge base

function contentTypeOf(name) {
  const ext = name.includes(".") ? name.split(".").pop().toLowerCase() : "";
  return CONTENT_TYPES[ext] ?? null;
}

function renderDocuments() {
  const list = $("documents");
  list.replaceChildren(
    ...state.documents.map((doc) => {
      const view = el("button", { type: "button", class: "view", "aria-label": `View ${doc.title}`, text: "View" });
      view.addEventListener("click", () => viewDocument(doc.id).catch((e) => setStatus("kb-status", e.message, "error")));
      const del = el("button", { type: "button", class: "delete", "aria-label": `Delete ${doc.title}`, text: "Delete" });
      del.addEventListener("click", () => deleteDocument(doc.id).catch((e) => setStatus("kb-status", e.message, "error")));
      const li = el("li", {}, el("strong", { text: doc.title }), ` — ${doc.chunks} chunk${doc.chunks === 1 ? "" : "s"}, ${doc.contentType}, v${doc.version} `, view, del);
      li.dataset.id = doc.id;
      return li;
    }),
  );
}

async function upload(file) {
  const contentType = contentTypeOf(file.name);
  if (!contentType) throw new Error(`${file.name}: only .md, .markdown, .html, .htm and .txt files`);
  const content = await file.text();
  const title = file.name.replace(/\.[^.]+$/, "") || file.name;
  setStatus("kb-status", `uploading ${file.name}…`);
  const doc = await api("/kb/documents", {
    method: "POST",
    headers: { "idempotency-key": newId("upload") },
    body: JSON.stringify({ title, content, contentType, tags: ["playground"], metadata: { filename: file.name } }),
  });
  state.documents = [
    { id: doc.id, title, chunks: doc.chunks, version: doc.version, contentType },
    ...state.documents.filter((d) => d.id !== doc.id),
  ];
  persist();
  renderDocuments();
  setStatus("kb-status", `${file.name}: ${doc.change}${doc.deduplicated ? " (already stored)" : ""}, ${doc.chunks} chunk${doc.chunks === 1 ? "" : "s"}`, "ok");
}

async function viewDocument(id) {
  const [doc, chunked] = await Promise.all([
    api(`/kb/documents/${encodeURIComponent(id)}`),
    api(`/kb/documents/${encodeURIComponent(id)}/chunks`),
  ]);
  $("document-title").textContent = doc.title;
  $("document-facts").textContent = `${doc.contentType} · ${doc.chunks} chunk${doc.chunks === 1 ? "" : "s"} · version ${doc.version} · sha256 ${doc.contentSha256.slice(0, 12)}… · the text as stored (what was chunked)`;
  $("document-content").textContent = doc.content;
  $("document-chunks").replaceChildren(
    ...chunked.chunks.map((c) => {
      const where = [`chunk ${c.ordinal}`, ...(c.headingPath.length ? [c.headingPath.join(" › ")] : []), `characters ${c.startOffset}–${c.endOffset}`].join(" · ");
      return el("li", {}, el("div", { class: "where", text: where }), el("pre", { text: c.content }));
    }),
  );
  $("document-view").hidden = false;
  const known = state.documents.find((d) => d.id === id);
  if (known) {
    known.chunks = doc.chunks;
    known.version = doc.version;
    persist();
    renderDocuments();
  }
}

async function deleteDocument(id) {
  try {
    await api(`/kb/documents/${encodeURIComponent(id)}`, { method: "DELETE" });
  } catch (e) {
    if (e.status !== 404) throw e;
  }
  state.documents = state.documents.filter((d) => d.id !== id);
  persist();
  renderDocuments();
  for (const hit of [...$("hits").children]) if (hit.dataset.documentId === id) hit.remove();
  if (!$("document-view").hidden) $("document-view").hidden = true;
  setStatus("kb-status", "deleted", "ok");
}

/** `**match**` marks as <mark> nodes, everything else as text: never markup from the store. */
function headlineNodes(headline) {
  return headline.split("**").map((part, i) => (i % 2 === 1 ? el("mark", { text: part }) : document.createTextNode(part)));
}

async function search(q) {
  const { hits } = await api(`/kb/search?q=${encodeURIComponent(q)}&limit=10`);
  $("hits").replaceChildren(
    ...hits.map((hit) => {
      const where = [`chunk ${hit.chunk}`, ...(hit.headingPath.length ? [hit.headingPath.join(" › ")] : []), `rank ${hit.rank.toFixed(3)}`].join(" · ");
      const li = el("li", {}, el("strong", { text: hit.title }), " ", el("span", { class: "where", text: where }), el("p", { class: "headline" }, ...headlineNodes(hit.headline)));
      li.dataset.documentId = hit.documentId;
      return li;
    }),
  );
  setStatus("kb-status", `${hits.length} hit${hits.length === 1 ? "" : "s"} for “${q}”`, hits.length ? "ok" : "muted");
}

// ---------------------------------------------------------------- billing

function renderPlan() {
  const plan = state.plan;
  if (!plan) return;
  setStatus("plan-status", `The tenant's plan: ${plan.plan} (${plan.applied ? "applied" : "not applied"}). The next run's Limit above shows its runs a minute.`, plan.applied ? "ok" : "error");
  $("deliveries").replaceChildren(
    ...plan.deliveries.map((d) => el("li", { text: `${d.type} → ${d.status} ${typeof d.body === "object" && d.body ? d.body.outcome ?? d.body.error?.code ?? "" : ""}` })),
  );
}

async function sendPlan(plan) {
  setStatus("plan-status", `sending signed events for ${plan}…`);
  const res = await fetch("/dev/stripe-event", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ tenant: state.tenant, plan }) });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = apiError(res, body);
    state.plan = { plan, applied: false, deliveries: body?.error?.details?.deliveries ?? [] };
    renderPlan();
    setStatus("plan-status", err.message, "error");
    return;
  }
  state.plan = { plan: body.plan, applied: body.applied, deliveries: body.deliveries };
  // A new plan has new limits: the old Retry-After no longer says when a run is admitted.
  if (body.applied) stopRetryCountdown();
  persist();
  renderPlan();
}

// ---------------------------------------------------------------- wiring

function switchTenant(tenant) {
  if (tenant === state.tenant) return;
  activeAgent?.abortRun();
  state = freshState(tenant);
  token = null;
  persist();
  renderAll();
}

function renderAll() {
  $("tenant").value = state.tenant;
  renderTranscript();
  renderRateLimit();
  renderDocuments();
  $("hits").replaceChildren();
  $("document-view").hidden = true;
  $("deliveries").replaceChildren();
  setStatus("plan-status", "The tenant's plan: not changed here yet (a tenant without a subscription is on free).");
  renderPlan();
  tickRetry();
  setStatus("run-status", "idle");
}

function guard(statusId, fn) {
  return (event) => {
    event.preventDefault();
    Promise.resolve()
      .then(fn)
      .catch((e) => setStatus(statusId, e.message ?? String(e), "error"));
  };
}

$("tenant-form").addEventListener(
  "submit",
  guard("tenant-status", async () => {
    const tenant = $("tenant").value.trim();
    if (!TENANT_ID.test(tenant)) throw new Error("a tenant id is 1 to 128 letters, digits, _ or -");
    switchTenant(tenant);
    await ensureToken();
  }),
);

$("chat-form").addEventListener(
  "submit",
  guard("run-status", async () => {
    const text = $("prompt").value.trim();
    if (!text || $("send").disabled) return;
    $("prompt").value = "";
    await sendMessage(text);
  }),
);

$("stop").addEventListener("click", () => {
  stopped = true;
  activeAgent?.abortRun();
});

$("clear").addEventListener("click", () => {
  if (state.run) return;
  state.items = [];
  state.threadId = newId("thread");
  persist();
  renderTranscript();
  setStatus("run-status", "new thread");
});

$("upload-form").addEventListener(
  "submit",
  guard("kb-status", async () => {
    const file = $("kb-file").files[0];
    if (!file) throw new Error("choose a file first");
    await upload(file);
    $("kb-file").value = "";
  }),
);

$("search-form").addEventListener(
  "submit",
  guard("kb-status", async () => {
    const q = $("search-q").value.trim();
    if (q) await search(q);
  }),
);

$("plan-form").addEventListener(
  "submit",
  guard("plan-status", () => sendPlan($("plan").value)),
);

renderAll();
ensureToken()
  .then(() => {
    if (state.run) return resumeRun();
    return undefined;
  })
  .catch(() => {});
