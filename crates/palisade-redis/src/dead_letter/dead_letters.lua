-- One dead-letter queue: KEYS[1] hash id -> JSON, KEYS[2] list of ids,
-- oldest first. Both keys share a hash tag, so this runs on one node.
-- ARGV[1] is the operation; every operation is one round trip.
local letters, order = KEYS[1], KEYS[2]
local op = ARGV[1]

if op == 'put' then
  -- ARGV: id, json, max_len (0: unbounded), ttl_ms (0: none).
  -- Returns how many of the oldest letters were dropped for the bound.
  local id = ARGV[2]
  if redis.call('HSET', letters, id, ARGV[3]) == 1 then
    redis.call('RPUSH', order, id)
  end
  local max_len = tonumber(ARGV[4])
  local dropped = 0
  if max_len > 0 then
    while redis.call('LLEN', order) > max_len do
      redis.call('HDEL', letters, redis.call('LPOP', order))
      dropped = dropped + 1
    end
  end
  local ttl = tonumber(ARGV[5])
  if ttl > 0 then
    redis.call('PEXPIRE', letters, ttl)
    redis.call('PEXPIRE', order, ttl)
  end
  return dropped
elseif op == 'list' then
  -- ARGV: limit (> 0). Returns the JSON of up to `limit` oldest letters.
  local ids = redis.call('LRANGE', order, 0, tonumber(ARGV[2]) - 1)
  local out = {}
  for _, id in ipairs(ids) do
    local letter = redis.call('HGET', letters, id)
    if letter then
      out[#out + 1] = letter
    end
  end
  return out
elseif op == 'take' then
  -- ARGV: id. Returns its JSON (nil when absent) and removes it.
  local id = ARGV[2]
  local letter = redis.call('HGET', letters, id)
  if not letter then
    return false
  end
  redis.call('HDEL', letters, id)
  redis.call('LREM', order, 1, id)
  return letter
elseif op == 'len' then
  return redis.call('HLEN', letters)
end
return redis.error_reply('dead_letters.lua: unknown operation ' .. tostring(op))
