-- palisade-redis: keep this instance's live leases from expiring.
--
-- KEYS[1]  <prefix>:{<limit>}:leases  ZSET lease id -> expiry (µs, server clock)
--
-- ARGV[1]     lease time to live, ms
-- ARGV[2..n]  lease ids held by the caller
--
-- Reply: the lease ids that were no longer there. A lease that already
-- expired (its holder stalled longer than the TTL) is not recreated: its slot
-- may have been handed out again, and recreating it would exceed the limit.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl_ms = tonumber(ARGV[1])
local expiry = string.format('%.0f', now + ttl_ms * 1000)

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
local lost = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], expiry, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
if #lost < #ARGV - 1 and redis.call('PTTL', KEYS[1]) < ttl_ms then
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl_ms))
end
return lost
