--[[ schedule-slots: add the cron slots a worker computed for a schedule that ran low (or
out) of them.

KEYS[1] fence, KEYS[2] schedules (zset: schedule id -> next slot)
Touches (fenced): schedule:<id>, sslots:<id>, srefill, meta (scheduleDue, scheduleRefill),
wake
ARGV[1] schedule id
ARGV[2] the digest of the definition the slots were computed for
ARGV[3] 'append' (slots after the last one listed) or 'rebuild' (the schedule has no slot
        ahead: its due slots and the next ones, computed around now)
ARGV[4] what the worker read as the last slot listed (append) or the next slot (rebuild):
        the slots are added only if it is still so
ARGV[5..] the slots (epoch ms, ascending, maybe ending with the end marker)

Returns 1 when the slots were added, 0 when the schedule changed meanwhile (another worker
added them, its definition changed, or a claim found no slot ahead and it now waits for a
rebuild): nothing is written. The refill mark is cleared when the slots were added, when the
schedule is gone or ended, or when nothing follows its end marker; otherwise it stays (it may
be a newer mark than the one these slots answered), and the next worker reads it again.

Why one script: the check that nothing changed since the slots were computed and the write
are one step, so two workers computing at once add them once.
]]
--@include lib/events.lua
--@include lib/schedules.lua

local id, mode, expected = ARGV[1], ARGV[3], ARGV[4]
local skey = key(R.schedule, id)
local v = redis.call('HMGET', skey, SF.digest, SF.paused, SF.ended, SF.next, SF.last)
local list = key(R.sslots, id)
local function done(added)
  redis.call('SREM', key(R.srefill), id)
  sync_schedule_refill()
  return added
end
if not v[1] or v[3] == '1' then
  return done(0) -- gone or ended: nothing to compute
end
if v[1] ~= ARGV[2] then
  return 0
end
local waiting = v[2] ~= '1' and redis.call('ZSCORE', KEYS[2], id) == 'inf'
if mode == 'append' then
  local tail = redis.call('LINDEX', list, -1) or v[4]
  if tail == CRON_END then
    return done(0)
  end
  -- A claim found no slot ahead meanwhile: it waits for a rebuild, not for these.
  if tail ~= expected or waiting then
    return 0
  end
  local slots = {}
  for i = 5, #ARGV do
    if ARGV[i] == CRON_END or tonumber(ARGV[i]) > tonumber(tail) then
      slots[#slots + 1] = ARGV[i]
    end
  end
  if #slots > 0 then
    call_many('RPUSH', list, slots)
  end
  return done(1)
end
-- Rebuild: only a schedule that waits for slots (in the index at inf, not paused).
if not waiting or v[4] ~= expected then
  return 0
end
-- Slots before its pending next one are not its to run (run, skipped, or older than it).
local first = list_cron_slots(id, ARGV, 5, math.max(tonumber(v[5]) or -1, tonumber(v[4]) - 1))
place_schedule(id, first, false)
sync_schedule_due()
wake()
return done(1)
