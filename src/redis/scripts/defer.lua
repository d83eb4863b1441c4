--[[ defer: handlers hit an upstream limit (RateLimitedError): their tasks go back in line
without using an attempt, and their queue (or their group) claims nothing until the delay
is over.

KEYS[1] fence, KEYS[2] meta (hash: limitedUntil, epoch ms)
Touches (fenced): task:<id>, active, waiting:<priority>, priorities, wake, progress channel; for
grouped tasks their group's line and slots (gwaiting, gpriorities, gstate, groups, gactive,
gparked), and with scope 'group' its hold in glimits
ARGV[1] scope: 'queue' (the whole queue is held) or 'group' (only each task's group; a task
        without a group holds the queue)
ARGV[2] delay ms: nothing is claimed from the held queue or group for this long
ARGV[3..] per task, 2 values: id, lease token

Returns one status per task: OK (back in line, first) or LEASE_LOST (nothing changed). A
hold only grows: a shorter delay than one in force changes nothing.

Why one script: the token check, the return to the line and the hold are one step, so no
worker claims the task (or another of its queue or group) before the hold is in place.
]]
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/groups.lua

local now = now_ms()
local until_ms = now + tonumber(ARGV[2])
local by_group = ARGV[1] == 'group'

-- A hold only grows.
local function hold(hash, field)
  local held = tonumber(redis.call('HGET', hash, field))
  if not held or held < until_ms then
    redis.call('HSET', hash, field, int(until_ms))
  end
end

local active = key(R.active)
local out, back, freed = {}, {}, {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local tkey = task_key(id)
  local v = redis.call('HMGET', tkey, F.state, F.startedAt, F.priority, F.group, F.groupSlot)
  if v[1] ~= S.active or v[2] ~= token then
    out[#out + 1] = STATUS.LEASE_LOST
  else
    if by_group and v[4] then
      hold(key(R.glimits), v[4] .. '|' .. GL.limitedUntil)
    else
      hold(KEYS[2], M.limitedUntil)
    end
    redis.call('ZREM', active, id)
    redis.call('HINCRBY', tkey, F.attempt, -1)
    redis.call('HSET', tkey, F.state, S.waiting)
    free_slot(tkey, v[4], v[5], freed)
    requeue(id, v[3], v[4])
    back[#back + 1] = id
    out[#out + 1] = STATUS.OK
  end
end
group_slots_freed(freed)
if #back > 0 then
  -- A worker blocked in its idle wait claims again: it learns when the hold ends (or takes
  -- the task, if only its group is held and others may run).
  wake()
  publish('waiting', back)
end
return out
