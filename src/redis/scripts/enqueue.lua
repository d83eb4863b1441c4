--[[ enqueue: create a batch of tasks, atomically.

KEYS[1] meta       (hash: seq counter for generated ids)
KEYS[2] delayed    (zset)
KEYS[3] priorities (zset)
KEYS[4] wake       (zset marker)
ARGV[1] base "<prefix>:{<queue>}:"
ARGV[2] maxWaiting, '' for no limit
ARGV[3] form: 'f' (full) or 'p' (payloads only)
ARGV[4..] full form, per task 9 values: id ('' = generate), payload JSON, priority,
          delayMs, runAt (epoch ms, '' = none), maxAttempts, backoff JSON (''),
          timeoutMs (''), dedupeKey ('');
          payloads-only form, per task its payload JSON: every option is the default
          (generated id, priority 0, no delay, default attempts, nothing else)

Returns, full form, {0, id1, created1, id2, created2, ...}; created is 0 when an existing
task was returned for the same id or a live task's dedupe key. Payloads-only form: {0,
first id, count}, the tasks having the consecutive ids first, first + 1, ... Returns {4}
(QUEUE_FULL), having written nothing, when the batch would take waiting + delayed past
maxWaiting.

Why a payloads-only form: most tasks have no options, and bulk enqueues are bound by the
work per argument, on both sides; it sends a ninth of the arguments and gets back three
values instead of two per task.

Why one script: the capacity check, dedupe lookups and writes must see one state, and a
batch is created whole or not at all.
]]
--@include lib/common.lua

local base = ARGV[1]
local short = ARGV[3] == 'p'
local count = short and #ARGV - 3 or (#ARGV - 3) / 9
local now = now_ms()

if ARGV[2] ~= '' and waiting_count(base) + count > tonumber(ARGV[2]) then
  return { 4 }
end

if short then
  local first = redis.call('HINCRBY', KEYS[1], 'seq', count) - count + 1
  local created_at = int(now)
  local ids = {}
  for i = 1, count do
    local id = int(first + i - 1)
    -- What create_task writes for a task with default options.
    redis.call('HSET', task_key(base, id), F.payload, ARGV[3 + i], F.createdAt, created_at, F.state, S.waiting)
    ids[i] = id
  end
  push_batch(base, { ['0'] = ids })
  redis.call('HINCRBY', KEYS[1], 'enqueued', count)
  wake(base)
  return { 0, first, count }
end

local out = { 0 }
local created = 0
local batch = {}
-- Generated ids for the whole batch come from one HINCRBY (an id left unused by a dedupe
-- hit is a gap, nothing more).
local next_id, generated = 0, 0
for i = 0, count - 1 do
  if ARGV[4 + i * 9] == '' then
    generated = generated + 1
  end
end
if generated > 0 then
  next_id = redis.call('HINCRBY', KEYS[1], 'seq', generated) - generated + 1
end
for i = 0, count - 1 do
  local a = 4 + i * 9
  local id, payload, priority, delay_ms, run_at = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local max_attempts, backoff, timeout_ms, dedupe_key = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8]

  local existing = false
  if dedupe_key ~= '' then
    existing = redis.call('GET', base .. 'dedupe:' .. dedupe_key)
  end
  if not existing and id ~= '' and redis.call('EXISTS', task_key(base, id)) == 1 then
    existing = id
  end

  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 0
  else
    if id == '' then
      id = int(next_id)
      next_id = next_id + 1
    end
    local due = 0
    if run_at ~= '' then
      due = tonumber(run_at)
    elseif delay_ms ~= '0' then
      due = now + tonumber(delay_ms)
    end
    create_task(base, id, payload, priority, due, now, max_attempts, backoff, timeout_ms, dedupe_key, batch)
    created = created + 1
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end

push_batch(base, batch)
if created > 0 then
  redis.call('HINCRBY', KEYS[1], 'enqueued', created)
  wake(base)
end
return out
