"""The rate limiter's Redis scripts (`retouch.core.ratelimit.RedisRateLimiter`): the GCRA step,
and the same step followed by a read in the same round trip (`retouch.core.caller_cache`)."""

from __future__ import annotations

# KEYS[1]: the TAT in µs. ARGV: interval (µs per request), window (µs: burst × interval),
# cost, and optionally now (µs; tests only). Mirrored by `ratelimit.MemoryRateLimiter._apply`.
GCRA_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME, then SET
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local clock = redis.call("TIME")
  now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
end
local tat = math.max(tonumber(redis.call("GET", KEYS[1])) or now, now)
local new_tat = tat + cost * interval
local allow_at = new_tat - window
if now < allow_at then
  return {0, math.floor((now - tat + window) / interval), allow_at - now, tat - now}
end
redis.call("SET", KEYS[1], string.format("%.0f", new_tat), "PX", math.ceil((new_tat - now) / 1000))
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
"""
# The step, then HMGET of KEYS[2] (fields: ARGV[5…]) and GET of KEYS[3]: one round trip.
GCRA_READ_SCRIPT = f"""
local function step()
{GCRA_SCRIPT}
end
local reply = step()
for _, value in ipairs(redis.call("HMGET", KEYS[2], unpack(ARGV, 5))) do
  table.insert(reply, value)
end
table.insert(reply, redis.call("GET", KEYS[3]))
return reply
"""
