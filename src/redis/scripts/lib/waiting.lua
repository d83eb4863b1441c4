-- The line of ready tasks: one list per priority level, and the set of non-empty levels.
--@include lib/base.lua

-- Waiting tasks live in one list per priority level (newest on the left, next on the
-- right); `priorities` holds the non-empty levels, scored -priority so the highest sorts
-- first. `front` puts a task next in line (requeued work that already waited its turn).
local function push_waiting(id, priority, front)
  local list = key(R.waiting, priority)
  local len
  if front then
    len = redis.call('RPUSH', list, id)
  else
    len = redis.call('LPUSH', list, id)
  end
  if len == 1 then
    redis.call('ZADD', key(R.priorities), -tonumber(priority), priority)
  end
end

-- Pushes the ids a batch of create_task calls collected, per priority level, keeping their
-- order: one LPUSH per level instead of one per task.
local function push_batch(batch)
  for priority, ids in pairs(batch) do
    if call_many('LPUSH', key(R.waiting, priority), ids) == #ids then
      redis.call('ZADD', key(R.priorities), -tonumber(priority), priority)
    end
  end
end

local function remove_waiting(id, priority)
  local list = key(R.waiting, priority)
  local removed = redis.call('LREM', list, 1, id)
  if removed > 0 and redis.call('LLEN', list) == 0 then
    redis.call('ZREM', key(R.priorities), priority)
  end
  return removed
end

-- Tasks in line (waiting at any priority, in a group's line or the queue's, or delayed):
-- what maxWaiting limits.
local function waiting_count()
  local waiting = redis.call('ZCARD', key(R.delayed)) + (tonumber(redis.call('HGET', key(R.meta), M.grouped)) or 0)
  for _, level in ipairs(redis.call('ZRANGE', key(R.priorities), 0, -1)) do
    waiting = waiting + redis.call('LLEN', key(R.waiting, level))
  end
  return waiting
end
