-- What every move to a final state shares: counters, dedupe release, attempt history,
-- the dead-letter move, and trimming of finished lists.
--@include lib/base.lua
--@include lib/tree.lua

-- Counts finished tasks in the queue's lifetime totals (meta field `kind`: M.completed or
-- M.failed) and in per-minute buckets for throughput charts: one hash per hour,
-- `stats:<epoch hour>`, fields `<epoch minute>:<kind>`, expiring a day after its hour.
-- Two calls per batch, none per task.
local function count_finished(kind, n, now)
  redis.call('HINCRBY', key(R.meta), kind, n)
  local minute = math.floor(now / 60000)
  local stats = key(R.stats, int(math.floor(minute / 60)))
  -- A minute's first count sets the hour's expiry; later counts need not repeat it.
  if redis.call('HINCRBY', stats, int(minute) .. ':' .. kind, n) == n then
    redis.call('PEXPIRE', stats, 25 * 3600000)
  end
end

-- A finished task frees its dedupe key, so the next enqueue with that key creates a task.
local function release_dedupe(id, dedupe_key)
  if dedupe_key then
    local dkey = key(R.dedupe, dedupe_key)
    if redis.call('GET', dkey) == id then
      redis.call('DEL', dkey)
    end
  end
end

-- Appends a failed attempt to the task's history (a JSON array kept as text, so appending
-- needs no decoding) and makes it the task's current error. Attempts are numbered across
-- manual retries: `prior` is how many ran before the latest one.
local function record_attempt_error(tkey, attempt, prior, started_at, now, error_json)
  local number = (tonumber(attempt) or 0) + (tonumber(prior) or 0)
  local entry = '{"attempt":' .. int(number) .. ',"startedAt":' .. (started_at and int(started_at) or 'null') ..
    ',"finishedAt":' .. int(now) .. ',"error":' .. error_json .. '}'
  local history = redis.call('HGET', tkey, F.history)
  if history then
    history = string.sub(history, 1, -2) .. ',' .. entry .. ']'
  else
    history = '[' .. entry .. ']'
  end
  redis.call('HSET', tkey, F.history, history, F.error, error_json)
end

-- Finished-task lists (completed, failed, cancelled) are newest first; trimming pops the
-- oldest off the right end and deletes their hashes. Bounded work per call: the rest goes
-- at the next call. With no `max_age_ms` only the count is enforced (the hot path leaves
-- age to the workers' heartbeats: two calls less per batch).
local function trim(list_role, keep_count, max_age_ms, now, length)
  local list = key(list_role)
  local excess = (length or redis.call('LLEN', list)) - keep_count
  if excess > 0 then
    call_many('DEL', nil, task_keys(redis.call('RPOP', list, math.min(excess, 1000))))
  end
  if not max_age_ms then
    return
  end
  local cutoff = now - max_age_ms
  for _ = 1, 100 do
    local id = redis.call('LINDEX', list, -1)
    if not id then
      break
    end
    local t = redis.call('HMGET', task_key(id), F.finishedAt, F.createdAt)
    local finished_at = t[2] and after_created(t[2], t[1])
    if finished_at and finished_at > cutoff then
      break
    end
    redis.call('RPOP', list)
    redis.call('DEL', unpack(task_keys({ id })))
  end
end

local function dead_letter(id, tkey, now, dedupe_key, created_at)
  redis.call('HSET', tkey, F.state, S.failed, F.finishedAt, since_created(created_at, now))
  redis.call('HDEL', tkey, F.runAt)
  release_dedupe(id, dedupe_key)
  redis.call('LPUSH', key(R.failed), id)
  local v = redis.call('HMGET', tkey, F.parent, F.error)
  notify_parent(id, tkey, v[1], S.failed, v[2])
end
