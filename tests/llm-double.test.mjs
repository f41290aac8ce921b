// The scripted LLM double speaks well-formed OpenAI-compatible SSE (checked with plain fetch).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startLlmDouble, textChunks, toolCallChunks, errorChunk } from "./support/llm-double.mjs";

async function frames(response) {
  const text = await response.text();
  assert.ok(text.endsWith("\n\n"), "every frame ends with a blank line");
  return text
    .split("\n\n")
    .filter(Boolean)
    .filter((f) => !f.startsWith(":"))
    .map((f) => {
      assert.ok(f.startsWith("data: "), f);
      return f.slice(6);
    });
}

function post(url, body) {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify(body),
  });
}

test("text script: deltas, stop, usage chunk, [DONE]", async () => {
  const double = await startLlmDouble(() => ({ chunks: [{ comment: "ping" }, ...textChunks("Hello wörld 🌍", { pieces: 4 }), { delayMs: 5 }] }));
  try {
    const response = await post(double.url, { model: "m", messages: [{ role: "user", content: "hi" }], stream: true });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /^text\/event-stream/);
    const data = await frames(response);
    assert.equal(data.at(-1), "[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    assert.equal(chunks[0].choices[0].delta.role, "assistant");
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), "Hello wörld 🌍");
    assert.ok(chunks.length >= 4 + 2);
    assert.equal(chunks.at(-2).choices[0].finish_reason, "stop");
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.equal(chunks.at(-1).usage.completion_tokens, 4);
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
    assert.deepEqual(double.requests[0].messages, [{ role: "user", content: "hi" }]);
  } finally {
    await double.close();
  }
});

test("tool-call script: fragments by index, id/name once, finish tool_calls", async () => {
  const calls = [
    { id: "call_1", name: "lookup", arguments: { id: 7, q: "größe" } },
    { id: "call_2", name: "now", arguments: "{}" },
  ];
  const double = await startLlmDouble(() => ({ chunks: toolCallChunks(calls, { fragments: 3 }) }));
  try {
    const data = await frames(await post(double.url, {}));
    assert.equal(data.at(-1), "[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    const byIndex = new Map();
    let finish;
    for (const chunk of chunks) {
      const c = chunk.choices[0];
      if (!c) continue;
      finish = c.finish_reason ?? finish;
      for (const t of c.delta.tool_calls ?? []) {
        const acc = byIndex.get(t.index) ?? { id: null, name: null, arguments: "", fragments: 0 };
        if (t.id) {
          assert.equal(acc.id, null, "id only on the first fragment");
          acc.id = t.id;
        }
        if (t.function.name) acc.name = t.function.name;
        acc.arguments += t.function.arguments ?? "";
        acc.fragments += 1;
        byIndex.set(t.index, acc);
      }
    }
    assert.equal(finish, "tool_calls");
    assert.deepEqual(JSON.parse(byIndex.get(0).arguments), calls[0].arguments);
    assert.equal(byIndex.get(0).name, "lookup");
    assert.ok(byIndex.get(0).fragments >= 3);
    assert.equal(byIndex.get(1).id, "call_2");
    assert.equal(byIndex.get(1).arguments, "{}");
  } finally {
    await double.close();
  }
});

test("status, mid-stream error, raw frames, hang and abort counting, setScript", async () => {
  const double = await startLlmDouble(() => ({ status: 503, body: '{"error":{"message":"overloaded"}}' }));
  try {
    const r1 = await post(double.url, {});
    assert.equal(r1.status, 503);
    assert.match(await r1.text(), /overloaded/);

    double.setScript(() => ({ chunks: [...textChunks("Hi", { pieces: 1 }).slice(0, 1), errorChunk("boom")], done: false }));
    const data = await frames(await post(double.url, {}));
    assert.equal(JSON.parse(data.at(-1)).error.message, "boom");
    assert.notEqual(data.at(-1), "[DONE]");

    double.setScript(() => ({ error: { message: "only an error" } }));
    const onlyError = await frames(await post(double.url, {}));
    assert.deepEqual(onlyError, [JSON.stringify({ error: { message: "only an error" } })]);

    double.setScript(() => ({ chunks: [{ raw: "data: [DONE]\n\n" }], done: false }));
    assert.deepEqual(await frames(await post(double.url, {})), ["[DONE]"]);

    double.setScript((_body, index) => (index === 4 ? { hang: true } : { chunks: textChunks("x") }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(
      fetch(`${double.url}/v1/chat/completions`, { method: "POST", body: "{}", signal: controller.signal }),
      /abort/i,
    );
    for (let i = 0; i < 50 && double.aborted < 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(double.aborted >= 1, "the abandoned request is counted");
    assert.equal(double.requests.length, 5);
  } finally {
    await double.close();
  }
});
