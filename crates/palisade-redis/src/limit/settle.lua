-- palisade-redis: settle an admission with what it really cost, and end its lease.
--
-- KEYS[1]  <prefix>:{<limit>}:tpm     token bucket: "<level> <updated µs>"
-- KEYS[2]  <prefix>:{<limit>}:leases  ZSET lease id -> expiry (µs, server clock)
--
-- ARGV[1]  tokens per µs              (0: tokens are not limited)
-- ARGV[2]  tokens to give back        (the unused part of the reservation)
-- ARGV[3]  tokens to charge           (the overrun beyond it: debt)
-- ARGV[4]  lease id                   ('' when the admission held no lease)
--
-- Reply {refunded, charged, lease removed (0/1)}
--
-- A refund empties the bucket by at most what it holds: an idle limit is a
-- full bucket of credit and cannot hold more. Debt fills it without a check,
-- past its burst if need be, so the fleet pays an overrun back with later
-- admissions instead of exceeding the quota.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local rate = tonumber(ARGV[1])
local refund = tonumber(ARGV[2])
local debt = tonumber(ARGV[3])
local lease_id = ARGV[4]

local refunded, charged = 0, 0
if rate > 0 and (refund > 0 or debt > 0) then
  local level = 0
  local state = redis.call('GET', KEYS[1])
  if state then
    local l, updated = string.match(state, '^(%S+) (%S+)$')
    l, updated = tonumber(l), tonumber(updated)
    if not l or not updated then
      return redis.error_reply('ERR palisade: ' .. KEYS[1] .. ' does not hold a bucket')
    end
    level = math.max(l - math.max(now - updated, 0) * rate, 0)
  end
  -- Rounded: the bucket drains between calls, so it holds fractions.
  refunded = math.floor(math.min(refund, level) + 0.5)
  charged = debt
  level = math.max(level - refund, 0) + debt
  if level > 0 then
    local empty_in_ms = math.ceil(level / rate / 1000) + 1
    redis.call('SET', KEYS[1], string.format('%.17g %.0f', level, now), 'PX', string.format('%.0f', empty_in_ms))
  else
    redis.call('DEL', KEYS[1])
  end
end

local removed = 0
if lease_id ~= '' then
  removed = redis.call('ZREM', KEYS[2], lease_id)
end
return {refunded, charged, removed}
