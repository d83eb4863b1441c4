--[[ schedule-pause: pause a schedule (no slot falls due), or resume it.

KEYS[1] fence, KEYS[2] schedules (zset: schedule id -> next slot)
Touches (fenced): schedule:<id>, sslots:<id>, meta (scheduleDue), wake
ARGV[1] schedule id
ARGV[2] '1' pause, '' resume
ARGV[3] resuming: the digest of the definition the slots were computed for
ARGV[4..] resuming a cron schedule: its slots after now (epoch ms, ascending, maybe ending
        with the end marker)

Returns {status, next slot or ''}: OK, TASK_NOT_FOUND when there is no such schedule, or
INVALID_STATE when resuming with slots of a definition changed meanwhile (nothing written:
compute them again). Resuming goes on from the first slot after now: the slots that passed
while it was paused are skipped. Resuming a schedule that is not paused changes nothing.
]]
--@include lib/events.lua
--@include lib/schedules.lua

local id = ARGV[1]
local skey = key(R.schedule, id)
local v = redis.call('HMGET', skey, SF.kind, SF.everyMs, SF.anchor, SF.last, SF.ended, SF.next, SF.paused, SF.digest)
if not v[1] then
  return { STATUS.TASK_NOT_FOUND, '' }
end
if ARGV[2] == '1' then
  redis.call('HSET', skey, SF.paused, '1', SF.updatedAt, int(now_ms()))
  redis.call('ZADD', KEYS[2], 'inf', id)
  sync_schedule_due()
  return { STATUS.OK, v[6] or '' }
end
if v[7] ~= '1' then
  return { STATUS.OK, v[6] or '' } -- not paused: nothing to resume
end
if v[8] ~= ARGV[3] then
  return { STATUS.INVALID_STATE, '' }
end
local now = now_ms()
redis.call('HDEL', skey, SF.paused)
redis.call('HSET', skey, SF.updatedAt, int(now))
if v[5] == '1' then
  return { STATUS.OK, '' } -- ended: nothing falls due any more
end
local after = math.max(now, tonumber(v[4]) or 0)
local first
if v[1] == 'e' then
  first = every_slot_after(tonumber(v[3]), tonumber(v[2]), after)
else
  first = list_cron_slots(id, ARGV, 4, after)
end
local limits = redis.call('HMGET', skey, SF.endAt)
if first and limits[1] and first > tonumber(limits[1]) then
  first = nil
end
place_schedule(id, first, false)
sync_schedule_due()
wake()
return { STATUS.OK, first and int(first) or '' }
