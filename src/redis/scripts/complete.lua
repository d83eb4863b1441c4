--[[ complete: record the results of a batch of tasks whose handlers succeeded.

KEYS[1] meta      (hash: completed counter)
KEYS[2] active    (zset)
KEYS[3] completed (list, newest first)
ARGV[1] base
ARGV[2] completed retention count (0 = delete the task at once)
ARGV[3] completed retention maxAgeMs
ARGV[4..] per task, 3 values: id, lease token, result JSON ('' = undefined)

Returns one status per task: 0 OK, 1 LEASE_LOST (the token is not the current lease, or
the task is no longer active: the write changed nothing).

Why one script: the token check and the move to `completed` must be atomic, or a stale
holder could overwrite the result of the worker that holds the task now.
]]
--@include lib/common.lua

local base = ARGV[1]
local keep_count = tonumber(ARGV[2])
local now = now_ms()
local now_text = int(now)
local out, done = {}, {}
for i = 4, #ARGV, 3 do
  local id, token, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local tkey = task_key(base, id)
  local v = redis.call('HMGET', tkey, F.state, F.lease, F.dedupeKey)
  if v[1] ~= 'active' or v[2] ~= token then
    out[#out + 1] = 1
  else
    redis.call('ZREM', KEYS[2], id)
    release_dedupe(base, id, v[3])
    if keep_count == 0 then
      redis.call('DEL', tkey)
    else
      if result == '' then
        redis.call('HSET', tkey, F.state, 'completed', F.finishedAt, now_text)
      else
        redis.call('HSET', tkey, F.state, 'completed', F.finishedAt, now_text, F.result, result)
      end
      redis.call('HDEL', tkey, F.worker)
      redis.call('LPUSH', KEYS[3], id)
    end
    done[#done + 1] = id
    out[#out + 1] = 0
  end
end

if #done > 0 then
  redis.call('HINCRBY', KEYS[1], 'completed', #done)
  if keep_count > 0 then
    trim(base, 'completed', keep_count, tonumber(ARGV[3]), now)
  end
  publish(base, 'completed', done)
end
return out
