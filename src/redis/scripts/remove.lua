--[[ remove: delete a task, whatever its state.

KEYS[1] delayed, KEYS[2] active, KEYS[3] completed, KEYS[4] failed, KEYS[5] cancelled
ARGV[1] base
ARGV[2] task id

Returns {0} removed, {2} TASK_NOT_FOUND. A removed active task's worker finds its lease
lost at the next heartbeat; its result is refused.
]]
--@include lib/common.lua

local base, id = ARGV[1], ARGV[2]
local tkey = task_key(base, id)
local v = redis.call('HMGET', tkey, F.state, F.priority, F.dedupeKey)
local state = v[1]
if not state then
  return { 2 }
end
unlist(base, id, state, v[2])
release_dedupe(base, id, v[3])
redis.call('DEL', tkey)
publish(base, 'removed', { id })
return { 0 }
