"""The Lua source of every write of the alert poller (scripts.py runs them, and describes the
Redis layout they keep). Each script is one atomic step and answers -1, doing nothing, when
`owner` no longer holds `{alerts}:lock`."""

# KEYS: lock, state. ARGV: owner, floor. The first start fixes the floor (and the watermark).
START = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('HEXISTS', KEYS[2], 'floor') == 0 then
  redis.call('HSET', KEYS[2], 'floor', ARGV[2], 'watermark', ARGV[2])
end
return redis.call('HMGET', KEYS[2], 'floor', 'watermark')
"""

# KEYS: lock, seen messages, seen reports, outboxes, seq, then per channel: outbox, items.
# ARGV: owner, now, trim cutoff, channel count, the channels, RANK_SPAN, then per item:
# kind ('m' or 'r'), id, channel number (1-based), payload, rank.
ENQUEUE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[3])
local channels = tonumber(ARGV[4])
local added = 0
local span = tonumber(ARGV[5 + channels])
local i = 6 + channels
while i + 4 <= #ARGV do
  local kind, id, ch = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local seen = KEYS[2]
  if kind == 'r' then seen = KEYS[3] end
  if not redis.call('ZSCORE', seen, id) then
    redis.call('ZADD', seen, now, id)
    local item = kind .. ':' .. id
    local order = tonumber(ARGV[i + 4]) * span + redis.call('INCR', KEYS[5])
    redis.call('ZADD', KEYS[4 + 2 * ch], string.format('%.0f', order), item)
    redis.call('HSET', KEYS[5 + 2 * ch], item, ARGV[i + 3])
    redis.call('SADD', KEYS[4], ARGV[4 + ch])
    added = added + 1
  end
  i = i + 5
end
return added
"""

# KEYS: lock, outbox, items, outboxes, campaign record, dirty set, in-flight, rate, then the
# index keys of the campaign's match keys.
# ARGV: owner, channel, mode ('none', 'root', 'thread'), root ts, record data, ttl, in-flight key,
# campaign id, rate member ('' = not counted), now, rate cutoff, rate ttl, item ids...
# 'root' stores a new campaign record and points every match key at it; 'thread' updates the
# record if it is still that root's, and points the keys no other campaign holds at it. The
# post's in-flight mark goes with the commit.
POSTED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
for i = 13, #ARGV do
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[4], ARGV[2]) end
local ttl = tonumber(ARGV[6])
if ARGV[3] == 'root' then
  redis.call('DEL', KEYS[5])
  redis.call('HSET', KEYS[5], 'root_ts', ARGV[4], 'data', ARGV[5])
  redis.call('EXPIRE', KEYS[5], ttl)
  for i = 9, #KEYS do redis.call('SET', KEYS[i], ARGV[8], 'EX', ttl) end
elseif ARGV[3] == 'thread' and redis.call('HGET', KEYS[5], 'root_ts') == ARGV[4] then
  redis.call('HSET', KEYS[5], 'data', ARGV[5])
  redis.call('EXPIRE', KEYS[5], ttl)
  redis.call('SADD', KEYS[6], KEYS[5])
  for i = 9, #KEYS do
    local holder = redis.call('GET', KEYS[i])
    if not holder or holder == ARGV[8] then redis.call('SET', KEYS[i], ARGV[8], 'EX', ttl) end
  end
end
if ARGV[9] ~= '' then
  redis.call('ZADD', KEYS[8], ARGV[10], ARGV[9])
  redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', '(' .. ARGV[11])
  redis.call('EXPIRE', KEYS[8], tonumber(ARGV[12]))
end
if ARGV[7] ~= '' and redis.call('HGET', KEYS[7], 'key') == ARGV[7] then
  redis.call('DEL', KEYS[7])
end
return 1
"""

# KEYS: lock, in-flight. ARGV: owner, key, data. The mark of the post about to be made.
IN_FLIGHT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'key', ARGV[2], 'data', ARGV[3])
return 1
"""

# KEYS: lock, in-flight. ARGV: owner, key. The mark goes (the post is known not to be in Slack).
CLEAR_IN_FLIGHT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[2], 'key') == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1
"""

# KEYS: lock, outbox, items, outboxes, digest, entries, senders, open digest, in-flight.
# ARGV: owner, channel, mode ('new' or 'add'), id, ts, opened, latest, window, ttl, keep,
# in-flight key, entry count, sender count, disposition count, then the entries (JSON), the
# senders, (disposition, count) pairs, and the item ids.
DIGESTED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local ttl = tonumber(ARGV[9])
if ARGV[3] == 'new' then
  redis.call('DEL', KEYS[5], KEYS[6], KEYS[7])
  redis.call('HSET', KEYS[5], 'id', ARGV[4], 'channel', ARGV[2], 'ts', ARGV[5],
             'opened', ARGV[6], 'window', ARGV[8], 'count', 0)
  redis.call('SET', KEYS[8], ARGV[4], 'EX', math.ceil(tonumber(ARGV[8])) + 1)
end
redis.call('HSET', KEYS[5], 'latest', ARGV[7])
local entries, senders, dispositions = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
redis.call('HINCRBY', KEYS[5], 'count', entries)
local at = 15
for i = at, at + entries - 1 do redis.call('RPUSH', KEYS[6], ARGV[i]) end
redis.call('LTRIM', KEYS[6], 0, tonumber(ARGV[10]) - 1)
at = at + entries
for i = at, at + senders - 1 do redis.call('SADD', KEYS[7], ARGV[i]) end
at = at + senders
for i = at, at + 2 * dispositions - 1, 2 do
  redis.call('HINCRBY', KEYS[5], 'd:' .. ARGV[i], tonumber(ARGV[i + 1]))
end
at = at + 2 * dispositions
for i = at, #ARGV do
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[4], ARGV[2]) end
for i = 5, 7 do redis.call('EXPIRE', KEYS[i], ttl) end
if ARGV[11] ~= '' and redis.call('HGET', KEYS[9], 'key') == ARGV[11] then
  redis.call('DEL', KEYS[9])
end
return 1
"""

# KEYS: lock, dirty set. ARGV: owner, campaign record key.
ROOT_UPDATED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""

# KEYS: lock, outbox, items, outboxes, rejected. ARGV: owner, channel, error, at, keep, ids...
SET_ASIDE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
for i = 6, #ARGV do
  local payload = redis.call('HGET', KEYS[3], ARGV[i])
  if payload then
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', tonumber(ARGV[5]), '*', 'item', ARGV[i],
               'channel', ARGV[2], 'error', ARGV[3], 'at', ARGV[4], 'payload', payload)
  end
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[4], ARGV[2]) end
return 1
"""

# KEYS: lock, outboxes, state. ARGV: owner, end. 0: something is still queued.
ADVANCE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
local mark = tonumber(redis.call('HGET', KEYS[3], 'watermark') or '0')
if tonumber(ARGV[2]) > mark then redis.call('HSET', KEYS[3], 'watermark', ARGV[2]) end
return 1
"""
