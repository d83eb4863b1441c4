--[[ schedule-fire: create the runs of the schedule slots that are due.

KEYS[1] fence, KEYS[2] meta (hash: scheduleDue, scheduleRefill, enqueued counter)
Touches (fenced): schedules, schedule:<id>, sslots:<id>, srefill, task:<id>,
waiting:<priority>, priorities, the group keys of runs with a group, wake, progress channel

Returns {refill, scheduleDueInMs}: how many cron schedules wait for their slots to be
computed (the worker computes them), and ms until the next slot falls due (-1: none; 0:
more is due than one call creates: call again). Wakes an idle worker when it created runs.

Why one script: a slot's run and the schedule's move to its next slot are one step, so a
slot gets one task however many workers call this at once (see lib/schedules.lua).
]]
--@include lib/events.lua
--@include lib/schedules.lua

local now = now_ms()
local due = tonumber(redis.call('HGET', KEYS[2], M.scheduleDue))
if due and due <= now then
  if fire_schedules(now) > 0 then
    wake()
  end
  due = tonumber(redis.call('HGET', KEYS[2], M.scheduleDue))
end
local due_in = -1
if due then
  due_in = math.max(due - now, 0)
end
return { tonumber(redis.call('HGET', KEYS[2], M.scheduleRefill)) or 0, due_in }
