-- The one wrk script of tests/bench/endpoints.mjs, configured by environment variables so every
-- throughput row of scripts/bench goes through the same counting:
--
--   SBA_WRK_MODE      static (default)  the same request every time (method, headers, body below)
--                     kb-document       POST /kb/documents, a new ~1 KB markdown document each time
--                     agent-run         POST /agent/run, a new runId (and threadId) each time
--                     pool              bodies from SBA_WRK_POOL, one line each: "<header value>\t<body>",
--                                       sent with header SBA_WRK_POOL_HEADER; threads take disjoint lines
--   SBA_WRK_METHOD    GET (default) or POST;  SBA_WRK_BODY  the static body
--   SBA_WRK_AUTH      a bearer token (optional);  SBA_WRK_CONTENT_TYPE  (optional)
--   SBA_WRK_HEADER    one more header, "Name: value" (optional)
--   SBA_WRK_EXPECT    the status every response must have (default: any 2xx)
--   SBA_WRK_BODY_HAS  a string every response body must contain (optional)
--   SBA_WRK_NONCE     makes generated ids unique across runs;  SBA_WRK_THREADS  wrk's -t
--
-- done() prints one line "SBA_WRK_JSON {…}": wrk's summary and latency percentiles, the status
-- counts, how many responses had an unexpected status, lacked the body string, or either
-- (notAsExpected), and (pool) how many lines were sent more than once because the pool ran out.

local env = function(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local mode = env("SBA_WRK_MODE", "static")
local expect = tonumber(env("SBA_WRK_EXPECT", ""))
local body_has = env("SBA_WRK_BODY_HAS", nil)
local nonce = env("SBA_WRK_NONCE", "0")
local nthreads = tonumber(env("SBA_WRK_THREADS", "1"))

local headers = {}
if env("SBA_WRK_AUTH", nil) then headers["Authorization"] = "Bearer " .. env("SBA_WRK_AUTH") end
if env("SBA_WRK_CONTENT_TYPE", nil) then headers["Content-Type"] = env("SBA_WRK_CONTENT_TYPE") end
if mode == "agent-run" then headers["Accept"] = "text/event-stream" end
local extra = env("SBA_WRK_HEADER", nil)
if extra then
  local colon = extra:find(":", 1, true)
  headers[extra:sub(1, colon - 1)] = extra:sub(colon + 1):gsub("^%s+", "")
end

wrk.method = env("SBA_WRK_METHOD", "GET")
wrk.body = env("SBA_WRK_BODY", nil)
for k, v in pairs(headers) do wrk.headers[k] = v end

-- Main state: number the threads, keep them to collect their counts in done().
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- Thread states from here on (each runs this file on its own).
local n = 0
local pool = {}
local FILLER = table.concat({
  "## Refunds\n\nWhen a refund request arrives, check the invoice and the shipment before anything else. ",
  "The billing team confirms the ledger entry within two business days, then records the outcome so ",
  "that nobody repeats the work.\n\n- invoice: verify the reference\n- carrier: notify the owner\n\n",
  "## Warranty\n\nA warranty claim needs the original order, the serial number and a description of ",
  "the fault. Support escalates claims older than thirty days to the account manager, who decides ",
  "on a replacement or a discount on the renewal.\n\n",
  "## Export\n\nTax exports run at the end of every month; the checklist lists every customer whose ",
  "subscription changed, every parcel that was returned and every payment that failed twice.\n",
}):gsub("\n", "\\n") -- as a JSON string body

function init(args)
  statuses = {}
  unexpected = 0
  bad_body = 0
  bad = 0
  reused = 0
  if mode == "pool" then
    local file = assert(io.open(env("SBA_WRK_POOL"), "r"))
    local i = 0
    for line in file:lines() do
      if i % nthreads == tid - 1 then
        local tab = line:find("\t", 1, true)
        table.insert(pool, { line:sub(1, tab - 1), line:sub(tab + 1) })
      end
      i = i + 1
    end
    file:close()
    assert(#pool > 0, "empty pool")
  end
end

local function id()
  n = n + 1
  return nonce .. "-" .. tid .. "-" .. n
end

function request()
  if mode == "kb-document" then
    local doc = id()
    local body = '{"title":"Bench ' .. doc .. '","contentType":"markdown","tags":["bench"],"content":"# Guide ' ..
      doc .. '\\n\\n' .. FILLER .. '"}'
    return wrk.format(nil, nil, nil, body)
  elseif mode == "agent-run" then
    local run = id()
    local body = '{"threadId":"th-' .. run .. '","runId":"run-' .. run ..
      '","messages":[{"id":"m1","role":"user","content":"Hi"}],"tools":[],"context":[],"state":{},"forwardedProps":{}}'
    return wrk.format(nil, nil, nil, body)
  elseif mode == "pool" then
    n = n + 1
    if n > #pool then reused = reused + 1 end
    local entry = pool[(n - 1) % #pool + 1]
    local hdrs = { [env("SBA_WRK_POOL_HEADER")] = entry[1] }
    for k, v in pairs(wrk.headers) do hdrs[k] = v end
    return wrk.format(nil, nil, hdrs, entry[2])
  end
  return wrk.format()
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
  local status_ok = (expect and status == expect) or (not expect and status >= 200 and status <= 299)
  local body_ok = not body_has or (body ~= nil and body:find(body_has, 1, true) ~= nil)
  if not status_ok then unexpected = unexpected + 1 end
  if not body_ok then bad_body = bad_body + 1 end
  if not (status_ok and body_ok) then bad = bad + 1 end
end

function done(summary, latency, requests)
  local codes, sum = {}, { unexpected = 0, bad_body = 0, bad = 0, reused = 0 }
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("statuses") or {}) do codes[code] = (codes[code] or 0) + count end
    for k in pairs(sum) do sum[k] = sum[k] + (t:get(k) or 0) end
  end
  local status_json = {}
  for code, count in pairs(codes) do table.insert(status_json, string.format('"%d":%d', code, count)) end
  local e = summary.errors
  io.write(string.format(
    'SBA_WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,' ..
    '"latencyUs":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},' ..
    '"socketErrors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"statusOver399":%d,' ..
    '"statuses":{%s},"unexpectedStatus":%d,"badBody":%d,"notAsExpected":%d,"poolReused":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.timeout, e.status,
    table.concat(status_json, ","), sum.unexpected, sum.bad_body, sum.bad, sum.reused))
end
