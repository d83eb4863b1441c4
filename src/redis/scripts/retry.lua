--[[ retry: give a failed or cancelled task a fresh set of attempts.

KEYS[1] fence, KEYS[2] the task's hash
Touches (fenced): failed or cancelled, waiting:<priority>, priorities, dedupe:<key>, wake,
progress channel, notices (a flow child tells its parent it runs again: lib/tree.lua);
for a flow parent: deps:<id> (its children), dependencies
ARGV[1] task id

Returns {OK, children to retry (`<queue>|<id>`)}, {TASK_NOT_FOUND}, {INVALID_STATE, state}.
The attempt history is kept and its numbering goes on (priorAttempts counts the runs before
this retry); the attempt counter, which the retry policy reads, starts again. The dedupe key
is taken back only if no other live task holds it meanwhile.
A flow parent that never ran runs only after its children again: its children that did
not complete (failed, cancelled, or cancelled by a sibling's failure) are marked 'R' in
`deps:<id>` and returned for the caller to retry (each in turn the same way, so a whole
subtree runs again); it goes back to `dependencies` counting the children not completed,
`retrying` counting the 'R' ones (flow-record.lua: notices applied to it return them again
until they came). A parent that ran (its children were all final then) goes to waiting,
like any task. A retry cut short (the caller died before retrying the children) is finished
by retrying the parent again: in `dependencies` with `retrying` set, it answers OK with its
'R' children, changing nothing.
]]
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/groups.lua
--@include lib/tree.lua

local id = ARGV[1]
local tkey = KEYS[2]
local v = redis.call('HMGET', tkey, F.state, F.priority, F.dedupeKey, F.attempt, F.priorAttempts, F.group, F.parent, F.createdAt)
local state = v[1]
if not state then
  return { STATUS.TASK_NOT_FOUND }
end
local deps = key(R.deps, id)

-- A flow parent's children to run again (`mark`: those not completed become 'R'; else only
-- those already 'R'), and how many it waits for (those not completed).
local function children_to_retry(mark)
  local entries = redis.call('HGETALL', deps)
  local again, pending = {}, 0
  for i = 1, #entries, 2 do
    local e = entries[i + 1]
    local at = string.find(e, ':', 1, true) -- `<version>:<state>` (flow-record.lua)
    local version, s = '0', e
    if at then
      version, s = string.sub(e, 1, at - 1), string.sub(e, at + 1)
    end
    if s == '' then
      pending = pending + 1
    elseif s == 'R' or (mark and string.sub(s, 1, 1) ~= S.completed) then
      if mark and s ~= 'R' then
        redis.call('HSET', deps, entries[i], version .. ':R')
      end
      again[#again + 1] = entries[i]
      pending = pending + 1
    end
  end
  return again, pending
end

if state == S.dependencies and redis.call('HEXISTS', tkey, F.retrying) == 1 then
  return { STATUS.OK, (children_to_retry(false)) } -- finishing a retry cut short
end
if state ~= S.failed and state ~= S.cancelled then
  return { STATUS.INVALID_STATE, state }
end
unlist(id, state, v[2], v[6])
local prior = (tonumber(v[4]) or 0) + (tonumber(v[5]) or 0)
local again, pending = {}, 0
if prior == 0 then
  -- Never ran: a parent is still before (or among) its children.
  again, pending = children_to_retry(true)
end
local next_state = S.waiting
if pending > 0 then
  next_state = S.dependencies
end
if prior > 0 then
  redis.call('HSET', tkey, F.state, next_state, F.attempt, 0, F.priorAttempts, prior)
else
  redis.call('HSET', tkey, F.state, next_state, F.attempt, 0)
end
redis.call('HDEL', tkey, F.finishedAt, F.error, F.failedBy)
if v[3] then
  redis.call('SET', key(R.dedupe, v[3]), id, 'NX')
end
if pending > 0 then
  redis.call('HSET', tkey, F.pending, pending)
  if #again > 0 then
    redis.call('HSET', tkey, F.retrying, #again) -- how many are marked 'R' (flow-record.lua)
  end
  redis.call('ZADD', key(R.dependencies), tonumber(v[8]) or 0, id)
elseif v[6] then
  group_push(v[6], id, v[2] or '0', false)
else
  push_waiting(id, v[2] or '0', false)
end
if pending == 0 then
  wake()
  publish('waiting', { id })
end
notify_parent(id, tkey, v[7], 'r')
return { STATUS.OK, again }
