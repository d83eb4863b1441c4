-- Shared fragments of the queue scripts. Included (never copied) by scripts.ts, after a
-- generated prelude that defines F, the task-hash field names from keys.ts.
--
-- Conventions: `base` is "<prefix>:{<queue>}:"; times are milliseconds on the Redis
-- server's clock; ids travel as strings.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Lua's tostring turns large numbers into exponent notation; ids and times must not.
local function int(n)
  return string.format('%d', n)
end

-- Task times other than createdAt are stored as ms after createdAt: small numbers take a
-- few bytes in a hash where an epoch time takes nine, and every retained task has them.
local function since_created(created_at, t)
  return int(t - tonumber(created_at))
end

local function after_created(created_at, offset)
  if offset and offset ~= '' then
    return tonumber(created_at) + tonumber(offset)
  end
end

-- A member every non-empty `active` zset carries, scored +inf (after every deadline). It
-- is longer than zset-max-listpack-value (64 bytes by default), so Redis keeps the zset in
-- its skiplist encoding: in the compact listpack encoding, used up to 128 members, every
-- ZADD scans the whole zset, and a claim of 50 leases into ~100 costs ten times as much.
-- '|' never occurs in a task id. Readers skip it: deadlines are read up to `now`, sizes
-- and pages up to (+inf.
local LEASE_SENTINEL = '|errand: this member keeps the active zset in the skiplist encoding|'

local function task_key(base, id)
  return base .. 'task:' .. id
end

-- One variadic command for many items (ZADD, ZREM, LPUSH, DEL ...): a call from Lua costs
-- about as much as the work of one item, so batches use one call per 1,000 items
-- (unpack's stack limit is near 8,000) rather than one per item.
-- Returns the last call's reply (a list's length after LPUSH, say).
local function call_many(command, key, items, per_item)
  local step = 1000 * (per_item or 1)
  local reply
  for i = 1, #items, step do
    if key then
      reply = redis.call(command, key, unpack(items, i, math.min(i + step - 1, #items)))
    else
      reply = redis.call(command, unpack(items, i, math.min(i + step - 1, #items)))
    end
  end
  return reply
end

local function task_keys(base, ids)
  local keys = {}
  for i, id in ipairs(ids) do
    keys[i] = task_key(base, id)
  end
  return keys
end

-- Waiting tasks live in one list per priority level (newest on the left, next on the
-- right); `priorities` holds the non-empty levels, scored -priority so the highest sorts
-- first. `front` puts a task next in line (requeued work that already waited its turn).
local function push_waiting(base, id, priority, front)
  local list = base .. 'waiting:' .. priority
  local len
  if front then
    len = redis.call('RPUSH', list, id)
  else
    len = redis.call('LPUSH', list, id)
  end
  if len == 1 then
    redis.call('ZADD', base .. 'priorities', -tonumber(priority), priority)
  end
end

local function remove_waiting(base, id, priority)
  local list = base .. 'waiting:' .. priority
  local removed = redis.call('LREM', list, 1, id)
  if removed > 0 and redis.call('LLEN', list) == 0 then
    redis.call('ZREM', base .. 'priorities', priority)
  end
  return removed
end

-- Takes a task's id out of the list or set that holds tasks in its state (a state code).
local STATE_KEYS = { [S.delayed] = 'delayed', [S.active] = 'active' }
local FINISHED_LISTS = { [S.completed] = 'completed', [S.failed] = 'failed', [S.cancelled] = 'cancelled' }
local function unlist(base, id, state, priority)
  if state == S.waiting then
    remove_waiting(base, id, priority or '0')
  elseif STATE_KEYS[state] then
    redis.call('ZREM', base .. STATE_KEYS[state], id)
  elseif FINISHED_LISTS[state] then
    redis.call('LREM', base .. FINISHED_LISTS[state], 1, id)
  end
end

-- One marker member: idle workers block on BZPOPMIN of this key, so a wake-up is never
-- lost and never piles up.
local function wake(base)
  redis.call('ZADD', base .. 'wake', 0, 'w')
end

-- Counts finished tasks in the queue's lifetime totals (meta) and in per-minute buckets for
-- throughput charts: one hash per hour, `stats:<epoch hour>`, fields `<epoch minute>:<kind>`,
-- expiring a day after its hour. Two calls per batch, none per task.
local function count_finished(base, kind, n, now)
  redis.call('HINCRBY', base .. 'meta', kind, n)
  local minute = math.floor(now / 60000)
  local key = base .. 'stats:' .. int(math.floor(minute / 60))
  -- A minute's first count sets the hour's expiry; later counts need not repeat it.
  if redis.call('HINCRBY', key, int(minute) .. ':' .. kind, n) == n then
    redis.call('PEXPIRE', key, 25 * 3600000)
  end
end

-- One message per batch: "<state>|<id>,<id>,..." (ids never contain '|' or ','), then
-- optionally "|" and `created`, each task's createdAt (which incarnation of an id a caller
-- reused: a waiter takes a completed result only for the task it waits for), then
-- optionally "\n" and `details`, one line per id (results of a completed batch: JSON never
-- holds a raw newline). Outcomes go to `events`, where result waiters listen; other moves
-- to `progress`, which only task watchers hear (a producer awaiting results is not sent
-- every claim).
local OUTCOMES = { completed = true, failed = true, cancelled = true, removed = true }
local function publish(base, state, ids, details, created)
  if #ids > 0 then
    local message = state .. '|' .. table.concat(ids, ',')
    if created then
      message = message .. '|' .. table.concat(created, ',')
    end
    if details then
      message = message .. '\n' .. table.concat(details, '\n')
    end
    redis.call('PUBLISH', base .. (OUTCOMES[state] and 'events' or 'progress'), message)
  end
end

-- A finished task frees its dedupe key, so the next enqueue with that key creates a task.
local function release_dedupe(base, id, dedupe_key)
  if dedupe_key then
    local key = base .. 'dedupe:' .. dedupe_key
    if redis.call('GET', key) == id then
      redis.call('DEL', key)
    end
  end
end

-- Appends a failed attempt to the task's history (a JSON array kept as text, so appending
-- needs no decoding) and makes it the task's current error.
local function record_attempt_error(tkey, attempt, started_at, now, error_json)
  local entry = '{"attempt":' .. (attempt or '0') .. ',"startedAt":' .. (started_at and int(started_at) or 'null') ..
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
local function trim(base, list_name, keep_count, max_age_ms, now, length)
  local list = base .. list_name
  local excess = (length or redis.call('LLEN', list)) - keep_count
  if excess > 0 then
    call_many('DEL', nil, task_keys(base, redis.call('RPOP', list, math.min(excess, 1000))))
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
    local t = redis.call('HMGET', task_key(base, id), F.finishedAt, F.createdAt)
    local finished_at = t[2] and after_created(t[2], t[1])
    if finished_at and finished_at > cutoff then
      break
    end
    redis.call('RPOP', list)
    redis.call('DEL', task_key(base, id))
  end
end

local function dead_letter(base, id, tkey, now, dedupe_key, created_at)
  redis.call('HSET', tkey, F.state, S.failed, F.finishedAt, since_created(created_at, now))
  redis.call('HDEL', tkey, F.runAt)
  release_dedupe(base, id, dedupe_key)
  redis.call('LPUSH', base .. 'failed', id)
end

local LEASE_EXPIRED = '{"name":"LeaseExpiredError","message":"the lease expired before the task finished: ' ..
  'the worker crashed, stalled or lost its connection"}'

-- Leases past their deadline: the attempt counts as failed; the task goes back to the
-- front of its waiting list, or to the dead-letter list when no attempts remain.
-- Returns how many leases were reaped.
local function reap_expired(base, now, limit, failed_keep_count, failed_max_age_ms)
  local active = base .. 'active'
  local ids = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, limit)
  local requeued, failed = {}, {}
  for _, id in ipairs(ids) do
    redis.call('ZREM', active, id)
    local tkey = task_key(base, id)
    local v = redis.call('HMGET', tkey, F.attempt, F.maxAttempts, F.startedAt, F.priority, F.dedupeKey, F.createdAt)
    if v[1] then
      record_attempt_error(tkey, v[1], after_created(v[6], v[3]), now, LEASE_EXPIRED)
      if tonumber(v[1]) >= (tonumber(v[2]) or DEFAULT_ATTEMPTS) then
        dead_letter(base, id, tkey, now, v[5], v[6])
        failed[#failed + 1] = id
      else
        redis.call('HSET', tkey, F.state, S.waiting)
        push_waiting(base, id, v[4] or '0', true)
        requeued[#requeued + 1] = id
      end
    end
  end
  if #requeued > 0 then
    wake(base)
    publish(base, 'waiting', requeued)
  end
  if #failed > 0 then
    count_finished(base, 'failed', #failed, now)
    trim(base, 'failed', failed_keep_count, failed_max_age_ms, now)
    publish(base, 'failed', failed)
  end
  return #ids
end

-- Tasks in line (waiting at any priority, or delayed): what maxWaiting limits.
local function waiting_count(base)
  local waiting = redis.call('ZCARD', base .. 'delayed')
  for _, level in ipairs(redis.call('ZRANGE', base .. 'priorities', 0, -1)) do
    waiting = waiting + redis.call('LLEN', base .. 'waiting:' .. level)
  end
  return waiting
end

-- Pushes the ids a batch of create_task calls collected, per priority level, keeping their
-- order: one LPUSH per level instead of one per task.
local function push_batch(base, batch)
  for priority, ids in pairs(batch) do
    if call_many('LPUSH', base .. 'waiting:' .. priority, ids) == #ids then
      redis.call('ZADD', base .. 'priorities', -tonumber(priority), priority)
    end
  end
end

-- Creates one task hash and puts it in line: delayed when `due` (epoch ms) is later than
-- `now`, else waiting. Options are the encoded strings of enqueue's contract ('' = unset).
-- The caller chose the id, checked dedupe and capacity, and wakes the workers.
local function create_task(base, id, payload, priority, due, now, max_attempts, backoff, timeout_ms, dedupe_key, batch)
  -- Optional fields are written only when set: every retained task carries its hash.
  local fields = { F.payload, payload, F.createdAt, int(now) }
  local function unless_default(field, value, default)
    if value ~= default then
      fields[#fields + 1] = field
      fields[#fields + 1] = value
    end
  end
  unless_default(F.maxAttempts, tonumber(max_attempts) ~= DEFAULT_ATTEMPTS and max_attempts or '', '')
  unless_default(F.priority, priority, '0')
  unless_default(F.backoff, backoff, '')
  unless_default(F.timeoutMs, timeout_ms, '')
  unless_default(F.dedupeKey, dedupe_key, '')
  if dedupe_key ~= '' then
    redis.call('SET', base .. 'dedupe:' .. dedupe_key, id)
  end
  fields[#fields + 1] = F.state
  if due > now then
    fields[#fields + 1] = S.delayed
    fields[#fields + 1] = F.runAt
    fields[#fields + 1] = int(due - now)
    redis.call('ZADD', base .. 'delayed', due, id)
  else
    fields[#fields + 1] = S.waiting
    if batch then
      -- Pushed later with the rest of the batch: one LPUSH per priority level.
      batch[priority] = batch[priority] or {}
      table.insert(batch[priority], id)
    else
      push_waiting(base, id, priority, false)
    end
  end
  redis.call('HSET', task_key(base, id), unpack(fields))
end
