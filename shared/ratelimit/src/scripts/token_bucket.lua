-- Token bucket: hash {prefix}:{identifier} with refilledAt (ms) and tokens. A missing hash
-- is a full bucket. Every whole interval since refilledAt adds refill_rate tokens, up to
-- max_tokens. A request fits when tokens >= rate; a refused one writes nothing (as in
-- @upstash/ratelimit 2.2.0). A refund never fills the bucket above max_tokens.
local function token_bucket(max_tokens, interval, refill_rate, now, rate, key)
  local bucket = redis.call("HMGET", key, "refilledAt", "tokens")
  local refilled_at, tokens
  if bucket[1] == false then
    refilled_at = now
    tokens = max_tokens
  else
    refilled_at = tonumber(bucket[1])
    tokens = tonumber(bucket[2])
  end
  if now >= refilled_at + interval then
    local refills = math.floor((now - refilled_at) / interval)
    tokens = math.min(max_tokens, tokens + refills * refill_rate)
    refilled_at = refilled_at + refills * interval
  end
  local self = { ok = rate <= 0 or tokens >= rate }

  function self.commit()
    if rate == 0 then return end
    tokens = math.min(max_tokens, tokens - rate)
    redis.call("HSET", key, "refilledAt", refilled_at, "tokens", tokens)
    -- Gone once it would have refilled to full anyway.
    local expire = math.ceil((max_tokens - tokens) / refill_rate) * interval
    if expire > 0 then
      redis.call("PEXPIRE", key, expire)
    end
  end

  local function fits_at(need)
    if tokens >= need then return now end
    if need > max_tokens then return refilled_at + interval end
    return refilled_at + math.ceil((need - tokens) / refill_rate) * interval
  end

  function self.report()
    return { math.max(0, tokens), refilled_at + interval, fits_at(math.max(rate, 1)), fits_at(1) }
  end

  return self
end
