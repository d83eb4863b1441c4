--[[ schedule-run: run a schedule now, besides its slots (its next slot does not move).

KEYS[1] fence, KEYS[2] meta (hash: enqueued counter)
Touches (fenced): schedule:<id>, task:<id>, waiting:<priority>, priorities, gwaiting,
gpriorities, gstate, groups (a run with a group), settings (maxWaiting), wake, progress
channel
ARGV[1] schedule id

Returns {OK, task id}, {TASK_NOT_FOUND} when there is no such schedule, or {QUEUE_FULL,
maxWaiting} when the queue is at its capacity (nothing written). The run's id is
`<run prefix><schedule id>:now:<epoch ms>` (`.1`, `.2`, ... after it for more in one ms).
]]
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/settings.lua
--@include lib/schedules.lua

local id = ARGV[1]
local skey = key(R.schedule, id)
local v = redis.call('HMGET', skey, unpack(FIRE_FIELDS))
if not v[1] then
  return { STATUS.TASK_NOT_FOUND }
end
local capacity = settings({ 'maxWaiting' }).maxWaiting
if capacity and waiting_count() + 1 > capacity then
  return { STATUS.QUEUE_FULL, capacity }
end
local now = now_ms()
-- Two runs asked for in one millisecond get two tasks: the second id gets `.1`, and so on.
local tid = SCHEDULE_RUN_PREFIX .. id .. ':now:' .. int(now)
local n = 0
while redis.call('EXISTS', task_key(tid)) == 1 and n < 100 do
  n = n + 1
  tid = SCHEDULE_RUN_PREFIX .. id .. ':now:' .. int(now) .. '.' .. n
end
if create_run(tid, v, now) then
  redis.call('HINCRBY', KEYS[2], M.enqueued, 1)
  redis.call('HSET', skey, SF.lastTask, tid, SF.lastRunAt, int(now), SF.runs, (tonumber(v[10]) or 0) + 1)
  publish('waiting', { tid })
  wake()
end
return { STATUS.OK, tid }
