-- The request: build every limit, check all, commit all or none, report each.
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local limits = {}
local key = 1
for a = 3, #ARGV, 4 do
  local kind = ARGV[a]
  local limit, window, refill = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  if kind == "sliding" then
    limits[#limits + 1] = sliding_window(limit, window, now, rate, KEYS[key], KEYS[key + 1])
    key = key + 2
  elseif kind == "fixed" then
    limits[#limits + 1] = fixed_window(limit, window, now, rate, KEYS[key])
    key = key + 1
  elseif kind == "token" then
    limits[#limits + 1] = token_bucket(limit, window, refill, now, rate, KEYS[key])
    key = key + 1
  else
    return redis.error_reply("ERR sba-ratelimit: unknown limit kind " .. tostring(kind))
  end
end

local all_ok = true
for _, l in ipairs(limits) do
  all_ok = all_ok and l.ok
end
if all_ok then
  for _, l in ipairs(limits) do
    l.commit()
  end
end

local out = { all_ok and 1 or 0 }
for _, l in ipairs(limits) do
  local r = l.report()
  out[#out + 1] = l.ok and 1 or 0
  for _, v in ipairs(r) do
    out[#out + 1] = v
  end
end
return out
