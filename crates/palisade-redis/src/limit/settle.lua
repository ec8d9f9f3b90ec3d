-- palisade-redis: settle an admission with what it really cost, and end its lease.
--
-- KEYS[1]  <prefix>:{<limit>}:rate    every bucket (see admit.lua for the layout)
-- KEYS[2]  <prefix>:{<limit>}:leases  ZSET lease id -> expiry (µs, server clock)
--
-- ARGV[1]  requests per µs            (drains the request bucket alongside)
-- ARGV[2]  tokens per µs              (each rate 0: that dimension is not limited)
-- ARGV[3]  input tokens per µs
-- ARGV[4]  output tokens per µs
-- ARGV[5]  tokens-per-day rate, per µs
-- ARGV[6]  tokens to give back        (the unused part of the reservation;
-- ARGV[7]  tokens to charge            the overrun beyond it: debt; both the
--                                      tokens and the per-day buckets)
-- ARGV[8]  input tokens to give back
-- ARGV[9]  input tokens to charge
-- ARGV[10] output tokens to give back
-- ARGV[11] output tokens to charge
-- ARGV[12] lease id                   ('' when the admission held no lease)
--
-- Reply {refunded, charged} for the tokens, input, output and per-day
--       buckets in turn, then lease removed (0/1): nine integers
--
-- A refund empties the bucket by at most what it holds: an idle limit is a
-- full bucket of credit and cannot hold more. Debt fills it without a check,
-- past its burst if need be, so the fleet pays an overrun back with later
-- admissions instead of exceeding the quota. Each dimension is settled on
-- its own: one may refund while another charges.

local rr = tonumber(ARGV[1])
local rate = {tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])}
local tokens_refund, tokens_debt = tonumber(ARGV[6]), tonumber(ARGV[7])
local refund = {tokens_refund, tonumber(ARGV[8]), tonumber(ARGV[10]), tokens_refund}
local debt = {tokens_debt, tonumber(ARGV[9]), tonumber(ARGV[11]), tokens_debt}

local touched = false
for i = 1, 4 do
  if rate[i] > 0 and (refund[i] > 0 or debt[i] > 0) then touched = true end
end

local refunded, charged = {0, 0, 0, 0}, {0, 0, 0, 0}
if touched then
  local t = redis.call('TIME')
  local now = t[1] * 1000000 + t[2]
  local rl = 0
  local level = {0, 0, 0, 0}
  local state = redis.call('GET', KEYS[1])
  if state then
    local a, b, c, d, e, u = string.match(state, '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
    if not a then
      -- Written by an instance from before the new dimensions.
      a, b, u = string.match(state, '^(%S+) (%S+) (%S+)$')
      c, d, e = 0, 0, 0
    end
    rl, u = tonumber(a), tonumber(u)
    level = {tonumber(b), tonumber(c), tonumber(d), tonumber(e)}
    if not (rl and u and level[1] and level[2] and level[3] and level[4]) then
      return redis.error_reply('ERR palisade: ' .. KEYS[1] .. ' does not hold a bucket')
    end
    local elapsed = now - u
    if elapsed > 0 then
      rl = math.max(rl - elapsed * rr, 0)
      for i = 1, 4 do
        level[i] = math.max(level[i] - elapsed * rate[i], 0)
      end
    end
  end
  local empty_us = 0
  if rr > 0 then empty_us = rl / rr end
  for i = 1, 4 do
    if rate[i] > 0 then
      -- Rounded: the bucket drains between calls, so it holds fractions.
      refunded[i] = math.floor(math.min(refund[i], level[i]) + 0.5)
      charged[i] = debt[i]
      level[i] = math.max(level[i] - refund[i], 0) + debt[i]
      empty_us = math.max(empty_us, level[i] / rate[i])
    end
  end
  if rl > 0 or level[1] > 0 or level[2] > 0 or level[3] > 0 or level[4] > 0 then
    -- The short form while the new buckets are empty (see admit.lua).
    local encoded
    if level[2] == 0 and level[3] == 0 and level[4] == 0 then
      encoded = string.format('%.17g %.17g %.0f', rl, level[1], now)
    else
      encoded = string.format('%.17g %.17g %.17g %.17g %.17g %.0f',
        rl, level[1], level[2], level[3], level[4], now)
    end
    redis.call('SET', KEYS[1], encoded, 'PX', math.ceil(empty_us / 1000) + 1)
  else
    redis.call('DEL', KEYS[1])
  end
end

local removed = 0
if ARGV[12] ~= '' then
  removed = redis.call('ZREM', KEYS[2], ARGV[12])
end
return {refunded[1], charged[1], refunded[2], charged[2], refunded[3], charged[3],
  refunded[4], charged[4], removed}
