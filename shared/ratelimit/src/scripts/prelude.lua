#!lua flags=allow-key-locking
--[[ sba-ratelimit: every limit of one request, decided in one atomic script.

KEYS  the keys of each limit, in the order of the limits (w = floor(now / window)):
        sliding window  {prefix}:{identifier}:{w}   {prefix}:{identifier}:{w - 1}
        fixed window    {prefix}:{identifier}:{w}
        token bucket    {prefix}:{identifier}       (hash: refilledAt, tokens)
ARGV  [1] now (ms)   [2] rate (units this request takes; negative = refund, 0 = look only)
      then four per limit: kind ("sliding" | "fixed" | "token"), limit (max tokens for a
      token bucket), window (interval) in ms, refill rate (token bucket; else 0)

All or nothing: every limit is checked first; only when all pass is anything written, so a
request refused by one limit costs nothing in the others. A refund (rate < 0) is never
refused. The keys, their values and their expiries are the ones @upstash/ratelimit 2.2.0
writes, so services using either library share one limit.

Returns { all passed (1/0), then five integers per limit:
          passed (1/0), remaining, reset (ms), retry at (ms: earliest time this request's
          rate fits), unblocked at (ms: earliest time 1 unit fits) }
"Earliest" assumes no other traffic (and no refunds); it is exact for this script. ]]

-- Each algorithm below is a constructor: it reads its state and answers a table with
--   ok        whether this request fits
--   commit()  takes the rate (called only when every limit is ok)
--   report()  {remaining, reset, retry_at, unblocked_at} from the state as it now is
