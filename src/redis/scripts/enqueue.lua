--[[ enqueue: create a batch of tasks, atomically.

KEYS[1] fence, KEYS[2] meta (hash: seq counter for generated ids, enqueued counter)
Touches (fenced): task:<id>, waiting:<priority>, priorities, delayed, dedupe:<key>, wake,
settings (maxWaiting)
ARGV[1] form: 'f' (full) or 'p' (payloads only), then the partition count the producer
        routed by ('p1', 'f8'; src/queue/partitions.ts)
ARGV[2..] full form, per task 11 values: id ('' = generate), payload JSON, priority,
          delayMs, runAt (epoch ms, '' = none), maxAttempts, backoff JSON (''),
          timeoutMs (''), dedupeKey (''), group ('' = none), traceparent ('' = none);
          payloads-only form, per task its payload JSON: every option is the default
          (generated id, priority 0, no delay, default attempts, nothing else)

Returns, full form, {OK, id1, created1, id2, created2, ...}; created is 0 when an existing
task was returned for the same id or a live task's dedupe key. Payloads-only form: {OK,
first id, count}, the tasks having the consecutive ids first, first + 1, ... Returns
{QUEUE_FULL, maxWaiting}, having written nothing, when the batch would take waiting +
delayed past the queue's maxWaiting setting; {LAYOUT_CHANGED, partitions}, having written
nothing, when the queue's partition count is not the one the producer routed by. Generated
ids of a partition end with its mark (`~<n>...`, from the fence's hash tag).

Why a payloads-only form: most tasks have no options, and bulk enqueues are bound by the
work per argument, on both sides; it sends an eleventh of the arguments and gets back three
values instead of two per task.

Why one script: the capacity check, dedupe lookups and writes must see one state, and a
batch is created whole or not at all.
]]
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/create.lua
--@include lib/settings.lua

local short = string.sub(ARGV[1], 1, 1) == 'p'
local count = short and #ARGV - 1 or (#ARGV - 1) / 11
local now = now_ms()

local limits = settings({ 'maxWaiting', 'partitions' })
local partitions = limits.partitions or 1
if partitions ~= tonumber(string.sub(ARGV[1], 2)) then
  return { STATUS.LAYOUT_CHANGED, partitions }
end
local capacity = limits.maxWaiting
if capacity and waiting_count() + count > capacity then
  return { STATUS.QUEUE_FULL, capacity }
end
local lane = string.match(base, '(~[%d%.]+)}:$') or ''

if short then
  local first = next_ids(count, now)
  local created_at = int(now)
  local ids = {}
  for i = 1, count do
    local id = int(first + i - 1)
    if lane ~= '' then
      id = id .. lane
    end
    -- What create_task writes for a task with default options.
    redis.call('HSET', task_key(id), F.payload, ARGV[1 + i], F.createdAt, created_at, F.state, S.waiting)
    ids[i] = id
  end
  push_batch({ ['0'] = ids })
  redis.call('HINCRBY', key(R.meta), M.enqueued, count)
  wake()
  return { STATUS.OK, int(first), count }
end

local out = { STATUS.OK }
local created = 0
local batch = {}
-- Generated ids for the whole batch come from one counter update (an id left unused by a
-- dedupe hit is a gap, nothing more).
local next_id, generated = 0, 0
for i = 0, count - 1 do
  if ARGV[2 + i * 11] == '' then
    generated = generated + 1
  end
end
if generated > 0 then
  next_id = next_ids(generated, now)
end
for i = 0, count - 1 do
  local a = 2 + i * 11
  local id, payload, priority, delay_ms, run_at = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local max_attempts, backoff, timeout_ms, dedupe_key, group = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9]

  local existing = false
  if dedupe_key ~= '' then
    existing = redis.call('GET', key(R.dedupe, dedupe_key))
  end
  if not existing and id ~= '' and redis.call('EXISTS', task_key(id)) == 1 then
    existing = id
  end

  if existing then
    out[#out + 1] = existing
    out[#out + 1] = 0
  else
    if id == '' then
      id = int(next_id)
      if lane ~= '' then
        id = id .. lane
      end
      next_id = next_id + 1
    end
    local due = 0
    if run_at ~= '' then
      due = tonumber(run_at)
    elseif delay_ms ~= '0' then
      due = now + tonumber(delay_ms)
    end
    create_task(id, payload, priority, due, now, max_attempts, backoff, timeout_ms, dedupe_key, group, batch, ARGV[a + 10])
    created = created + 1
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end

push_batch(batch)
if created > 0 then
  redis.call('HINCRBY', key(R.meta), M.enqueued, created)
  wake()
end
return out
