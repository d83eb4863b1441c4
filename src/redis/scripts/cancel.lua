--[[ cancel: end a task that has not finished, as `cancelled`.

KEYS[1] fence, KEYS[2] the task's hash
Touches (fenced): the list or set of its state (waiting:<priority> and priorities,
delayed, active or dependencies; a grouped task's group line, or its slot), cancelled (newest first), dedupe:<key>, settings (the failed-task
retention, which cancelled tasks follow; concurrency), wake, events channel, notices (a
flow child tells its parent: lib/tree.lua)
ARGV[1] task id

Returns {OK} cancelled, {TASK_NOT_FOUND}, {INVALID_STATE, state} (already finished).
An active task's lease is voided: its worker's heartbeat reports it lost (aborting the
handler's signal) and its result is refused. A flow parent's children are cancelled after
this by its caller (the Flows layer reads `deps:<id>`).
]]
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/finish.lua
--@include lib/flow.lua
--@include lib/settings.lua
--@include lib/groups.lua
--@include lib/tree.lua

local id = ARGV[1]
local tkey = KEYS[2]
local v = redis.call('HMGET', tkey, F.state, F.priority, F.dedupeKey, F.createdAt, F.group, F.groupSlot, F.parent)
local state = v[1]
if not state then
  return { STATUS.TASK_NOT_FOUND }
end
if state ~= S.waiting and state ~= S.delayed and state ~= S.active and state ~= S.dependencies then
  return { STATUS.INVALID_STATE, state }
end
unlist(id, state, v[2], v[5])
local now = now_ms()
redis.call('HSET', tkey, F.state, S.cancelled, F.finishedAt, since_created(v[4], now))
redis.call('HDEL', tkey, F.runAt)
release_dedupe(id, v[3])
redis.call('LPUSH', key(R.cancelled), id)
local limits = settings({ 'failedCount', 'failedMaxAgeMs', 'concurrency' })
trim(R.cancelled, limits.failedCount, limits.failedMaxAgeMs, now)
publish('cancelled', { id })
notify_parent(id, tkey, v[7], S.cancelled)
if state == S.active then
  local freed = {}
  free_slot(tkey, v[5], v[6], freed)
  group_slots_freed(freed)
  slot_freed(limits)
end
return { STATUS.OK }
