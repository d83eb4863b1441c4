--[[ schedule-upsert: create a schedule, or change it if its definition changed.

KEYS[1] fence, KEYS[2] schedules (zset: schedule id -> next slot)
Touches (fenced): schedule:<id>, sslots:<id>, srefill, meta (scheduleDue, scheduleRefill),
wake
ARGV[1] schedule id
ARGV[2] the definition's digest
ARGV[3] the definition as JSON (shown by reads)
ARGV[4] how many field/value pairs follow (the stored fields: kind, period, catch-up rule,
        end, limit, the runs' task fields; '' removes a field)
ARGV[5..] the pairs, then, for a cron schedule, its slots after now (epoch ms, ascending,
        maybe ending with the end marker)

Returns {change, next slot or ''}: change 0 when the stored digest is the same (nothing is
written: redeploying replicas that all call schedule() creates nothing and moves nothing),
1 created, 2 changed. A changed schedule keeps its runs, last slot and pause, and goes on
from its new definition's first slot after now (and after its last slot), or, when a slot
of the old one is due and has not run yet, from that slot on (caught up by its rule).

Why one script: the digest check and the write must see one state, so concurrent callers
with one definition leave one schedule and one next slot.
]]
--@include lib/events.lua
--@include lib/schedules.lua

local id, digest = ARGV[1], ARGV[2]
local skey = key(R.schedule, id)
local old = redis.call('HMGET', skey, SF.digest, SF.paused, SF.last, SF.next)
if old[1] == digest then
  return { 0, old[4] or '' }
end
local now = now_ms()
local pairs_count = tonumber(ARGV[4])
local set, unset = { SF.def, ARGV[3], SF.digest, digest, SF.updatedAt, int(now) }, {}
local kind, every, anchor
for i = 5, 4 + pairs_count * 2, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  if value == '' then
    unset[#unset + 1] = field
  else
    set[#set + 1] = field
    set[#set + 1] = value
  end
  if field == SF.kind then
    kind = value
  elseif field == SF.everyMs then
    every = tonumber(value)
  elseif field == SF.anchor then
    anchor = tonumber(value)
  end
end
if not old[1] then
  set[#set + 1] = SF.createdAt
  set[#set + 1] = int(now)
  set[#set + 1] = SF.runs
  set[#set + 1] = 0
end
redis.call('HSET', skey, unpack(set))
if #unset > 0 then
  redis.call('HDEL', skey, unpack(unset))
end
redis.call('SREM', key(R.srefill), id)
sync_schedule_refill()

-- Slots from after now on; but a slot of the old definition that is due and has not run
-- yet (its workers were down for the deploy that changed it) is not dropped: the new
-- definition's slots from it on are due at once, under its catch-up rule.
local after = math.max(now, tonumber(old[3]) or 0)
local pending = tonumber(old[4])
if pending and pending <= now and old[2] ~= '1' then
  after = math.max(pending - 1, tonumber(old[3]) or -1)
end
local first
if kind == 'e' then
  redis.call('DEL', key(R.sslots, id))
  first = every_slot_after(anchor, every, after)
else
  first = list_cron_slots(id, ARGV, 5 + pairs_count * 2, after)
end
local v = redis.call('HMGET', skey, SF.endAt, SF.limit, SF.runs)
local end_at, limit = tonumber(v[1]), tonumber(v[2])
if first and ((end_at and first > end_at) or (limit and tonumber(v[3]) >= limit)) then
  first = nil
end
place_schedule(id, first, old[2] == '1')
sync_schedule_due()
wake()
return { old[1] and 2 or 1, first and int(first) or '' }
