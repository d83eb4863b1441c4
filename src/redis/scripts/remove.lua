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
if state == S.waiting then
  remove_waiting(base, id, v[2] or '0')
elseif state == S.delayed then
  redis.call('ZREM', KEYS[1], id)
elseif state == S.active then
  redis.call('ZREM', KEYS[2], id)
elseif state == S.completed then
  redis.call('LREM', KEYS[3], 1, id)
elseif state == S.failed then
  redis.call('LREM', KEYS[4], 1, id)
elseif state == S.cancelled then
  redis.call('LREM', KEYS[5], 1, id)
end
release_dedupe(base, id, v[3])
redis.call('DEL', tkey)
publish(base, 'removed', { id })
return { 0 }
