--[[ fail: record failed attempts of a batch of tasks; retry each or dead-letter it.

KEYS[1] fence, KEYS[2] meta (hash: failed counter)
Touches (fenced): task:<id>, active, delayed (retries wait there for their backoff),
failed (the dead-letter list, newest first), dedupe:<key>, stats:<hour>, settings (failed
retention, concurrency), wake, events and progress channels
Touches (fenced), for tasks of a group holding one of its concurrency slots: gactive,
gparked, gstate, glimits, groups
ARGV[1..] per task, 4 values: id, lease token, error JSON, retry delay ms
          (-1 = do not retry: unrecoverable, or the worker judged attempts exhausted)

Returns one status per task: OK (retry scheduled), DEAD_LETTERED, or LEASE_LOST (nothing
changed).

Why one script: the token check, the attempt's history entry and the move to delayed or
failed must be atomic, so a stale holder can never fail a task another worker now runs.
]]
--@include lib/events.lua
--@include lib/finish.lua
--@include lib/flow.lua
--@include lib/settings.lua
--@include lib/groups.lua

local now = now_ms()
local limits = settings({ 'failedCount', 'failedMaxAgeMs', 'concurrency' })
local active, delayed = key(R.active), key(R.delayed)
local out, retrying, failed, freed = {}, {}, {}, {}
for i = 1, #ARGV, 4 do
  local id, token, error_json, retry_delay = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local tkey = task_key(id)
  local v = redis.call('HMGET', tkey, F.state, F.startedAt, F.attempt, F.maxAttempts, F.dedupeKey, F.createdAt, F.priorAttempts, F.group, F.groupSlot)
  if v[1] ~= S.active or v[2] ~= token then
    out[#out + 1] = STATUS.LEASE_LOST
  else
    redis.call('ZREM', active, id)
    free_slot(tkey, v[8], v[9], freed)
    record_attempt_error(tkey, v[3], v[7], after_created(v[6], v[2]), now, error_json)
    if retry_delay >= 0 and tonumber(v[3]) < (tonumber(v[4]) or DEFAULT_ATTEMPTS) then
      local due = now + retry_delay
      redis.call('HSET', tkey, F.state, S.delayed, F.runAt, since_created(v[6], due))
      redis.call('ZADD', delayed, due, id)
      retrying[#retrying + 1] = id
      out[#out + 1] = STATUS.OK
    else
      dead_letter(id, tkey, now, v[5], v[6])
      failed[#failed + 1] = id
      out[#out + 1] = STATUS.DEAD_LETTERED
    end
  end
end

group_slots_freed(freed)
if #retrying > 0 then
  wake()
  publish('delayed', retrying)
end
if #failed > 0 then
  count_finished(M.failed, #failed, now)
  trim(R.failed, limits.failedCount, limits.failedMaxAgeMs, now)
  publish('failed', failed)
  slot_freed(limits)
end
return out
