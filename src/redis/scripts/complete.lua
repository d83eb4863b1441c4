--[[ complete: record the results of a batch of tasks whose handlers succeeded.

KEYS[1] meta      (hash: completed counter)
KEYS[2] active    (zset)
KEYS[3] completed (list, newest first)
ARGV[1] base
ARGV[2] completed retention count (0 = delete the task at once)
ARGV[3] completed retention maxAgeMs
ARGV[4..] per task, 3 values: id, lease token, result JSON ('' = undefined)

The batch is announced on the events channel with the results when they total at most
64 KiB, so waiters need not read them back (and get them even if retention already
removed the task).

Returns one status per task: 0 OK, 1 LEASE_LOST (the token is not the current lease, or
the task is no longer active: the write changed nothing).

Why one script: the token check and the move to `completed` must be atomic, or a stale
holder could overwrite the result of the worker that holds the task now.
]]
--@include lib/common.lua

local base = ARGV[1]
local keep_count = tonumber(ARGV[2])
local now = now_ms()
local out, done, results = {}, {}, {}
local results_bytes = 0
for i = 4, #ARGV, 3 do
  local id, token, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local tkey = task_key(base, id)
  local v = redis.call('HMGET', tkey, F.state, F.startedAt, F.dedupeKey, F.createdAt)
  if v[1] ~= S.active or v[2] ~= token then
    out[#out + 1] = 1
  else
    release_dedupe(base, id, v[3])
    if keep_count > 0 then
      local finished = since_created(v[4], now)
      if result == '' then
        redis.call('HSET', tkey, F.state, S.completed, F.finishedAt, finished)
      else
        redis.call('HSET', tkey, F.state, S.completed, F.finishedAt, finished, F.result, result)
      end
    end
    done[#done + 1] = id
    results[#done] = result
    results_bytes = results_bytes + #result + 1
    out[#out + 1] = 0
  end
end

if #done > 0 then
  call_many('ZREM', KEYS[2], done)
  count_finished(base, 'completed', #done, now)
  if keep_count > 0 then
    trim(base, 'completed', keep_count, tonumber(ARGV[3]), now, call_many('LPUSH', KEYS[3], done))
  else
    call_many('DEL', nil, task_keys(base, done))
  end
  if results_bytes <= 65536 then
    publish(base, 'completed', done, results)
  else
    publish(base, 'completed', done)
  end
end
return out
