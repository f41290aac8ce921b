// An HTTP server on loopback that records every request it gets (method, path, headers,
// body). Without `forwardTo` it answers 200 `{}` — an OTLP/HTTP collector's answer to an
// accepted export (the double for a metrics vendor). With `forwardTo` it passes each request
// on and relays the answer, so a test can see what a Worker sends to a real server (the
// Redis REST server) without changing what it gets back.

import http from "node:http";

export async function startRecorder({ forwardTo = null, status = 200, host = "127.0.0.1" } = {}) {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    requests.push({ method: req.method, path: req.url, headers: req.headers, body: body.toString("utf8") });
    if (!forwardTo) {
      res.writeHead(status, { "content-type": "application/json" });
      res.end("{}");
      return;
    }
    const headers = { ...req.headers };
    delete headers.host;
    try {
      const upstream = await fetch(new URL(req.url, forwardTo), { method: req.method, headers, body: body.length ? body : undefined });
      const answer = Buffer.from(await upstream.arrayBuffer());
      const relayed = {};
      upstream.headers.forEach((value, name) => {
        if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(name)) relayed[name] = value;
      });
      res.writeHead(upstream.status, relayed);
      res.end(answer);
    } catch (e) {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(e));
    }
  });
  await new Promise((resolve) => server.listen(0, host, resolve));
  return {
    url: `http://${host}:${server.address().port}`,
    requests,
    /** Waits until `predicate` holds for a recorded request; returns that request. */
    async waitFor(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = requests.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching request in ${timeoutMs} ms (${requests.length} recorded)`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

/**
 * The request data points of OTLP/HTTP JSON metric exports: one object per
 * `http.server.request.duration` point, its attributes flattened, plus the run's token and
 * model-time points when present. Throws if an export breaks the OTLP JSON shape.
 */
export function requestPoints(exports) {
  const points = [];
  for (const { body } of exports) {
    const doc = JSON.parse(body);
    for (const rm of doc.resourceMetrics) {
      const resource = flatten(rm.resource.attributes);
      for (const sm of rm.scopeMetrics) {
        const byName = Object.fromEntries(sm.metrics.map((m) => [m.name, m]));
        const duration = byName["http.server.request.duration"];
        if (!duration) throw new Error("an export without the request duration metric");
        for (const p of duration.histogram.dataPoints) {
          checkHistogramPoint(p);
          const tokens = byName["sba.agent.run.token.usage"]?.histogram.dataPoints ?? [];
          points.push({
            resource,
            temporality: duration.histogram.aggregationTemporality,
            unit: duration.unit,
            attributes: flatten(p.attributes),
            seconds: p.sum,
            startNs: BigInt(p.startTimeUnixNano),
            endNs: BigInt(p.timeUnixNano),
            exemplar: p.exemplars?.[0],
            tokens: Object.fromEntries(tokens.map((t) => (checkHistogramPoint(t), [flatten(t.attributes)["gen_ai.token.type"], t.sum]))),
            modelSeconds: byName["sba.agent.run.model.duration"]?.histogram.dataPoints[0].sum,
          });
        }
      }
    }
  }
  return points;
}

function flatten(attributes) {
  const out = {};
  for (const { key, value } of attributes) {
    if ("stringValue" in value) out[key] = value.stringValue;
    else if ("intValue" in value) out[key] = Number(value.intValue);
    else if ("doubleValue" in value) out[key] = value.doubleValue;
    else if ("boolValue" in value) out[key] = value.boolValue;
    else throw new Error(`attribute ${key} has no known value type: ${JSON.stringify(value)}`);
  }
  return out;
}

// The OTLP JSON mapping: 64-bit integers as decimal strings, one more bucket than bounds,
// bucket counts summing to count, hex trace and span ids of the right length.
function checkHistogramPoint(p) {
  for (const field of ["startTimeUnixNano", "timeUnixNano", "count"]) {
    if (typeof p[field] !== "string" || !/^\d+$/.test(p[field])) throw new Error(`${field} must be a decimal string: ${p[field]}`);
  }
  if (p.bucketCounts.length !== p.explicitBounds.length + 1) throw new Error("bucketCounts must have one more entry than explicitBounds");
  const total = p.bucketCounts.reduce((sum, c) => sum + BigInt(c), 0n);
  if (total !== BigInt(p.count)) throw new Error(`bucket counts sum to ${total}, count is ${p.count}`);
  for (const e of p.exemplars ?? []) {
    if (!/^[0-9a-f]{32}$/.test(e.traceId) || !/^[0-9a-f]{16}$/.test(e.spanId)) throw new Error(`bad exemplar ids ${JSON.stringify(e)}`);
  }
}
