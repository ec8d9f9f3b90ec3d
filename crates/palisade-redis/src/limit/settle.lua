-- palisade-redis: settle an admission with what it really cost, and end its lease.
--
-- KEYS[1]  <prefix>:{<limit>}:rate    both buckets: "<request level> <token level> <updated µs>"
-- KEYS[2]  <prefix>:{<limit>}:leases  ZSET lease id -> expiry (µs, server clock)
--
-- ARGV[1]  tokens per µs              (0: tokens are not limited)
-- ARGV[2]  tokens to give back        (the unused part of the reservation)
-- ARGV[3]  tokens to charge           (the overrun beyond it: debt)
-- ARGV[4]  lease id                   ('' when the admission held no lease)
-- ARGV[5]  requests per µs            (drains the request bucket alongside)
--
-- Reply {refunded, charged, lease removed (0/1)}
--
-- A refund empties the bucket by at most what it holds: an idle limit is a
-- full bucket of credit and cannot hold more. Debt fills it without a check,
-- past its burst if need be, so the fleet pays an overrun back with later
-- admissions instead of exceeding the quota.

local tr = tonumber(ARGV[1])
local refund, debt = tonumber(ARGV[2]), tonumber(ARGV[3])
local rr = tonumber(ARGV[5]) or 0

local refunded, charged = 0, 0
if tr > 0 and (refund > 0 or debt > 0) then
  local t = redis.call('TIME')
  local now = t[1] * 1000000 + t[2]
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
  -- Rounded: the bucket drains between calls, so it holds fractions.
  refunded = math.floor(math.min(refund, tl) + 0.5)
  charged = debt
  tl = math.max(tl - refund, 0) + debt
  local empty_us = tl / tr
  if rr > 0 then empty_us = math.max(empty_us, rl / rr) end
  if rl > 0 or tl > 0 then
    redis.call('SET', KEYS[1], string.format('%.17g %.17g %.0f', rl, tl, now),
      'PX', math.ceil(empty_us / 1000) + 1)
  else
    redis.call('DEL', KEYS[1])
  end
end

local removed = 0
if ARGV[4] ~= '' then
  removed = redis.call('ZREM', KEYS[2], ARGV[4])
end
return {refunded, charged, removed}
