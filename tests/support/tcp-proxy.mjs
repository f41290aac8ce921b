// A loopback TCP proxy that can be switched off and on, for outage tests: it sits between a
// Worker's Hyperdrive binding and the stack's pooler (or Postgres itself), so one suite can
// "stop the database" without touching the stack every other suite shares.
//
//   const proxy = await tcpProxy({ host: "127.0.0.1", port: 5432 });
//   proxy.url("postgres://u:p@127.0.0.1:5432/db")   // the same URL, through the proxy
//   proxy.down()        // destroys every live connection; new ones are closed on arrival
//   proxy.up()
//   proxy.cutAfter(n)   // goes down once n more bytes have flowed client → server
//   proxy.cutOnReply(b) // goes down when the server sends bytes `b` (which never arrive)
//   proxy.stats         // { accepted, closedOnArrival, cuts, bytesUp, bytesDown }
//
// `tcpProxy({ host, port, delayMs: 40 })` makes the server "far away": every chunk, in both
// directions (and each side's end/close), is forwarded `delayMs` later, in order. The delay
// can be changed while running (`proxy.delayMs = 400`); 0 (the default) forwards at once.
//
// `tcpProxy({ …, observe })` lets a caller watch the bytes (scripts/bench's far-stores section
// counts round trips with it): `observe()` is called once per forwarded connection and may
// return `{ up(data), down(data), close() }` (each optional), called as chunks ARRIVE at the
// proxy from the client (up) or the server (down), before any delay, and once when the
// connection closes.

import net from "node:net";

export async function tcpProxy({ host = "127.0.0.1", port, delayMs = 0, observe = null }) {
  const live = new Set();
  let delay = Math.max(0, Number(delayMs) || 0);
  let isUp = true;
  // At most one armed cut: { counter: "bytesUp" | "bytesDown", at?, pattern?, tail, resolve }.
  let trigger = null;
  const stats = { accepted: 0, closedOnArrival: 0, cuts: 0, bytesUp: 0, bytesDown: 0 };

  const kill = (socket) => {
    // Nothing more is forwarded; the peer sees the connection drop.
    socket.removeAllListeners("data");
    socket.on("error", () => {});
    socket.destroy();
  };

  const goDown = () => {
    isUp = false;
    for (const { client, upstream } of live) {
      kill(upstream);
      kill(client);
    }
    live.clear();
  };

  const server = net.createServer((client) => {
    stats.accepted += 1;
    client.on("error", () => {});
    if (!isUp) {
      stats.closedOnArrival += 1;
      client.resume(); // read and discard, so closing sends FIN, not RST
      client.end();
      client.once("close", () => client.destroy());
      return;
    }
    const upstream = net.connect({ host, port, noDelay: true });
    client.setNoDelay(true);
    upstream.on("error", () => {});
    const pair = { client, upstream };
    live.add(pair);
    const watcher = observe?.() ?? null;
    if (watcher?.close) client.once("close", () => watcher.close());
    const forward = (from, to, counter) => {
      const later = delayed();
      const watch = watcher?.[counter === "bytesUp" ? "up" : "down"];
      from.on("data", (data) => {
        stats[counter] += data.length;
        watch?.(data);
        if (trigger?.counter === counter && fires(trigger, data)) {
          const { resolve } = trigger;
          trigger = null;
          stats.cuts += 1;
          goDown();
          resolve();
          return;
        }
        if (later.immediate()) {
          if (!to.write(data)) {
            from.pause();
            to.once("drain", () => from.resume());
          }
          return;
        }
        later(() => {
          if (!to.destroyed) to.write(data);
        });
      });
      from.on("end", () => later(() => to.end()));
      from.on("close", () => {
        live.delete(pair);
        later(() => to.destroy());
      });
    };
    forward(client, upstream, "bytesUp");
    forward(upstream, client, "bytesDown");
  });
  // One direction's FIFO of actions due `delay` ms after their bytes arrived (order kept even
  // when the delay changes); with no delay and nothing pending, actions run at once.
  const delayed = () => {
    const queue = [];
    let timer = null;
    const pump = () => {
      timer = null;
      const now = Date.now();
      while (queue.length && queue[0].due <= now) queue.shift().action();
      if (queue.length) timer = setTimeout(pump, Math.max(1, queue[0].due - now));
    };
    const later = (action) => {
      if (later.immediate()) return action();
      queue.push({ due: Date.now() + delay, action });
      timer ??= setTimeout(pump, Math.max(0, queue[0].due - Date.now()));
    };
    later.immediate = () => delay <= 0 && queue.length === 0;
    return later;
  };
  const fires = (t, data) => {
    if (t.at !== undefined) return stats[t.counter] >= t.at;
    const window = Buffer.concat([t.tail, data]); // the pattern may straddle two reads
    t.tail = window.subarray(Math.max(0, window.length - t.pattern.length + 1));
    return window.includes(t.pattern);
  };
  const arm = (t) =>
    new Promise((resolve) => {
      trigger = { ...t, tail: Buffer.alloc(0), resolve };
    });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxyPort = server.address().port;

  return {
    port: proxyPort,
    stats,
    get isUp() {
      return isUp;
    },
    /** Milliseconds every chunk waits before it is forwarded, each way (0: none). */
    get delayMs() {
      return delay;
    },
    set delayMs(ms) {
      delay = Math.max(0, Number(ms) || 0);
    },
    /** `url` with its host and port replaced by the proxy's. */
    url(target) {
      const u = new URL(target);
      u.hostname = "127.0.0.1";
      u.port = String(proxyPort);
      return u.toString();
    },
    /** Live proxied connections right now. */
    get connections() {
      return live.size;
    },
    down: goDown,
    up() {
      isUp = true;
    },
    /** Goes down once `bytes` more bytes have flowed client → server; resolves when it has. */
    cutAfter(bytes) {
      return arm({ counter: "bytesUp", at: stats.bytesUp + bytes });
    },
    /** Goes down when the server sends `pattern` (a Buffer), dropping the data that holds it. */
    cutOnReply(pattern) {
      return arm({ counter: "bytesDown", pattern });
    },
    async close() {
      goDown();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Runs `start` (e.g. `() => startBundle(…)`) with TCP_NODELAY set on every socket accepted by
 * the servers created meanwhile: Miniflare's Hyperdrive proxies. Without it, Nagle's algorithm
 * on the proxy's workerd-facing socket meets delayed ACKs and stalls many Postgres round
 * trips by ~40 ms (a local-only artifact: a 20-document batch takes seconds instead of
 * half a second).
 */
export async function withTcpNoDelay(start) {
  const original = net.createServer;
  net.createServer = (...args) => {
    const server = original(...args);
    server.on("connection", (socket) => socket.setNoDelay(true));
    return server;
  };
  try {
    return await start();
  } finally {
    net.createServer = original;
  }
}
