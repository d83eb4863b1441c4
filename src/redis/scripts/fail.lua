--[[ fail: record failed attempts of a batch of tasks; retry each or dead-letter it.

KEYS[1] meta    (hash: failed counter)
KEYS[2] active  (zset)
KEYS[3] delayed (zset: retries wait here for their backoff)
KEYS[4] failed  (list, newest first: the dead-letter list)
ARGV[1] base
ARGV[2] failed retention count, ARGV[3] failed retention maxAgeMs
ARGV[4..] per task, 4 values: id, lease token, error JSON, retry delay ms
          (-1 = do not retry: unrecoverable, or the worker judged attempts exhausted)

Returns one status per task: 0 retry scheduled, 5 dead-lettered, 1 LEASE_LOST (nothing
changed).

Why one script: the token check, the attempt's history entry and the move to delayed or
failed must be atomic, so a stale holder can never fail a task another worker now runs.
]]
--@include lib/common.lua

local base = ARGV[1]
local now = now_ms()
local out, retrying, failed = {}, {}, {}
for i = 4, #ARGV, 4 do
  local id, token, error_json, retry_delay = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local tkey = task_key(base, id)
  local v = redis.call('HMGET', tkey, F.state, F.startedAt, F.attempt, F.maxAttempts, F.dedupeKey, F.createdAt)
  if v[1] ~= S.active or v[2] ~= token then
    out[#out + 1] = 1
  else
    redis.call('ZREM', KEYS[2], id)
    record_attempt_error(tkey, v[3], after_created(v[6], v[2]), now, error_json)
    if retry_delay >= 0 and tonumber(v[3]) < (tonumber(v[4]) or DEFAULT_ATTEMPTS) then
      local due = now + retry_delay
      redis.call('HSET', tkey, F.state, S.delayed, F.runAt, since_created(v[6], due))
      redis.call('ZADD', KEYS[3], due, id)
      retrying[#retrying + 1] = id
      out[#out + 1] = 0
    else
      dead_letter(base, id, tkey, now, v[5], v[6])
      failed[#failed + 1] = id
      out[#out + 1] = 5
    end
  end
end

if #retrying > 0 then
  wake(base)
  publish(base, 'delayed', retrying)
end
if #failed > 0 then
  count_finished(base, 'failed', #failed, now)
  trim(base, 'failed', tonumber(ARGV[2]), tonumber(ARGV[3]), now)
  publish(base, 'failed', failed)
end
return out
