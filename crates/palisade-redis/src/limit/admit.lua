-- palisade-redis: check and reserve one admission, atomically, in one round trip.
-- (state.lua, put in front of this file, reads and writes the `:rate` key.)
--
-- KEYS[1]  <prefix>:{<limit>}:rate    every bucket, one string (see state.lua)
-- KEYS[2]  <prefix>:{<limit>}:leases  ZSET lease id -> expiry (µs, server clock)
--
-- ARGV[1]  the numbers, as little-endian doubles (`struct` format '<d...'):
--          parsing them from decimal text cost ≈ 0.25 µs of server time
--          each, unpacking all of them together less than that. Seven:
--            1 requests per µs        (0: requests are not limited)
--            2 request burst          (most requests at once)
--            3 tokens per µs          (0: tokens are not limited)
--            4 token burst
--            5 tokens to reserve      (the combined count: tokens and per-day buckets)
--            6 most concurrent leases (0: concurrency is not limited)
--            7 lease time to live, ms
--          and eight more only when the limit has an input, output or
--          per-day quota (a limit without them skips their buckets):
--            8 input tokens per µs    (each rate 0: that dimension is not limited)
--            9 input token burst     10 input tokens to reserve
--           11 output tokens per µs  12 output token burst  13 output tokens to reserve
--           14 tokens-per-day rate, per µs                  15 tokens-per-day burst
-- ARGV[2]  lease id                 (used only when concurrency is limited)
--
-- Reply {1, born, added...}     admitted: the request, every token count and the lease are
--                              taken; then the refund stamp, integers: the state's birth
--                              (µs) and, per token dimension in the state's order, the units
--                              ever added to that bucket, this admission included (see
--                              settle.lua: a refund gives back no more than is still due)
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
-- The state's birth and added counts: an admission returns them to the
-- caller, who sends them back with the settle; settle.lua explains how they
-- bound a refund. A state in an older form without them is read as a new
-- birth with nothing added yet (state.lua).

local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local extended = #ARGV[1] > 7 * 8
local rr, rb, r1, b1, tokens, cap, ttl, r2, b2, c2, r3, b3, c3, r4, b4
if extended then
  rr, rb, r1, b1, tokens, cap, ttl, r2, b2, c2, r3, b3, c3, r4, b4 =
    struct.unpack('<ddddddddddddddd', ARGV[1])
else
  rr, rb, r1, b1, tokens, cap, ttl = struct.unpack('<ddddddd', ARGV[1])
end
-- The token dimensions, in the order of the state's fields: tokens, input,
-- output, per day. The loops below visit the first `n`: without the extra
-- numbers only the combined tokens (the others' rates are 0: unlimited).
local rate, burst, cost = {r1, 0, 0, 0}, {b1, 0, 0, 0}, {tokens, 0, 0, tokens}
local n = 1
if extended then
  n = 4
  rate[2], burst[2], cost[2] = r2, b2, c2
  rate[3], burst[3], cost[3] = r3, b3, c3
  rate[4], burst[4] = r4, b4
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
local ok, rl, level, updated, born, added = read_state(redis.call('GET', KEYS[1]))
if not ok then
  return redis.error_reply('ERR palisade: ' .. KEYS[1] .. ' does not hold a bucket')
end
if updated then
  local elapsed = now - updated
  if elapsed > 0 then
    rl = max(rl - elapsed * rr, 0)
    for i = 1, n do
      level[i] = max(level[i] - elapsed * rate[i], 0)
    end
  end
end
born = born or now

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
    added[i] = added[i] + cost[i]
    empty_us = max(empty_us, level[i] / rate[i])
  end
end
if limited then
  write_state(KEYS[1], rl, level, now, born, added, ceil(empty_us / 1000) + 1)
end
if cap > 0 then
  redis.call('ZADD', KEYS[2], now + ttl * 1000, ARGV[2])
  -- The set must outlive its longest lease (instances may use other TTLs).
  -- Extending it to two TTLs whenever less than one is left keeps that true
  -- with a read on most admissions instead of a write.
  if redis.call('PTTL', KEYS[2]) < ttl then
    redis.call('PEXPIRE', KEYS[2], 2 * ttl)
  end
end
-- Integers (costs and debts are whole units): Redis replies them exactly.
return {1, born, added[1], added[2], added[3], added[4]}
