--[[ flow-record: apply flow children's notices to their parent, each once.

KEYS[1] fence, KEYS[2] the parent's hash
Touches (fenced): deps:<id> (the parent's children), dependencies, waiting:<priority>,
priorities, failed, meta, stats:<hour>, wake, notices (the parent, itself a child, tells its
own parent), events and progress channels
ARGV[1] parent id, then per notice 3 values: child `<queue>|<id>`, the notice's version (the
        child's count of notices), the outcome: a final state's code then its detail
        (result or error JSON), or 'r' (the child was retried)

Returns {-1} when there is nothing to apply to (the parent is gone, or lists none of these
children); else {released (1: the parent became claimable now), upward (1: the parent left a
notice for its own parent), children to cancel (`<queue>|<id>`, the pending siblings of a
child that failed a 'fail' parent), children to retry (siblings that failure had cancelled,
now that it was retried)}.

A `deps:<id>` entry is `<version>:<state>`: the version of the last notice applied ('' for
none yet) and '' (pending), 'X' (cancelled because a sibling failed the parent), 'R'
(pending: such a sibling, to be retried because the failed child was) or the outcome. Idempotent, so a notice may be applied twice (a live step and the sweep, or a step
repeated after a crash): a notice whose version is not newer than the entry's changes
nothing, and only a child still pending counts down the parent's `pending`. When it
reaches 0, the parent moves to waiting (a chain step's payload becomes its child's result).
Under the 'fail' policy a failed or cancelled child fails the parent (error
ChildFailedError naming the child that failed first) and its pending children (and those
still to be retried, 'R') are marked 'X' for the caller to cancel; retrying that child before the parent ever ran puts the
parent back to waiting for its children, and the 'X' siblings pending again as 'R' (the
caller retries them: while any 'R' is left, counted in the parent's `retrying`, every notice
applied to it but an 'R' child's own returns them, until their own retries' notices come) -
unless another child failed or was cancelled on its own meanwhile (not by the cascade):
then the parent stays failed, its error and failedBy naming that child instead. The 'X'
siblings are returned to cancel at every application of the notice that failed the parent,
so a cascade cut short by a crash is finished by the sweep.
]]
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/finish.lua
--@include lib/tree.lua

local pid = ARGV[1]
local tkey = KEYS[2]
local deps = key(R.deps, pid)
local p = redis.call('HMGET', tkey, F.state, F.pending, F.childPolicy, F.chained, F.createdAt, F.failedBy, F.attempt, F.parent, F.priority)
local state = p[1]
if not state then
  return { -1 }
end
local failed_by = p[6]
local pending = tonumber(p[2]) or 0
local released, upward, applied = 0, 0, 0
local cancel, retry = {}, {}
local cancel_wanted, scan = false, false
local now = now_ms()

-- An entry's version and state.
local function parse(e)
  local at = string.find(e, ':', 1, true)
  if not at then
    return 0, e
  end
  return tonumber(string.sub(e, 1, at - 1)), string.sub(e, at + 1)
end

-- The error of a 'fail' parent failed by `child` with outcome `outcome` (its state's code
-- then its detail): a chain's failed step's ChildFailedError passes up as it is.
local function child_error(child, code, outcome)
  local ok, detail = pcall(cjson.decode, string.sub(outcome, 2))
  if code == S.failed and ok and type(detail) == 'table' and detail.name == 'ChildFailedError' then
    return string.sub(outcome, 2)
  end
  local cause = 'it was cancelled'
  if code == S.failed then
    cause = (ok and type(detail) == 'table' and tostring(detail.name) .. ': ' .. tostring(detail.message)) or 'unknown error'
  end
  local at = string.find(child, '|', 1, true)
  return cjson.encode({ name = 'ChildFailedError', message = 'child ' .. string.sub(child, 1, at - 1) .. '/' .. string.sub(child, at + 1) .. ' failed: ' .. cause, child = child, cause = cause })
end

-- A failed parent's failure now belongs to another child (`outcome`: its recorded one): its
-- error and failedBy name it. Its own parent already recorded it failed: no new notice.
local function rename_failure(child, outcome)
  redis.call('HSET', tkey, F.error, child_error(child, string.sub(outcome, 1, 1), outcome), F.failedBy, child)
  failed_by = child
end

-- The child runs again: its entry is pending again, and so is a parent its failure failed
-- before it ever ran (with the siblings that failure cancelled, marked 'R').
local function reopen(child)
  if state == S.dependencies then
    pending = pending + 1
  elseif state == S.failed and failed_by == child and not p[7] then
    if (p[3] or 'fail') == 'fail' then
      -- Another child failed, or was cancelled, on its own (not by this failure's cascade):
      -- the parent stays failed, and now names that child (whose retry re-opens it).
      local entries = redis.call('HGETALL', deps)
      for i = 1, #entries, 2 do
        local _, s = parse(entries[i + 1])
        local c = string.sub(s, 1, 1)
        if entries[i] ~= child and (c == S.failed or c == S.cancelled) then
          rename_failure(entries[i], s)
          return
        end
      end
    end
    redis.call('LREM', key(R.failed), 1, pid)
    redis.call('HDEL', tkey, F.error, F.finishedAt) -- failedBy stays: which child re-opened it
    redis.call('HSET', tkey, F.state, S.dependencies)
    redis.call('ZADD', key(R.dependencies), tonumber(p[5]), pid)
    state = S.dependencies
    pending = 1 -- this child
    local marked = 0
    local entries = redis.call('HGETALL', deps)
    for i = 1, #entries, 2 do
      local v, s = parse(entries[i + 1])
      if s == 'X' or s == 'R' then
        -- 'R': pending, to be retried (until its own retry's notice comes: '').
        redis.call('HSET', deps, entries[i], v .. ':R')
        pending = pending + 1
        marked = marked + 1
      elseif s == '' and entries[i] ~= child then
        pending = pending + 1
      end
    end
    if marked > 0 then
      redis.call('HSET', tkey, F.retrying, marked)
    end
    notify_parent(pid, tkey, p[8], 'r')
    if p[8] then
      upward = 1
    end
  end
end

-- A 'fail' parent fails with its child: the error names the child that failed first (a
-- chain's failed step), the pending siblings are to be cancelled.
local function fail_parent(child, code, outcome)
  local err = child_error(child, code, outcome)
  redis.call('HSET', tkey, F.state, S.failed, F.finishedAt, since_created(p[5], now), F.error, err, F.failedBy, child)
  redis.call('HDEL', tkey, F.pending)
  redis.call('ZREM', key(R.dependencies), pid)
  redis.call('LPUSH', key(R.failed), pid)
  count_finished(M.failed, 1, now)
  publish('failed', { pid })
  -- Its children still to run are cancelled: those pending ('') and those still to be
  -- retried ('R': a sibling's retry had re-opened it; not retried now, they are not run).
  local entries = redis.call('HGETALL', deps)
  for i = 1, #entries, 2 do
    local v, s = parse(entries[i + 1])
    if (s == '' or s == 'R') and entries[i] ~= child then
      redis.call('HSET', deps, entries[i], v .. ':X')
    end
  end
  redis.call('HDEL', tkey, F.retrying)
  notify_parent(pid, tkey, p[8], S.failed, err)
  if p[8] then
    upward = 1
  end
  state = S.failed
  failed_by = child
end

-- One notice.
local function apply(child, version, outcome)
  local entry = redis.call('HGET', deps, child)
  if not entry then
    return
  end
  applied = applied + 1
  local code = string.sub(outcome, 1, 1)
  local seen, before = parse(entry)
  if before ~= 'R' then
    scan = true -- any notice but an 'R' child's own may be the one to retry them after
  elseif version > seen and code ~= S.cancelled then
    -- An 'R' child's retry (or the next outcome that replaced it) came: one fewer to retry.
    if redis.call('HINCRBY', tkey, F.retrying, -1) <= 0 then
      redis.call('HDEL', tkey, F.retrying)
    end
  end
  if before == 'R' and code == S.cancelled and version > seen then
    -- The cancel its failed sibling asked for, come after that sibling's retry re-opened
    -- the parent: still to run, so retried now.
    redis.call('HSET', deps, child, version .. ':R')
    retry[#retry + 1] = child
    return
  end
  if before == 'R' and code ~= 'r' then
    before = '' -- pending (a sibling being retried): its outcome counts like any pending child's
  end
  if version > seen then
    if code == 'r' then
      if before == 'R' then
        before = ''
      elseif before ~= '' and before ~= 'X' then
        reopen(child)
        before = ''
      end
      redis.call('HSET', deps, child, version .. ':' .. before)
    elseif before == 'X' and code == S.cancelled then
      -- The cancel its failed sibling asked for: kept as 'X', so retrying that sibling (before
      -- the parent ran) runs this child again too.
      redis.call('HSET', deps, child, version .. ':X')
    else
      if before ~= '' and before ~= 'X' then
        reopen(child) -- retried, and finished again before the retry's notice was applied
        before = ''
      end
      redis.call('HSET', deps, child, version .. ':' .. outcome)
      if state == S.dependencies and before == '' then
        pending = pending - 1
        if code ~= S.completed and (p[3] or 'fail') == 'fail' then
          fail_parent(child, code, outcome)
        end
      end
    end
  end
  -- Follow-ups, at every application (a caller that died before them leaves the notice to
  -- the sweep): the siblings a failure had cancelled, the siblings a re-open retries.
  if state == S.failed and failed_by == child then
    cancel_wanted = true
  end
end

for i = 2, #ARGV, 3 do
  apply(ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2])
end
if applied == 0 then
  return { -1 }
end

-- While the parent waits with children marked 'R' (`retrying` counts them), every notice
-- applied returns them (but an 'R' child's own: its caller is retrying them already):
-- retrying a child already retried changes nothing, and the notice that re-opened the parent
-- may be replaced (by the retried child's next one) before it is applied, or its caller may
-- die before retrying them.
local retry_wanted = state == S.dependencies and scan and redis.call('HEXISTS', tkey, F.retrying) == 1
if (cancel_wanted and state == S.failed) or retry_wanted then
  local entries = redis.call('HGETALL', deps)
  local seen = {}
  for _, ref in ipairs(retry) do
    seen[ref] = true
  end
  for i = 1, #entries, 2 do
    local _, s = parse(entries[i + 1])
    if s == 'X' and state == S.failed then
      cancel[#cancel + 1] = entries[i]
    elseif s == 'R' and state == S.dependencies and not seen[entries[i]] then
      retry[#retry + 1] = entries[i]
    end
  end
  if retry_wanted then
    if #retry == 0 then
      redis.call('HDEL', tkey, F.retrying)
    else
      redis.call('HSET', tkey, F.retrying, #retry) -- the count, as found
    end
  end
end

if state == S.dependencies then
  if pending > 0 then
    redis.call('HSET', tkey, F.pending, pending)
  else
    release_parent(pid, tkey, deps, p[4], p[9])
    released = 1
  end
end
return { released, upward, cancel, retry }
