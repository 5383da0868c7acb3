"""The Lua scripts of the Redis Streams queue. Each runs atomically on the server and reads
Redis's clock (`TIME`), so instances with skewed clocks agree on what is due and idle.

Stream entries hold `id` (the stable message id), `sent` (epoch ms) and `body` (JSON).
A delayed message waits in a sorted set as the member `"<id>|<sent>|<body>"` scored by its
due time in epoch ms.
"""

from __future__ import annotations

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

#: KEYS: stream, delayed. ARGV: id, body, delay_ms. Returns the sent time (epoch ms).
PUBLISH = (
    _NOW
    + """
local sent = string.format('%d', now)
local delay = tonumber(ARGV[3])
if delay > 0 then
  redis.call('ZADD', KEYS[2], now + delay, ARGV[1] .. '|' .. sent .. '|' .. ARGV[2])
else
  redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'sent', sent, 'body', ARGV[2])
end
return sent
"""
)

#: KEYS: stream, delayed, dead letters, reclaim cursor.
#: ARGV: group, consumer, max messages, visibility timeout ms, max deliveries.
#: Returns [[entry id, delivery count, [field, value, ...]], ...].
#:
#: 1. Due delayed messages move into the stream (at most 100 per call).
#: 2. Entries idle in the group's pending list for a visibility timeout are reclaimed by this
#:    consumer (XAUTOCLAIM counts the delivery); one delivered max-deliveries times already
#:    moves to the dead-letter stream instead (XADD + XACK + XDEL in this one script).
#:    The XAUTOCLAIM cursor is kept, so a long pending list is scanned bit by bit.
#: 3. New entries fill the rest (XREADGROUP `>`; first delivery).
RECEIVE = (
    _NOW
    + """
local stream, delayed, dead, cursor = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, consumer = ARGV[1], ARGV[2]
local want, max_deliveries = tonumber(ARGV[3]), tonumber(ARGV[5])

local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 100)
for _, member in ipairs(due) do
  local id, sent, body = string.match(member, '^([^|]*)|([^|]*)|(.*)$')
  redis.call('XADD', stream, '*', 'id', id, 'sent', sent, 'body', body)
  redis.call('ZREM', delayed, member)
end

local out = {}
local start = redis.call('GET', cursor) or '0-0'
local claimed = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[4], start, 'COUNT', want)
redis.call('SET', cursor, claimed[1])
for _, entry in ipairs(claimed[2]) do
  local entry_id, fields = entry[1], entry[2]
  local pending = redis.call('XPENDING', stream, group, entry_id, entry_id, 1)
  local count = pending[1][4]
  if count > max_deliveries then
    local letter = {}
    for _, value in ipairs(fields) do letter[#letter + 1] = value end
    letter[#letter + 1] = 'deliveries'
    letter[#letter + 1] = count - 1
    letter[#letter + 1] = 'dead_at'
    letter[#letter + 1] = string.format('%d', now)
    redis.call('XADD', dead, '*', unpack(letter))
    redis.call('XACK', stream, group, entry_id)
    redis.call('XDEL', stream, entry_id)
  else
    out[#out + 1] = {entry_id, count, fields}
  end
end

if #out < want then
  local fresh = redis.call(
    'XREADGROUP', 'GROUP', group, consumer, 'COUNT', want - #out, 'STREAMS', stream, '>')
  if fresh then
    for _, entry in ipairs(fresh[1][2]) do
      out[#out + 1] = {entry[1], 1, entry[2]}
    end
  end
end
return out
"""
)

#: KEYS: stream, dead letters. ARGV: dead-letter entry ids. Returns how many moved.
REDRIVE = """
local moved = 0
for _, dead_id in ipairs(ARGV) do
  local found = redis.call('XRANGE', KEYS[2], dead_id, dead_id)
  if #found > 0 then
    local fields, value = found[1][2], {}
    for i = 1, #fields, 2 do value[fields[i]] = fields[i + 1] end
    redis.call('XADD', KEYS[1], '*', 'id', value['id'], 'sent', value['sent'] or '0',
      'body', value['body'])
    redis.call('XDEL', KEYS[2], dead_id)
    moved = moved + 1
  end
end
return moved
"""
