"""The rate limiter's Redis scripts (`retouch.core.ratelimit.RedisRateLimiter`): the GCRA step,
and the same step followed by a read in the same round trip (`retouch.core.caller_cache`),
optionally followed by a second step for the caller the read found live."""

from __future__ import annotations

# One GCRA step of `cost` on `key` at `now` (µs): {allowed, remaining, retry after, reset}.
# Mirrored by `ratelimit.MemoryRateLimiter._apply`.
_GCRA = """
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME, then SET
local function gcra(key, interval, window, cost, now)
  local tat = math.max(tonumber(redis.call("GET", key)) or now, now)
  local new_tat = tat + cost * interval
  local allow_at = new_tat - window
  if now < allow_at then
    return {0, math.floor((now - tat + window) / interval), allow_at - now, tat - now}
  end
  redis.call("SET", key, string.format("%.0f", new_tat), "PX", math.ceil((new_tat - now) / 1000))
  return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
end
local now = tonumber(ARGV[4])
if not now then
  local clock = redis.call("TIME")
  now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
end
"""
# KEYS[1]: the TAT in µs. ARGV: interval (µs per request), window (µs: burst × interval),
# cost, and optionally now (µs; tests only).
GCRA_SCRIPT = f"""{_GCRA}
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), now)
"""
# The step, then HMGET of KEYS[2] (fields: ARGV[5…]) and GET of KEYS[3]: one round trip.
GCRA_READ_SCRIPT = f"""{_GCRA}
local reply = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), now)
for _, value in ipairs(redis.call("HMGET", KEYS[2], unpack(ARGV, 5))) do
  table.insert(reply, value)
end
table.insert(reply, redis.call("GET", KEYS[3]))
return reply
"""
# The step and the read of the caller's record and session (fields ARGV[5], ARGV[6]), then,
# only when the step allowed the request and the hash holds a record and that session live
# ("0"), a step of cost 1 on KEYS[4] (ARGV[7]: its interval, ARGV[8]: its window), its four
# values after the read's three. Nothing else is counted on KEYS[4].
GCRA_READ_STEP_SCRIPT = f"""{_GCRA}
local reply = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), now)
local found = redis.call("HMGET", KEYS[2], ARGV[5], ARGV[6])
table.insert(reply, found[1])
table.insert(reply, found[2])
table.insert(reply, redis.call("GET", KEYS[3]))
if reply[1] == 1 and found[1] and found[2] == "0" then
  for _, value in ipairs(gcra(KEYS[4], tonumber(ARGV[7]), tonumber(ARGV[8]), 1, now)) do
    table.insert(reply, value)
  end
end
return reply
"""
