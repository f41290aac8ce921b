// Waits for one message on a Redis pub/sub channel, talking RESP to redis-server directly
// (the REST protocol has no subscribe). Resolves with the message text.

import net from "node:net";

/** `ready` resolves once the subscription is live; `message` with the first message. */
export function subscription(redisUrl, channel, timeoutMs = 5000) {
  let markReady;
  const ready = new Promise((r) => (markReady = r));
  const { hostname, port } = new URL(redisUrl);
  const message = new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let buffered = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no message on ${channel} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => {
      const arg = (s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
      socket.write(`*2\r\n${arg("SUBSCRIBE")}${arg(channel)}`);
    });
    socket.on("data", (chunk) => {
      buffered += chunk.toString("utf8");
      if (buffered.includes("subscribe")) markReady();
      const at = buffered.indexOf("$7\r\nmessage\r\n");
      if (at < 0) return;
      const lines = buffered.slice(at).split("\r\n");
      if (lines.length >= 6) {
        clearTimeout(timer);
        socket.destroy();
        resolve(lines[5]);
      }
    });
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return { ready, message };
}
