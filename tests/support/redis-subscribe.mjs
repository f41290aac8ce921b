// Redis pub/sub for assertions, talking RESP to redis-server directly (the REST protocol has
// no subscribe): the first message on a channel, or every message until closed.

import net from "node:net";

/** `ready` resolves once the subscription is live; `message` with the first message. */
export function subscription(redisUrl, channel, timeoutMs = 5000) {
  const live = listener(redisUrl, channel);
  const message = new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = setInterval(() => {
      if (live.messages.length > 0 || Date.now() > deadline) {
        clearInterval(poll);
        live.close();
        if (live.messages.length > 0) resolve(live.messages[0]);
        else reject(new Error(`no message on ${channel} within ${timeoutMs} ms`));
      }
    }, 10);
  });
  return { ready: live.ready, message };
}

/**
 * Keeps listening: `messages` collects every message published on `channel` until `close()`.
 * For counting ("exactly one invalidation").
 */
export function listener(redisUrl, channel) {
  let markReady;
  const ready = new Promise((r) => (markReady = r));
  const { hostname, port } = new URL(redisUrl);
  const messages = [];
  const socket = net.connect(Number(port), hostname);
  let buffered = "";
  socket.on("connect", () => {
    const arg = (s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
    socket.write(`*2\r\n${arg("SUBSCRIBE")}${arg(channel)}`);
  });
  socket.on("data", (chunk) => {
    buffered += chunk.toString("utf8");
    if (buffered.includes("subscribe")) markReady();
    // Each push is *3 $7 message $<n> <channel> $<n> <payload>: take whole ones off the front.
    for (;;) {
      const at = buffered.indexOf("$7\r\nmessage\r\n");
      if (at < 0) return;
      const lines = buffered.slice(at).split("\r\n");
      if (lines.length < 7) return;
      messages.push(lines[5]);
      buffered = lines.slice(6).join("\r\n");
    }
  });
  socket.on("error", () => {});
  return { ready, messages, close: () => socket.destroy() };
}
