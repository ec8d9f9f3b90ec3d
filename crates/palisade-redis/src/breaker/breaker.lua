-- palisade-redis: a circuit breaker's fleet-wide decisions, one operation per call.
--
-- KEYS[1]  <prefix>:{<provider>}:breaker  HASH state, until (µs), opens
-- KEYS[2]  <prefix>:{<provider>}:probes   ZSET probe id -> lease expiry (µs, server clock)
--
-- ARGV[1]  operation, then its arguments:
--   load                                      the state (nothing changes)
--   open     <open for, µs> <consecutive opens>
--   close | isolate | reset
--   acquire  <max probes> <lease, ms> <probe id>
--   release                                   return the probe slot closest to expiry
--
-- Reply for load, open, close, isolate, reset:
--   {state, retry after µs (-1: none), consecutive opens, probes in flight}
--   with state '' when nothing was ever published (load only)
-- Reply for acquire: {'granted'} {'busy'} {'closed'} {'isolated'} or {'open', retry after µs}
-- Reply for release: {probes left}
--
-- Deadlines are stored on the server's clock and handed out as durations
-- from now, so instances never compare instants from different machines.
-- The semantics are those of palisade-breaker's InMemoryStore.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local op = ARGV[1]

-- Probe leases past their expiry belong to instances that never returned
-- them (crashed mid-probe): their slots come back.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now))

local fields = redis.call('HMGET', KEYS[1], 'state', 'until', 'opens')
local state = fields[1] or 'closed'
local open_until = tonumber(fields[2])
local opens = tonumber(fields[3]) or 0
local exists = fields[1] ~= false

local function shared()
  local retry = -1
  if state == 'open' then
    retry = math.max((open_until or now) - now, 0)
  elseif state == 'isolated' then
    retry = -2 -- the caller substitutes its "isolated" retry-after
  end
  return {state, retry, opens, redis.call('ZCARD', KEYS[2])}
end

-- Closed is written, not deleted: an instance still half-open or isolated
-- must read "closed" to follow the fleet, and "nothing published" does not
-- tell it that.
local function close_all()
  state, open_until, opens = 'closed', nil, 0
  redis.call('HSET', KEYS[1], 'state', state, 'opens', 0)
  redis.call('HDEL', KEYS[1], 'until')
  redis.call('DEL', KEYS[2])
end

if op == 'load' then
  if not exists then
    return {'', -1, 0, 0}
  end
  return shared()
elseif op == 'open' then
  if state ~= 'isolated' then
    local until_us = now + tonumber(ARGV[2])
    -- Another instance may already hold a later deadline: keep it.
    if not (state == 'open' and open_until and open_until > until_us) then
      open_until = until_us
    end
    state = 'open'
    opens = math.max(opens, tonumber(ARGV[3]))
    redis.call('HSET', KEYS[1], 'state', state, 'until', string.format('%.0f', open_until), 'opens', opens)
    redis.call('DEL', KEYS[2])
  end
  return shared()
elseif op == 'close' then
  if state ~= 'isolated' then
    close_all()
  end
  return shared()
elseif op == 'isolate' then
  state, open_until = 'isolated', nil
  redis.call('HSET', KEYS[1], 'state', state, 'opens', opens)
  redis.call('HDEL', KEYS[1], 'until')
  redis.call('DEL', KEYS[2])
  return shared()
elseif op == 'reset' then
  close_all()
  return shared()
elseif op == 'acquire' then
  if state == 'open' then
    if open_until and open_until > now then
      return {'open', open_until - now}
    end
    -- The open period is over: the first prober turns the fleet half-open.
    state = 'half_open'
    redis.call('HSET', KEYS[1], 'state', state)
    redis.call('HDEL', KEYS[1], 'until')
    redis.call('DEL', KEYS[2])
  end
  if state == 'closed' then
    return {'closed'}
  elseif state == 'isolated' then
    return {'isolated'}
  end
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
    return {'busy'}
  end
  local lease_ms = tonumber(ARGV[3])
  redis.call('ZADD', KEYS[2], string.format('%.0f', now + lease_ms * 1000), ARGV[4])
  if redis.call('PTTL', KEYS[2]) < lease_ms then
    redis.call('PEXPIRE', KEYS[2], string.format('%.0f', lease_ms))
  end
  return {'granted'}
elseif op == 'release' then
  -- Slots are interchangeable: return the one closest to expiry, keeping the
  -- longest-lived ones for probes still running.
  redis.call('ZPOPMIN', KEYS[2])
  return {redis.call('ZCARD', KEYS[2])}
end
return redis.error_reply('ERR palisade: unknown breaker operation ' .. tostring(op))
