-- Sliding window: counters of the current and the previous fixed window; the previous one
-- weighs by how much of it still overlaps the sliding window:
--   weighted = floor((1 - (now % window) / window) * previous)
-- A request fits when weighted + current + rate <= limit, and a refused one writes nothing.
-- (@upstash/ratelimit checks weighted + current >= limit without the rate, so with a rate
-- > 1 it may increment past the limit and then answer "refused": the units stay counted.)
local function sliding_window(limit, window, now, rate, current_key, previous_key)
  local current = tonumber(redis.call("GET", current_key) or "0")
  local previous = tonumber(redis.call("GET", previous_key) or "0")
  local elapsed = now % window
  local window_start = now - elapsed
  local reset = window_start + window
  local weighted = math.floor((1 - elapsed / window) * previous)
  local self = { ok = rate <= 0 or weighted + current + rate <= limit }

  function self.commit()
    if rate == 0 then return end
    current = redis.call("INCRBY", current_key, rate)
    if current == rate then
      -- First write of this window: keep it through the next window, plus a second.
      redis.call("PEXPIRE", current_key, window * 2 + 1000)
    end
  end

  -- Earliest time `need` more units fit, assuming no other traffic. Within this window only
  -- the weight of the previous one decays, so the answer is the first e (ms into the window)
  -- where the check above passes; it lies just past
  --   e = window * (1 - (limit - current - need + 1) / previous).
  -- Start a little before that and step with the very expression the check uses, so float
  -- rounding cannot make the answer differ from what this script will decide at that time.
  -- If the current window alone is too full, not before it ends.
  local function fits_at(need)
    if weighted + current + need <= limit then return now end
    if current + need > limit or previous == 0 then return reset end
    local e = math.floor(window * (1 - (limit - current - need + 1) / previous)) - 1
    e = math.max(elapsed + 1, e)
    while e < window and math.floor((1 - e / window) * previous) + current + need > limit do
      e = e + 1
    end
    return window_start + e
  end

  function self.report()
    local remaining = math.max(0, limit - weighted - current)
    return { remaining, reset, fits_at(math.max(rate, 1)), fits_at(1) }
  end

  return self
end
