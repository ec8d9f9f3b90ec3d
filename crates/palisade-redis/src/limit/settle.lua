-- palisade-redis: settle an admission with what it really cost, and end its lease.
--
-- (state.lua, put in front of this file, reads and writes the `:rate` key.)
--
-- KEYS[1]  <prefix>:{<limit>}:rate    every bucket (see state.lua)
-- KEYS[2]  <prefix>:{<limit>}:leases  ZSET lease id -> expiry (µs, server clock)
--
-- ARGV[1]  the numbers, as little-endian doubles (`struct` format '<d...',
--          as admit.lua's): eleven,
--            1 requests per µs        (drains the request bucket alongside)
--            2 tokens per µs          (each rate 0: that dimension is not limited)
--            3 input tokens per µs    4 output tokens per µs
--            5 tokens-per-day rate, per µs
--            6 tokens to give back    (the unused part of the reservation;
--            7 tokens to charge        the overrun beyond it: debt; both the
--                                      tokens and the per-day buckets)
--            8 input tokens to give back    9 input tokens to charge
--           10 output tokens to give back  11 output tokens to charge
--          then, when the admission had one, five more: its refund stamp,
--           12 the state's birth (µs) admit.lua returned, and
--           13..16 the units added to the tokens, input, output and per-day
--          buckets up to this admission. No stamp: nothing is refunded.
-- ARGV[2]  lease id                   ('' when the admission held no lease)
--
-- Reply {refunded, charged} for the tokens, input, output and per-day
--       buckets in turn, then lease removed (0/1): nine integers
--
-- A refund gives back at most the part of the reservation still in the
-- bucket. Read the bucket as a queue: it drains its oldest units first, an
-- admission or a debt adds units at the back, and `added` counts every unit
-- ever added since the key's birth. The units behind this reservation's
-- last one are at most `added now - added at admission` (those added since;
-- some may have been refunded), and everything else still in the bucket is
-- this reservation's or older, so
--
--     due = level - (added now - added at admission)
--
-- is at most what is still in the bucket from the front up to this
-- reservation's last unit; clamped to [0, refund] it is at most the part
-- of the reservation still there, since the queue drains older units first
-- (a reservation gone from the bucket is behind nothing: due <= 0).
-- Conservative: other refunds only lower `level`, never `added`, so they
-- can only lower `due`; a key born again after it expired (every bucket
-- empty, the reservation drained with them) has another birth and
-- refunds nothing. Exact in the common case: settled while the whole
-- reservation is still in the bucket and with no refund of a later
-- admission in between, `due` is at least the reservation, so all of the
-- unused part comes back, as before. Giving back only units still held
-- keeps the bucket where it would be had the admission reserved only what
-- it used (the bucket held at least those units all along), which is what
-- keeps "at most amount + burst in any window of one period" true of real
-- usage, late settles included; the old rule (at most what the bucket holds
-- now) handed a drained reservation's units back out of later admissions.
--
-- Debt fills the bucket without a check, past its burst if need be, so the
-- fleet pays an overrun back with later admissions instead of exceeding the
-- quota; it counts as added. Each dimension is settled on its own: one may
-- refund while another charges.

local rr, r1, r2, r3, r4, tokens_refund, tokens_debt, input_refund, input_debt,
  output_refund, output_debt, stamp_born, s1, s2, s3, s4
if #ARGV[1] > 11 * 8 then
  rr, r1, r2, r3, r4, tokens_refund, tokens_debt, input_refund, input_debt,
    output_refund, output_debt, stamp_born, s1, s2, s3, s4 =
    struct.unpack('<dddddddddddddddd', ARGV[1])
else
  rr, r1, r2, r3, r4, tokens_refund, tokens_debt, input_refund, input_debt,
    output_refund, output_debt = struct.unpack('<ddddddddddd', ARGV[1])
end
local rate = {r1, r2, r3, r4}
local refund = {tokens_refund, input_refund, output_refund, tokens_refund}
local debt = {tokens_debt, input_debt, output_debt, tokens_debt}
local stamp_added = {s1, s2, s3, s4}

local touched = false
for i = 1, 4 do
  if rate[i] > 0 and (refund[i] > 0 or debt[i] > 0) then touched = true end
end

local refunded, charged = {0, 0, 0, 0}, {0, 0, 0, 0}
if touched then
  local t = redis.call('TIME')
  local now = t[1] * 1000000 + t[2]
  local ok, rl, level, updated, born, added = read_state(redis.call('GET', KEYS[1]))
  if not ok then
    return redis.error_reply('ERR palisade: ' .. KEYS[1] .. ' does not hold a bucket')
  end
  if updated then
    local elapsed = now - updated
    if elapsed > 0 then
      rl = math.max(rl - elapsed * rr, 0)
      for i = 1, 4 do
        level[i] = math.max(level[i] - elapsed * rate[i], 0)
      end
    end
  end
  -- The stamp counts only in the birth it was made in.
  local stamped = born ~= nil and stamp_born ~= nil and stamp_born == born
  born = born or now
  local empty_us = 0
  if rr > 0 then empty_us = rl / rr end
  for i = 1, 4 do
    if rate[i] > 0 then
      local give = 0
      if stamped and refund[i] > 0 then
        local since = added[i] - stamp_added[i]
        give = math.max(math.min(refund[i], level[i] - since, level[i]), 0)
      end
      -- Rounded: the bucket drains between calls, so it holds fractions.
      refunded[i] = math.floor(give + 0.5)
      charged[i] = debt[i]
      level[i] = math.max(level[i] - give, 0) + debt[i]
      added[i] = added[i] + debt[i]
      empty_us = math.max(empty_us, level[i] / rate[i])
    end
  end
  if rl > 0 or level[1] > 0 or level[2] > 0 or level[3] > 0 or level[4] > 0 then
    write_state(KEYS[1], rl, level, now, born, added, math.ceil(empty_us / 1000) + 1)
  else
    redis.call('DEL', KEYS[1])
  end
end

local removed = 0
if ARGV[2] ~= '' then
  removed = redis.call('ZREM', KEYS[2], ARGV[2])
end
return {refunded[1], charged[1], refunded[2], charged[2], refunded[3], charged[3],
  refunded[4], charged[4], removed}
