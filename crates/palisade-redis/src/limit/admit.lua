-- palisade-redis: check and reserve one admission, atomically, in one round trip.
--
-- KEYS[1]  <prefix>:{<limit>}:rate    both buckets: "<request level> <token level> <updated µs>"
-- KEYS[2]  <prefix>:{<limit>}:leases  ZSET lease id -> expiry (µs, server clock)
--
-- ARGV[1]  requests per µs            (0: requests are not limited)
-- ARGV[2]  request burst              (most requests at once)
-- ARGV[3]  tokens per µs              (0: tokens are not limited)
-- ARGV[4]  token burst
-- ARGV[5]  tokens to reserve
-- ARGV[6]  most concurrent leases     (0: concurrency is not limited)
-- ARGV[7]  lease id
-- ARGV[8]  lease time to live, ms
--
-- Reply {1}                    admitted: the request, the tokens and the lease are taken
--       {0, wait µs, limit}    refused, nothing written; limit 1 requests, 2 tokens,
--                              3 concurrency (wait: until the oldest lease expires);
--                              when several refuse, the one that frees last
--       {-1, burst, limit}     never: the cost is larger than the whole burst
--
-- GCRA in its continuous-state leaky-bucket form: a bucket holds the units
-- used, drains at the caller's rate, and admits while it does not overflow
-- its burst. Keeping units (not a theoretical arrival time) lets instances
-- whose adaptive rates differ share a bucket. Both buckets live in one key,
-- so the hot path is one read and one write for the rates (plus the lease
-- set when concurrency is limited). The clock is the server's TIME; Redis 7
-- replicates a script's effects, so reading TIME before writing is allowed.

local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local rr, rb = tonumber(ARGV[1]), tonumber(ARGV[2])
local tr, tb = tonumber(ARGV[3]), tonumber(ARGV[4])
local cost, cap = tonumber(ARGV[5]), tonumber(ARGV[6])

if rr > 0 and rb < 1 then return {-1, rb, 1} end
if tr > 0 and cost > tb then return {-1, tb, 2} end

-- The levels now, drained since the last update (a clock that went back,
-- after a failover to another server, drains nothing).
local rl, tl = 0, 0
local state = redis.call('GET', KEYS[1])
if state then
  local a, b, u = string.match(state, '^(%S+) (%S+) (%S+)$')
  rl, tl, u = tonumber(a), tonumber(b), tonumber(u)
  if not (rl and tl and u) then
    return redis.error_reply('ERR palisade: ' .. KEYS[1] .. ' does not hold a bucket')
  end
  local elapsed = now - u
  if elapsed > 0 then
    rl = math.max(rl - elapsed * rr, 0)
    tl = math.max(tl - elapsed * tr, 0)
  end
end

-- Check everything first; write only when everything fits (all or nothing).
local wait, limit = 0, 0
if rr > 0 and rl + 1 > rb then
  wait, limit = math.ceil((rl + 1 - rb) / rr), 1
end
if tr > 0 and cost > 0 and tl + cost > tb then
  local w = math.ceil((tl + cost - tb) / tr)
  if w > wait then wait, limit = w, 2 end
end
if cap > 0 then
  local in_flight = redis.call('ZCARD', KEYS[2])
  if in_flight >= cap then
    -- Leases past their expiry belong to instances that stopped renewing
    -- them (crashed or cut off): their slots come back here. Only a full
    -- set needs the sweep, which keeps the common path free of it.
    in_flight = in_flight - redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  end
  if in_flight >= cap then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    local w = math.max(math.ceil(tonumber(oldest[2]) - now), 1)
    if limit == 0 or w > wait then wait, limit = w, 3 end
  end
end
if limit ~= 0 then
  return {0, wait, limit}
end

if rr > 0 or tr > 0 then
  if rr > 0 then rl = rl + 1 end
  if tr > 0 then tl = tl + cost end
  -- The key expires when both buckets would be empty again.
  local empty_us = 0
  if rr > 0 then empty_us = rl / rr end
  if tr > 0 then empty_us = math.max(empty_us, tl / tr) end
  -- Timestamps have 16 digits; Lua's default number format keeps 14.
  redis.call('SET', KEYS[1], string.format('%.17g %.17g %.0f', rl, tl, now),
    'PX', math.ceil(empty_us / 1000) + 1)
end
if cap > 0 then
  local ttl = tonumber(ARGV[8])
  redis.call('ZADD', KEYS[2], now + ttl * 1000, ARGV[7])
  -- The set must outlive its longest lease (instances may use other TTLs).
  -- Extending it to two TTLs whenever less than one is left keeps that true
  -- with a read on most admissions instead of a write.
  if redis.call('PTTL', KEYS[2]) < ttl then
    redis.call('PEXPIRE', KEYS[2], 2 * ttl)
  end
end
return {1}
