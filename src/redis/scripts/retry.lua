--[[ retry: give a failed or cancelled task a fresh set of attempts.

KEYS[1] failed    (list)
KEYS[2] cancelled (list)
ARGV[1] base
ARGV[2] task id

Returns {0} requeued, {2} TASK_NOT_FOUND, {3, state} INVALID_STATE. The attempt history is
kept; the attempt counter starts again. The dedupe key is taken back only if no other live
task holds it meanwhile.
]]
--@include lib/common.lua

local base, id = ARGV[1], ARGV[2]
local tkey = task_key(base, id)
local v = redis.call('HMGET', tkey, F.state, F.priority, F.dedupeKey)
local state = v[1]
if not state then
  return { 2 }
end
if state ~= S.failed and state ~= S.cancelled then
  return { 3, state }
end
unlist(base, id, state, v[2])
redis.call('HSET', tkey, F.state, S.waiting, F.attempt, 0)
redis.call('HDEL', tkey, F.finishedAt, F.error)
if v[3] then
  redis.call('SET', base .. 'dedupe:' .. v[3], id, 'NX')
end
push_waiting(base, id, v[2] or '0', false)
wake(base)
publish(base, 'waiting', { id })
return { 0 }
