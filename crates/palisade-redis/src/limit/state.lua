-- palisade-redis: the `:rate` key of a limit, read and written by admit.lua
-- and settle.lua (scripts.rs puts this file in front of each; a script
-- cannot load another).
--
-- Every bucket lives in that one string: the levels (units used) of the
-- requests, tokens, input, output and per-day buckets, the server time
-- they were drained to (µs), the key's birth (µs) and, per token
-- dimension, the units ever added to its bucket since then (admission and
-- debts; settle.lua explains how the last two bound a refund).
--
-- Written as one tag byte (1) and those eleven numbers as little-endian
-- doubles (Lua's own numbers, so nothing is rounded): 89 bytes. Formatting
-- them as decimal text ("%.17g") and parsing it back cost more server time
-- than the rest of an admission's Lua (≈ 5 µs of ≈ 12 µs on the shared
-- test machine); `struct` writes and reads them in well under one.
--
-- The text forms written by earlier versions are still read:
--   "<requests> <tokens> <input> <output> <per day> <updated µs> <born µs>
--    <tokens added> <input added> <output added> <per day added>"
--                                  (with refund stamps: birth and counts kept)
--   "<requests> <tokens> <input> <output> <per day> <updated µs>"
--   "<requests> <tokens> <updated µs>"
--                                  (before refund stamps / before the input,
--                                  output and per-day dimensions: a new birth
--                                  with nothing added yet, so no lease admitted
--                                  before is refunded from them)
-- A text form never starts with byte 1 (its first field is a number).

local STATE_FORMAT = '<Bddddddddddd'

-- The state in `state` (a GET's reply, or false when the key is absent):
-- ok, requests level, {levels}, updated µs, born µs or nil, {added}.
-- ok is false when the key holds something else.
local function read_state(state)
  if not state then
    return true, 0, {0, 0, 0, 0}, nil, nil, {0, 0, 0, 0}
  end
  if #state == 89 and string.byte(state, 1) == 1 then
    local _, rl, l1, l2, l3, l4, u, born, a1, a2, a3, a4 = struct.unpack(STATE_FORMAT, state)
    return true, rl, {l1, l2, l3, l4}, u, born, {a1, a2, a3, a4}
  end
  local added = {0, 0, 0, 0}
  local born = nil
  local a, b, c, d, e, u, o, p, q, r, w = string.match(state,
    '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
  if a then
    born = tonumber(o)
    added = {tonumber(p), tonumber(q), tonumber(r), tonumber(w)}
  else
    a, b, c, d, e, u = string.match(state, '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
    if not a then
      a, b, u = string.match(state, '^(%S+) (%S+) (%S+)$')
      c, d, e = 0, 0, 0
    end
  end
  local rl, updated = tonumber(a), tonumber(u)
  local level = {tonumber(b), tonumber(c), tonumber(d), tonumber(e)}
  if not (rl and updated and level[1] and level[2] and level[3] and level[4]
      and added[1] and added[2] and added[3] and added[4]) or (o and not born) then
    return false
  end
  return true, rl, level, updated, born, added
end

-- Writes the state, expiring after `ttl_ms`.
local function write_state(key, rl, level, now, born, added, ttl_ms)
  redis.call('SET', key, struct.pack(STATE_FORMAT, 1, rl, level[1], level[2], level[3],
    level[4], now, born, added[1], added[2], added[3], added[4]), 'PX', ttl_ms)
end

