// A double of BaseHub's content API (POST /graphql), answering the way the real one does:
// `{"data": {"_componentInstances": {<component>: {"items": [...]}}}}` for the entries whose
// `_sys_id` is among the `ids` variable (an empty list when none match), `{"data": null,
// "errors": [...]}` for a query it cannot answer, 401 without a token. Tests set entries and
// can make it fail; `requests` records what the Worker asked.
//
//   const cms = await startBasehubDouble({ component: "article", bodyField: "body", token: "bshb_pk_e2e" });
//   cms.entries.set("blk1", { _title: "Refunds", markdown: "# Refunds\n30 days" });
//   cms.failWith = 503;  // every request answers 503 until reset to null

import http from "node:http";

export async function startBasehubDouble({ component = "article", bodyField = "body", token = "bshb_pk_e2e" } = {}) {
  const state = { entries: new Map(), requests: [], failWith: null };
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      body = null;
    }
    const ids = body?.variables?.ids ?? [];
    state.requests.push({ path: req.url, headers: req.headers, query: body?.query, ids });
    const send = (status, payload) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    if (state.failWith) return send(state.failWith, { error: "unavailable" });
    if (req.method !== "POST" || req.url !== "/graphql") return send(404, { error: "not found" });
    if (req.headers["x-basehub-token"] !== token) return send(401, { error: "Unauthorized" });
    const shape = new RegExp(`_componentInstances \\{ ${component}\\(first: \\d+, filter: \\{ _sys_id: \\{ in: \\$ids \\} \\}\\) \\{ items \\{ _id _title ${bodyField} \\{ markdown \\} \\} \\} \\}`);
    if (typeof body?.query !== "string" || !shape.test(body.query)) {
      return send(200, { data: null, errors: [{ message: "Cannot query field on type \"_components\".", locations: [{ line: 1, column: 1 }] }] });
    }
    const items = ids
      .filter((id) => state.entries.has(id))
      .map((id) => {
        const entry = state.entries.get(id);
        return { _id: id, _title: entry._title, [bodyField]: { markdown: entry.markdown } };
      });
    send(200, { data: { _componentInstances: { [component]: { items } } } });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${server.address().port}/graphql`;
  state.token = token;
  state.component = component;
  state.bodyField = bodyField;
  state.close = () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); });
  return state;
}
