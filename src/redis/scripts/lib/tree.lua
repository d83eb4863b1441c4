-- Flows (parent/child trees, chains): the hand-over from a child's final transition to its
-- parent, which lives in another slot (maybe on another shard). No script touches two slots:
-- the child's transition leaves a notice in its own slot, a step keyed by the child's id
-- applies it to the parent's slot (flow-record, idempotent) and then deletes it
-- (flow-clear); workers sweep the notices a crashed step left behind.
--@include lib/base.lua
--@include lib/events.lua
--@include lib/waiting.lua

-- Leaves the notice of a flow child (`parent`: its `parent` field, `<queue>|<id>`; nil for a
-- task outside any flow): `notices` child id → `<parent queue>|<parent id>|<version>|<code>
-- <detail>`, code a final state's letter (detail: the result JSON of a completed child, the
-- error JSON of a failed one) or 'r' (the child was retried: its parent waits for it again).
-- The version counts the child's notices (its hash's `noticeSeq`), so a parent never takes
-- an older notice after a newer one (read before it was replaced, applied late). A newer
-- notice replaces an older one not yet applied: the parent only needs the latest.
-- Returns the notice's number (nil when the task is outside any flow).
local function notify_parent(id, tkey, parent, code, detail)
  if parent then
    local version = redis.call('HINCRBY', tkey, F.noticeSeq, 1)
    redis.call('HSET', key(R.notices), id, parent .. '|' .. version .. '|' .. code .. (detail or ''))
    return version
  end
end

-- Every child of a parent waiting for its children is final: the parent moves to waiting,
-- once (a chain step's payload becomes its only child's result). `p_chained` and
-- `p_priority` are the parent's `chained` and `priority` fields.
local function release_parent(pid, pkey, deps, p_chained, p_priority)
  local fields = { F.state, S.waiting }
  if p_chained then
    local only = redis.call('HVALS', deps)[1] or ''
    only = string.sub(only, (string.find(only, ':', 1, true) or 0) + 1) -- `<version>:<state>`
    local result = 'null'
    if string.sub(only, 1, 1) == S.completed and #only > 1 then
      result = string.sub(only, 2)
    end
    fields[#fields + 1] = F.payload
    fields[#fields + 1] = result
  end
  redis.call('HSET', pkey, unpack(fields))
  redis.call('HDEL', pkey, F.pending)
  redis.call('ZREM', key(R.dependencies), pid)
  push_waiting(pid, p_priority or '0', false)
  wake()
  publish('waiting', { pid })
end

-- A flow child completed whose parent is in this same slot (the same queue): in the common
-- case (the parent waits for its children, and this one was pending) the parent records it
-- here, in the child's own script, and is released if it was the last, with no notice and
-- no hand-over (a chain on one queue takes one call per step: this completion and the next
-- claim). Returns false, having written nothing, in any other case: the caller leaves a
-- notice, for flow-record.
local function complete_in_slot(id, tkey, parent, result)
  local bar = string.find(parent, '|', 1, true)
  local queue = string.match(base, '{([^{}]*)}:$')
  if string.sub(parent, 1, bar - 1) ~= queue then
    return false
  end
  local pid = string.sub(parent, bar + 1)
  local pkey = task_key(pid)
  local p = redis.call('HMGET', pkey, F.state, F.pending, F.chained, F.priority)
  if p[1] ~= S.dependencies then
    return false
  end
  local deps = key(R.deps, pid)
  local child = queue .. '|' .. id
  local entry = redis.call('HGET', deps, child)
  if not entry or string.sub(entry, (string.find(entry, ':', 1, true) or 0) + 1) ~= '' then
    return false
  end
  -- Its count of notices still goes up, so a later notice of it (a retry) is newer.
  local version = redis.call('HINCRBY', tkey, F.noticeSeq, 1)
  redis.call('HSET', deps, child, version .. ':' .. S.completed .. result)
  local pending = (tonumber(p[2]) or 0) - 1
  if pending > 0 then
    redis.call('HSET', pkey, F.pending, pending)
  else
    release_parent(pid, pkey, deps, p[3], p[4])
  end
  return true
end
