-- palisade-redis: check and reserve one admission, atomically, in one round trip.
--
-- KEYS[1]  <prefix>:{<limit>}:rpm     request bucket: "<level> <updated µs>"
-- KEYS[2]  <prefix>:{<limit>}:tpm     token bucket:   "<level> <updated µs>"
-- KEYS[3]  <prefix>:{<limit>}:leases  ZSET lease id -> expiry (µs, server clock)
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
-- The algorithm is GCRA in its continuous-state leaky-bucket form: a bucket
-- holds the units used, drains at the caller's rate, and admits while it does
-- not overflow its burst. Keeping units (not a theoretical arrival time) lets
-- instances whose adaptive rates differ share a bucket without reinterpreting
-- what was used. The clock is the server's TIME, so instances with skewed
-- clocks agree; Redis 7 replicates a script's effects, so reading TIME before
-- writing is allowed.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

-- Units in the bucket now, after draining since its last update.
local function level_now(key, rate)
  local state = redis.call('GET', key)
  if not state then
    return 0
  end
  local level, updated = string.match(state, '^(%S+) (%S+)$')
  level, updated = tonumber(level), tonumber(updated)
  if not level or not updated then
    return redis.error_reply('ERR palisade: ' .. key .. ' does not hold a bucket')
  end
  -- A clock that went back (failover to another server) drains nothing.
  local elapsed = math.max(now - updated, 0)
  return math.max(level - elapsed * rate, 0)
end

-- Timestamps have 16 digits; Lua's default number format keeps 14.
local function save(key, level, rate)
  local empty_in_ms = math.ceil(level / rate / 1000) + 1
  redis.call('SET', key, string.format('%.17g %.0f', level, now), 'PX', string.format('%.0f', empty_in_ms))
end

local rates = {tonumber(ARGV[1]), tonumber(ARGV[3])}
local bursts = {tonumber(ARGV[2]), tonumber(ARGV[4])}
local costs = {1, tonumber(ARGV[5])}
local max_leases = tonumber(ARGV[6])
local lease_id = ARGV[7]
local lease_ttl_ms = tonumber(ARGV[8])

-- Check everything first; write only when everything fits (all or nothing).
local levels = {}
local wait, limit = 0, 0
for i = 1, 2 do
  if rates[i] > 0 and costs[i] > 0 then
    if costs[i] > bursts[i] then
      return {-1, bursts[i], i}
    end
    local level = level_now(KEYS[i], rates[i])
    if type(level) == 'table' then
      return level -- the error reply
    end
    local overflow = level + costs[i] - bursts[i]
    if overflow > 0 then
      local w = math.ceil(overflow / rates[i])
      if w > wait then
        wait, limit = w, i
      end
    end
    levels[i] = level + costs[i]
  end
end
if max_leases > 0 then
  local in_flight = redis.call('ZCARD', KEYS[3])
  if in_flight >= max_leases then
    -- Leases past their expiry belong to instances that stopped renewing
    -- them (crashed or cut off): their slots come back here. Only a full
    -- set needs the sweep, which keeps the common path free of it.
    in_flight = in_flight - redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%.0f', now))
  end
  if in_flight >= max_leases then
    local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    local w = math.max(math.ceil(tonumber(oldest[2]) - now), 1)
    if limit == 0 or w > wait then
      wait, limit = w, 3
    end
  end
end
if limit ~= 0 then
  return {0, wait, limit}
end

for i = 1, 2 do
  if levels[i] then
    save(KEYS[i], levels[i], rates[i])
  end
end
if max_leases > 0 then
  redis.call('ZADD', KEYS[3], string.format('%.0f', now + lease_ttl_ms * 1000), lease_id)
  -- The set must outlive its longest lease (instances may use other TTLs).
  -- Extending it to two TTLs whenever less than one is left keeps that true
  -- with a read on most admissions instead of a write; a set left over a
  -- little longer only holds expired leases, which the sweep removes.
  if redis.call('PTTL', KEYS[3]) < lease_ttl_ms then
    redis.call('PEXPIRE', KEYS[3], string.format('%.0f', 2 * lease_ttl_ms))
  end
end
return {1}
