--[[ cancel: end a task that has not finished, as `cancelled`.

KEYS[1] delayed   (zset)
KEYS[2] active    (zset)
KEYS[3] cancelled (list, newest first)
ARGV[1] base
ARGV[2] task id
ARGV[3] retention count, ARGV[4] retention maxAgeMs (the failed-task retention)

Returns {0} cancelled, {2} TASK_NOT_FOUND, {3, state} INVALID_STATE (already finished).
An active task's lease is voided: its worker's heartbeat reports it lost (aborting the
handler's signal) and its result is refused.
]]
--@include lib/common.lua

local base, id = ARGV[1], ARGV[2]
local tkey = task_key(base, id)
local v = redis.call('HMGET', tkey, F.state, F.priority, F.dedupeKey, F.createdAt)
local state = v[1]
if not state then
  return { 2 }
end
if state ~= S.waiting and state ~= S.delayed and state ~= S.active then
  return { 3, state }
end
unlist(base, id, state, v[2])
local now = now_ms()
redis.call('HSET', tkey, F.state, S.cancelled, F.finishedAt, since_created(v[4], now))
redis.call('HDEL', tkey, F.runAt)
release_dedupe(base, id, v[3])
redis.call('LPUSH', KEYS[3], id)
trim(base, 'cancelled', tonumber(ARGV[3]), tonumber(ARGV[4]), now)
publish(base, 'cancelled', { id })
return { 0 }
