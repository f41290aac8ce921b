-- Fixed window: one counter per window, {prefix}:{identifier}:{floor(now / window)}.
-- A request fits when current + rate <= limit. Unlike @upstash/ratelimit (which increments
-- first and so counts refused requests too), a refused request writes nothing.
local function fixed_window(limit, window, now, rate, key)
  local current = tonumber(redis.call("GET", key) or "0")
  local reset = now - now % window + window
  local self = { ok = rate <= 0 or current + rate <= limit }

  function self.commit()
    if rate == 0 then return end
    current = redis.call("INCRBY", key, rate)
    if current == rate then
      redis.call("PEXPIRE", key, window)
    end
  end

  local function fits_at(need)
    if current + need <= limit then return now end
    return reset
  end

  function self.report()
    return { math.max(0, limit - current), reset, fits_at(math.max(rate, 1)), fits_at(1) }
  end

  return self
end
