-- Creating tasks: generated ids, and one task's hash placed in line.
--@include lib/base.lua
--@include lib/waiting.lua
--@include lib/groups.lua

-- Generated ids come from a counter in `meta` that never goes below the Redis clock in ms
-- times 1,000: a failover to a replica that missed the last writes, or a restore from an
-- old snapshot, rolls the counter back, but not below the time of the call, so an id is
-- never issued twice (unless a queue creates over a million tasks a second for longer
-- than the writes lost, or the new node's clock is behind the old one's by more than the
-- outage lasted). An id's first digits are its creation time in ms.
-- Returns the first of `count` consecutive new ids.
local function next_ids(count, now)
  local meta = key(R.meta)
  local last = tonumber(redis.call('HGET', meta, M.seq)) or 0
  local floor = now * 1000
  if last < floor then
    last = floor
  end
  redis.call('HSET', meta, M.seq, int(last + count))
  return last + 1
end

-- Creates one task hash and puts it in line: delayed when `due` (epoch ms) is later than
-- `now`, else waiting (in its group's line when it has a group). Options are the encoded
-- strings of enqueue's contract ('' = unset); `traceparent` the producer's trace context
-- (nil or '' for none). The caller chose the id, checked dedupe and capacity, and wakes
-- the workers.
local function create_task(id, payload, priority, due, now, max_attempts, backoff, timeout_ms, dedupe_key, group, batch, traceparent)
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
  unless_default(F.group, group, '')
  unless_default(F.traceparent, traceparent or '', '')
  if dedupe_key ~= '' then
    redis.call('SET', key(R.dedupe, dedupe_key), id)
  end
  fields[#fields + 1] = F.state
  if due > now then
    fields[#fields + 1] = S.delayed
    fields[#fields + 1] = F.runAt
    fields[#fields + 1] = int(due - now)
    redis.call('ZADD', key(R.delayed), due, id)
  else
    fields[#fields + 1] = S.waiting
    if group ~= '' then
      group_push(group, id, priority, false)
    elseif batch then
      -- Pushed later with the rest of the batch: one LPUSH per priority level.
      batch[priority] = batch[priority] or {}
      table.insert(batch[priority], id)
    else
      push_waiting(id, priority, false)
    end
  end
  redis.call('HSET', task_key(id), unpack(fields))
end
