-- The `active` zset of leases: its encoding sentinel, its earliest deadline, and the reaper
-- of leases past their deadline.
--@include lib/base.lua
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/finish.lua
--@include lib/groups.lua

-- A member every non-empty `active` zset carries, scored +inf (after every deadline). It
-- is longer than zset-max-listpack-value (64 bytes by default), so Redis keeps the zset in
-- its skiplist encoding: in the compact listpack encoding, used up to 128 members, every
-- ZADD scans the whole zset, and a claim of 50 leases into ~100 costs ten times as much.
-- '|' never occurs in a task id. Readers skip it: deadlines are read up to `now`, sizes
-- and pages up to (+inf.
local LEASE_SENTINEL = '|errand: this member keeps the active zset in the skiplist encoding|'

-- The lowest score of a zset (a due time, a lease deadline), nil when there is none.
local function earliest(zset)
  local first = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')
  if first[1] and first[1] ~= LEASE_SENTINEL then
    return tonumber(first[2])
  end
end

local LEASE_EXPIRED = '{"name":"LeaseExpiredError","message":"the lease expired before the task finished: ' ..
  'the worker crashed, stalled or lost its connection"}'

-- Leases past their deadline: the attempt counts as failed; the task goes back to the
-- front of its waiting list, or to the dead-letter list when no attempts remain.
-- Returns how many leases were reaped.
local function reap_expired(now, limit, failed_keep_count, failed_max_age_ms)
  local active = key(R.active)
  local ids = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, limit)
  local requeued, failed, freed = {}, {}, {}
  for _, id in ipairs(ids) do
    redis.call('ZREM', active, id)
    local tkey = task_key(id)
    local v = redis.call('HMGET', tkey, F.attempt, F.maxAttempts, F.startedAt, F.priority, F.dedupeKey, F.createdAt, F.priorAttempts, F.group, F.groupSlot)
    if v[1] then
      record_attempt_error(tkey, v[1], v[7], after_created(v[6], v[3]), now, LEASE_EXPIRED)
      free_slot(tkey, v[8], v[9], freed)
      if tonumber(v[1]) >= (tonumber(v[2]) or DEFAULT_ATTEMPTS) then
        dead_letter(id, tkey, now, v[5], v[6])
        failed[#failed + 1] = id
      else
        redis.call('HSET', tkey, F.state, S.waiting)
        requeue(id, v[4], v[8])
        requeued[#requeued + 1] = id
      end
    end
  end
  group_slots_freed(freed)
  if #requeued > 0 then
    wake()
    publish('waiting', requeued)
  end
  if #failed > 0 then
    -- Their leases held slots (a concurrency limit may have kept idle workers waiting).
    if #requeued == 0 and (redis.call('ZCARD', key(R.priorities)) > 0 or redis.call('LLEN', key(R.groups)) > 0) then
      wake()
    end
    count_finished(M.failed, #failed, now)
    trim(R.failed, failed_keep_count, failed_max_age_ms, now)
    publish('failed', failed)
  end
  return #ids
end
