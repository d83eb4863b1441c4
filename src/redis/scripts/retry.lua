--[[ retry: give a failed or cancelled task a fresh set of attempts.

KEYS[1] fence, KEYS[2] the task's hash
Touches (fenced): failed or cancelled, waiting:<priority>, priorities, dedupe:<key>, wake,
progress channel, notices (a flow child tells its parent it runs again: lib/tree.lua)
ARGV[1] task id

Returns {OK} requeued, {TASK_NOT_FOUND}, {INVALID_STATE, state}. The attempt history is
kept and its numbering goes on (priorAttempts counts the runs before this retry); the
attempt counter, which the retry policy reads, starts again. The dedupe key is taken back
only if no other live task holds it meanwhile.
]]
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/groups.lua
--@include lib/tree.lua

local id = ARGV[1]
local tkey = KEYS[2]
local v = redis.call('HMGET', tkey, F.state, F.priority, F.dedupeKey, F.attempt, F.priorAttempts, F.group, F.parent)
local state = v[1]
if not state then
  return { STATUS.TASK_NOT_FOUND }
end
if state ~= S.failed and state ~= S.cancelled then
  return { STATUS.INVALID_STATE, state }
end
unlist(id, state, v[2], v[6])
local prior = (tonumber(v[4]) or 0) + (tonumber(v[5]) or 0)
if prior > 0 then
  redis.call('HSET', tkey, F.state, S.waiting, F.attempt, 0, F.priorAttempts, prior)
else
  redis.call('HSET', tkey, F.state, S.waiting, F.attempt, 0)
end
redis.call('HDEL', tkey, F.finishedAt, F.error)
if v[3] then
  redis.call('SET', key(R.dedupe, v[3]), id, 'NX')
end
if v[6] then
  group_push(v[6], id, v[2] or '0', false)
else
  push_waiting(id, v[2] or '0', false)
end
wake()
publish('waiting', { id })
notify_parent(id, tkey, v[7], 'r')
return { STATUS.OK }
