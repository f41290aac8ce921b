// A scripted OpenAI-compatible chat-completions server speaking the real streaming wire
// format (`data: {chunk}\n\n` … `data: [DONE]\n\n`), for deterministic tests of the LLM
// adapter and the agent. `script(body, requestIndex)` decides each answer:
//   { chunks: [chunk | {comment} | {delayMs} | {raw}], status? }  a 200 (or `status`) SSE stream
//   { status: 500, body: "..." }                                  a plain error answer
//   { hang: true }                                                accept, never answer
//   { error: { message } }                                        an error chunk as the only frame
// A chunk object `{ error: {...} }` inside `chunks` is an error mid-stream.
// The Anthropic Messages dialect (served on whatever path was asked, normally /v1/messages):
//   { anthropic: [event | {comment} | {delayMs} | {raw}], status? }  named SSE events, each
//       `{ event, data }` or a bare payload object whose `type` names the event
// `paths[i]` is the request path of `requests[i]`, `headers[i]` its headers.
import http from "node:http";

export async function startLlmDouble(script) {
  let current = script;
  const requests = [];
  const paths = [];
  const headers = [];
  const sockets = new Set();
  const state = { aborted: 0 };

  const server = http.createServer(async (req, res) => {
    let text = "";
    for await (const piece of req) text += piece;
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    const index = requests.length;
    requests.push(body);
    paths.push(req.url);
    headers.push(req.headers);
    let finished = false;
    res.on("close", () => {
      if (!finished) state.aborted += 1;
    });

    let answer;
    try {
      answer = await current(body, index);
    } catch (e) {
      answer = { status: 500, body: `script failed: ${e?.message ?? e}` };
    }
    answer ??= { status: 500, body: "script returned nothing" };

    if (answer.hang) return; // counted as aborted when the client gives up
    if (Array.isArray(answer.anthropic)) {
      // Anthropic Messages: named events (`event: <type>`), no [DONE].
      if (!(await stream(res, answer, answer.anthropic, anthropicFrame))) return;
      finished = true;
      res.end();
      return;
    }
    if (answer.chunks === undefined && answer.error === undefined) {
      res.writeHead(answer.status ?? 500, { "content-type": answer.contentType ?? "application/json" });
      finished = true;
      res.end(answer.body ?? "");
      return;
    }
    // OpenAI-compatible: unnamed `data:` chunks, then [DONE] unless told otherwise.
    if (!(await stream(res, answer, answer.chunks ?? [{ error: answer.error }], (item) => `data: ${JSON.stringify(item)}\n\n`))) return;
    if (answer.done !== false && answer.error === undefined) res.write("data: [DONE]\n\n");
    finished = true;
    res.end();
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    paths,
    headers,
    get aborted() {
      return state.aborted;
    },
    setScript(fn) {
      current = fn;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Writes an SSE answer item by item: `{delayMs}` pauses, `{comment}` writes a comment line,
 * `{raw}` writes bytes as given, anything else goes through `frame`. False when the client
 * went away midway (nothing more is written).
 */
async function stream(res, answer, items, frame) {
  res.writeHead(answer.status ?? 200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  res.flushHeaders();
  for (const item of items) {
    if (res.destroyed) return false;
    const only = (key, type) => item && typeof item[key] === type && Object.keys(item).length === 1;
    if (only("delayMs", "number")) await new Promise((r) => setTimeout(r, item.delayMs));
    else if (only("comment", "string")) res.write(`: ${item.comment}\n\n`);
    else if (only("raw", "string")) res.write(item.raw);
    else res.write(frame(item));
  }
  return !res.destroyed;
}

function anthropicFrame(item) {
  const named = item && typeof item.event === "string" && "data" in item;
  const event = named ? item.event : item?.type ?? "message";
  const data = named ? item.data : item;
  return `event: ${event}\ndata: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
}

let counter = 0;
function envelope(model, choices, extra = {}) {
  return {
    id: `chatcmpl-double-${++counter}`,
    object: "chat.completion.chunk",
    created: 1700000000,
    model,
    system_fingerprint: null,
    choices,
    usage: null,
    ...extra,
  };
}

function choice(delta, finishReason = null) {
  return { index: 0, delta, logprobs: null, finish_reason: finishReason };
}

function split(text, pieces) {
  const chars = Array.from(text); // never split inside a character
  const n = Math.max(1, Math.min(pieces, chars.length || 1));
  const size = Math.ceil(chars.length / n) || 1;
  const out = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(""));
  return out.length ? out : [""];
}

function usageChunk(model, completionTokens) {
  return envelope(model, [], {
    usage: { prompt_tokens: 10, completion_tokens: completionTokens, total_tokens: 10 + completionTokens },
  });
}

/** `text` as several content deltas (role on the first), a "stop" chunk and a usage chunk. */
export function textChunks(text, { model = "double-model", pieces = 3 } = {}) {
  const parts = split(text, pieces);
  const chunks = parts.map((part, i) =>
    envelope(model, [choice(i === 0 ? { role: "assistant", content: part, tool_calls: null } : { content: part, tool_calls: null })]),
  );
  chunks.push(envelope(model, [choice({}, "stop")]));
  chunks.push(usageChunk(model, parts.length));
  return chunks;
}

/** Tool calls: id/name on each call's first fragment only, arguments in `fragments` pieces. */
export function toolCallChunks(calls, { model = "double-model", fragments = 3 } = {}) {
  const chunks = [envelope(model, [choice({ role: "assistant", content: null })])];
  calls.forEach((call, index) => {
    chunks.push(
      envelope(model, [
        choice({
          tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }],
        }),
      ]),
    );
    const args = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments ?? {});
    for (const part of split(args, fragments)) {
      chunks.push(
        envelope(model, [choice({ tool_calls: [{ index, id: null, type: null, function: { name: null, arguments: part } }] })]),
      );
    }
  });
  chunks.push(envelope(model, [choice({}, "tool_calls")]));
  chunks.push(usageChunk(model, calls.length));
  return chunks;
}

/** A mid-stream error chunk, as OpenAI-compatible servers send it. */
export function errorChunk(message, type = "server_error") {
  return { error: { message, type, code: null } };
}

// ---- Anthropic Messages streaming ----

let messageCounter = 0;
function messageStart(model, inputTokens) {
  return {
    type: "message_start",
    message: {
      id: `msg_double_${++messageCounter}`,
      type: "message",
      role: "assistant",
      content: [],
      model,
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: 1 },
    },
  };
}

function messageEnd(stopReason, outputTokens) {
  return [
    { type: "message_delta", delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } },
    { type: "message_stop" },
  ];
}

/** `text` as one text block in several `text_delta`s, a ping, then end_turn. */
export function anthropicTextEvents(text, { model = "double-model", pieces = 3, inputTokens = 10 } = {}) {
  const parts = split(text, pieces);
  return [
    messageStart(model, inputTokens),
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    { type: "ping" },
    ...parts.map((part) => ({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: part } })),
    { type: "content_block_stop", index: 0 },
    ...messageEnd("end_turn", parts.length),
  ];
}

/**
 * Tool calls as `tool_use` blocks (after an optional `text` block), the input JSON in
 * `fragments` `input_json_delta` pieces, then stop_reason tool_use.
 */
export function anthropicToolEvents(calls, { model = "double-model", fragments = 3, text = null, inputTokens = 10 } = {}) {
  const events = [messageStart(model, inputTokens)];
  let index = 0;
  if (text) {
    events.push({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
    events.push({ type: "content_block_delta", index, delta: { type: "text_delta", text } });
    events.push({ type: "content_block_stop", index });
    index += 1;
  }
  for (const call of calls) {
    events.push({ type: "content_block_start", index, content_block: { type: "tool_use", id: call.id, name: call.name, input: {} } });
    const args = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments ?? {});
    events.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: "" } });
    for (const part of split(args, fragments)) {
      events.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: part } });
    }
    events.push({ type: "content_block_stop", index });
    index += 1;
  }
  events.push(...messageEnd("tool_use", calls.length));
  return events;
}

/** An `error` event, as Anthropic sends it mid-stream. */
export function anthropicErrorEvent(message, type = "overloaded_error") {
  return { type: "error", error: { type, message } };
}
