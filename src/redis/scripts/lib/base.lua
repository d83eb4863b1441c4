-- What every script uses: the clock, number formatting, keys, and variadic batch calls.
--
-- Included by scripts.ts after a generated prelude that defines:
--   F       task-hash field names (keys.ts), S state codes, STATUS the status codes
--           (status.ts), R key-role suffixes (keys.ts: R.task is 'task:', R.meta 'meta'),
--           M the fields of a queue's `meta` hash (keys.ts)
--   PUBLISH the publish command: SPUBLISH on a cluster (a shard channel stays on the
--           queue's shard), PUBLISH elsewhere
--   base    "<prefix>:{<queue>}:" (or a topic's), taken from KEYS[1], the slot's fence: a
--           key that never exists. Every other key a script touches is built from `base`,
--           so it is provably in the fence's slot; while the slot migrates, Redis refuses
--           the whole call (ASK/TRYAGAIN) before it starts.
-- Times are milliseconds on the Redis server's clock; ids travel as strings.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Lua's tostring turns large numbers into exponent notation; ids and times must not.
local function int(n)
  return string.format('%d', n)
end

-- A key of this script's queue or topic, from its role's suffix: key(R.meta),
-- key(R.waiting, priority).
local function key(suffix, part)
  if part then
    return base .. suffix .. part
  end
  return base .. suffix
end

-- The hot path's key: one concatenation, no lookup by name.
local function task_key(id)
  return base .. R.task .. id
end

-- Every key the tasks own, to delete them: each one's hash, its log lines and (a flow parent) its children.
local function task_keys(ids)
  local keys = {}
  for _, id in ipairs(ids) do
    keys[#keys + 1] = task_key(id)
    keys[#keys + 1] = base .. R.logs .. id
    keys[#keys + 1] = base .. R.deps .. id -- a flow parent's children (none for most tasks)
  end
  return keys
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

-- One variadic command for many items (ZADD, ZREM, LPUSH, DEL ...): a call from Lua costs
-- about as much as the work of one item, so batches use one call per 1,000 items
-- (unpack's stack limit is near 8,000) rather than one per item.
-- Returns the last call's reply (a list's length after LPUSH, say).
local function call_many(command, k, items, per_item)
  local step = 1000 * (per_item or 1)
  local reply
  for i = 1, #items, step do
    if k then
      reply = redis.call(command, k, unpack(items, i, math.min(i + step - 1, #items)))
    else
      reply = redis.call(command, unpack(items, i, math.min(i + step - 1, #items)))
    end
  end
  return reply
end
