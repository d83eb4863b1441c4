--[[ remove: delete a task, whatever its state.

KEYS[1] fence, KEYS[2] the task's hash
Touches (fenced): the list or set of its state (waiting:<priority> and priorities,
delayed, active, completed, failed or cancelled; a grouped task's group line, or its slot),
dependencies, held, dedupe:<key>, logs:<id>, deps:<id> (a flow parent's children), notices (a
flow child removed before it finished tells its parent, as if cancelled), settings (concurrency) and wake (an active task's slot freed),
events channel
ARGV[1] task id, ARGV[2] '1': a node of a flow whose `add` never committed (the sweep's
        clean-up): removed only while in the `dependencies` state, and its parent, itself
        uncommitted, is not told (so it is never released); else ''

Returns {OK} removed, {TASK_NOT_FOUND}, {INVALID_STATE, state} (an abandoned node that is
not in `dependencies` any more). A removed active task's worker finds its lease lost at the
next heartbeat; its result is refused.
]]
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/finish.lua
--@include lib/groups.lua
--@include lib/flow.lua
--@include lib/settings.lua
--@include lib/tree.lua

local id = ARGV[1]
local tkey = KEYS[2]
local v = redis.call('HMGET', tkey, F.state, F.priority, F.dedupeKey, F.group, F.groupSlot, F.parent)
local state = v[1]
if not state then
  return { STATUS.TASK_NOT_FOUND }
end
local abandoned = ARGV[2] == '1'
if abandoned and state ~= S.dependencies then
  redis.call('ZREM', key(R.held), id) -- the sweep need not look at it again
  return { STATUS.INVALID_STATE, state }
end
unlist(id, state, v[2], v[4])
if state == S.dependencies then
  redis.call('ZREM', key(R.held), id)
end
if state == S.active then
  local freed = {}
  free_slot(tkey, v[4], v[5], freed)
  group_slots_freed(freed)
  slot_freed(settings({ 'concurrency' }))
end
release_dedupe(id, v[3])
if state ~= S.completed and state ~= S.failed and state ~= S.cancelled and not abandoned then
  notify_parent(id, tkey, v[6], S.cancelled)
end
redis.call('DEL', key(R.deps, id), unpack(task_keys({ id })))
publish('removed', { id })
return { STATUS.OK }
