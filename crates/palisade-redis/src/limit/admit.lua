-- palisade-redis: check and reserve one admission, atomically, in one round trip.
--
-- KEYS[1]  <prefix>:{<limit>}:rate    every bucket, one string:
--          "<requests> <tokens> <input> <output> <per day> <updated µs>"
--          (or "<requests> <tokens> <updated µs>": see "State" below)
-- KEYS[2]  <prefix>:{<limit>}:leases  ZSET lease id -> expiry (µs, server clock)
--
-- ARGV[1]  requests per µs            (0: requests are not limited)
-- ARGV[2]  request burst              (most requests at once)
-- ARGV[3]  tokens per µs              (0: tokens are not limited)
-- ARGV[4]  token burst
-- ARGV[5]  tokens to reserve          (the combined count: tokens and per-day buckets)
-- ARGV[6]  most concurrent leases     (0: concurrency is not limited)
-- ARGV[7]  lease id
-- ARGV[8]  lease time to live, ms
-- Only when the limit has an input, output or per-day quota (a limit without
-- them sends the eight arguments above, as before those dimensions existed,
-- and its admission skips their buckets):
-- ARGV[9]  input tokens per µs        (each rate 0: that dimension is not limited)
-- ARGV[10] input token burst
-- ARGV[11] input tokens to reserve
-- ARGV[12] output tokens per µs
-- ARGV[13] output token burst
-- ARGV[14] output tokens to reserve
-- ARGV[15] tokens-per-day rate, per µs
-- ARGV[16] tokens-per-day burst
--
-- Reply {1}                    admitted: the request, every token count and the lease are taken
--       {0, wait µs, limit}    refused, nothing written; limit 1 requests, 2 tokens,
--                              3 concurrency (wait: until the oldest lease expires),
--                              4 input tokens, 5 output tokens, 6 tokens per day;
--                              when several refuse, the one that frees last
--       {-1, burst, limit}     never: a cost is larger than that limit's whole burst
--
-- GCRA in its continuous-state leaky-bucket form: a bucket holds the units
-- used, drains at the caller's rate, and admits while it does not overflow
-- its burst. Keeping units (not a theoretical arrival time) lets instances
-- whose adaptive rates differ share a bucket. Every bucket lives in one key,
-- so the hot path is one read and one write for the rates (plus the lease
-- set when concurrency is limited), whatever the number of dimensions. The
-- clock is the server's TIME; Redis 7 replicates a script's effects, so
-- reading TIME before writing is allowed.
--
-- State: the short form "<requests> <tokens> <updated µs>" is what instances
-- from before the input/output/per-day dimensions wrote and read. It is read
-- as those levels with the new ones empty, and still written whenever the new
-- buckets are empty, so that such instances keep working beside this one on
-- limits that do not use the new dimensions (a rolling upgrade).

local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local rr, rb = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens, cap = tonumber(ARGV[5]), tonumber(ARGV[6])
-- The token dimensions, in the order of the state's fields: tokens, input,
-- output, per day. The loops below visit the first `n`: without the extra
-- arguments only the combined tokens (the others' rates are 0: unlimited).
local rate, burst, cost = {tonumber(ARGV[3]), 0, 0, 0}, {tonumber(ARGV[4]), 0, 0, 0},
  {tokens, 0, 0, tokens}
local n = 1
if #ARGV > 8 then
  n = 4
  rate[2], burst[2], cost[2] = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
  rate[3], burst[3], cost[3] = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
  rate[4], burst[4] = tonumber(ARGV[15]), tonumber(ARGV[16])
end
-- The refusal code of dimension i: 2 tokens, 4 input, 5 output, 6 per day.
local function code(i) if i == 1 then return 2 end return i + 2 end
local max, ceil = math.max, math.ceil

if rr > 0 and rb < 1 then return {-1, rb, 1} end
for i = 1, n do
  if rate[i] > 0 and cost[i] > burst[i] then return {-1, burst[i], code(i)} end
end

-- The levels now, drained since the last update (a clock that went back,
-- after a failover to another server, drains nothing).
local rl = 0
local level = {0, 0, 0, 0}
local state = redis.call('GET', KEYS[1])
if state then
  local a, b, u = string.match(state, '^(%S+) (%S+) (.+)$')
  local c, d, e = 0, 0, 0
  if u and string.find(u, ' ', 1, true) then
    c, d, e, u = string.match(u, '^(%S+) (%S+) (%S+) (%S+)$')
  end
  rl, u = tonumber(a), tonumber(u)
  level = {tonumber(b), tonumber(c), tonumber(d), tonumber(e)}
  if not (rl and u and level[1] and level[2] and level[3] and level[4]) then
    return redis.error_reply('ERR palisade: ' .. KEYS[1] .. ' does not hold a bucket')
  end
  local elapsed = now - u
  if elapsed > 0 then
    rl = max(rl - elapsed * rr, 0)
    for i = 1, n do
      level[i] = max(level[i] - elapsed * rate[i], 0)
    end
  end
end

-- Check everything first; write only when everything fits (all or nothing).
local wait, limit = 0, 0
if rr > 0 and rl + 1 > rb then
  wait, limit = ceil((rl + 1 - rb) / rr), 1
end
for i = 1, n do
  if rate[i] > 0 and cost[i] > 0 and level[i] + cost[i] > burst[i] then
    local w = ceil((level[i] + cost[i] - burst[i]) / rate[i])
    if w > wait then wait, limit = w, code(i) end
  end
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
    local w = max(ceil(tonumber(oldest[2]) - now), 1)
    if limit == 0 or w > wait then wait, limit = w, 3 end
  end
end
if limit ~= 0 then
  return {0, wait, limit}
end

local limited = rr > 0
if rr > 0 then rl = rl + 1 end
-- The key expires when every bucket would be empty again.
local empty_us = 0
if rr > 0 then empty_us = rl / rr end
for i = 1, n do
  if rate[i] > 0 then
    limited = true
    level[i] = level[i] + cost[i]
    empty_us = max(empty_us, level[i] / rate[i])
  end
end
if limited then
  -- Timestamps have 16 digits; Lua's default number format keeps 14.
  local encoded
  if level[2] == 0 and level[3] == 0 and level[4] == 0 then
    encoded = string.format('%.17g %.17g %.0f', rl, level[1], now)
  else
    encoded = string.format('%.17g %.17g %.17g %.17g %.17g %.0f',
      rl, level[1], level[2], level[3], level[4], now)
  end
  redis.call('SET', KEYS[1], encoded, 'PX', ceil(empty_us / 1000) + 1)
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
