-- The claim transition as a function, shared by claim.lua and complete-claim.lua (the
-- worker's hot path: one script call records finished tasks and leases new ones).
-- See claim.lua for the contract.
--@include lib/base.lua
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/groups.lua
--@include lib/leases.lua
--@include lib/flow.lua

-- The settings a claim reads (lib/settings.lua).
local CLAIM_SETTINGS = { 'failedCount', 'failedMaxAgeMs', 'concurrency', 'rateMax', 'ratePerMs',
  'groupConcurrency', 'groupRateMax', 'groupRatePerMs' }

-- Due delayed tasks join their line (the queue's, or their group's).
local function promote_due(now, delayed)
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    local tkey = task_key(id)
    local v = redis.call('HMGET', tkey, F.priority, F.group)
    redis.call('HSET', tkey, F.state, S.waiting)
    redis.call('HDEL', tkey, F.runAt)
    if v[2] then
      group_push(v[2], id, v[1] or '0', false)
    else
      push_waiting(id, v[1] or '0', false)
    end
  end
  redis.call('ZREM', delayed, unpack(due))
  publish('waiting', due)
end

local function claim_tasks(now, wanted, lease_ms, limits)
  local delayed, active = key(R.delayed), key(R.active)

  -- Due delayed tasks join the line. The earliest is read first: usually it is not due,
  -- and that one call also tells how long an idle worker may wait.
  local next_delayed = earliest(delayed)
  if next_delayed and next_delayed <= now then
    promote_due(now, delayed)
    next_delayed = earliest(delayed)
  end

  -- Schedules: when the earliest slot falls due, `schedule_in` is 0 and the worker calls
  -- schedule-fire, which creates the runs (lib/schedules.lua). Firing is not done here: its
  -- code, built at every call of a script, would cost every claim. `refill` says how many
  -- cron schedules wait for slots: the worker computes them.
  local state = redis.call('HMGET', key(R.meta), M.paused, M.limitedUntil, M.scheduleDue, M.scheduleRefill)
  local schedule_due = tonumber(state[3])
  local refill = tonumber(state[4]) or 0
  local schedule_in = -1
  if schedule_due then
    schedule_in = math.max(schedule_due - now, 0)
  end

  -- ms until the next delayed task, schedule slot or lease deadline (-1: none; 0: more is
  -- due than this call handled), given the earliest lease deadline.
  local function due_in(next_lease)
    local due = next_delayed
    if next_lease and (not due or next_lease < due) then
      due = next_lease
    end
    if schedule_due and (not due or schedule_due < due) then
      due = schedule_due
    end
    local parked = redis.call('ZRANGE', key(R.gparked), 0, 0, 'WITHSCORES')[2]
    if parked and parked ~= 'inf' and (not due or tonumber(parked) < due) then
      due = tonumber(parked)
    end
    if not due then
      return -1
    end
    return math.max(due - now, 0)
  end

  if state[1] then
    return { due_in(earliest(active)), 1, refill, schedule_in }
  end

  -- Flow control: `wanted` shrinks to what may start now; `limited` says it did. Under a
  -- concurrency limit, leases past their deadline are reaped first: they hold slots.
  if limits.concurrency then
    local first = earliest(active)
    if first and first <= now then
      reap_expired(now, 100, limits.failedCount, limits.failedMaxAgeMs)
    end
  end
  local allowed, opens = flow_room(now, limits, tonumber(state[2]))
  local limited = allowed < wanted
  if limited then
    wanted = allowed
  end

  local out = { 0, 0, refill, schedule_in }
  local claimed = {}
  local starts = {}
  local leases = {}
  local deadline = now + lease_ms
  local priorities = key(R.priorities)

  -- Leases one task; returns its rate-log member.
  local function lease(id, group, holds_slot)
    local tkey = task_key(id)
    local v = redis.call('HMGET', tkey, F.attempt, F.startedAt, F.maxAttempts, F.payload, F.backoff, F.timeoutMs, F.createdAt, F.group, F.traceparent, F.parent, F.chained, F.childPolicy)
    local attempt = (tonumber(v[1]) or 0) + 1
    -- The start time is the lease's fencing token: strictly increasing per task, even for
    -- two claims within one millisecond (the later one is dated a millisecond on).
    local started = now - tonumber(v[7])
    local previous = tonumber(v[2])
    if previous and previous >= started then
      started = previous + 1
    end
    local token = int(started)
    if holds_slot then
      redis.call('HSET', tkey, F.state, S.active, F.attempt, attempt, F.startedAt, token, F.groupSlot, '1')
    else
      redis.call('HSET', tkey, F.state, S.active, F.attempt, attempt, F.startedAt, token)
    end
    leases[#leases + 1] = deadline
    leases[#leases + 1] = id
    out[#out + 1] = id
    out[#out + 1] = token
    out[#out + 1] = attempt
    out[#out + 1] = v[3] or DEFAULT_ATTEMPTS
    out[#out + 1] = v[4]
    out[#out + 1] = v[5] or ''
    out[#out + 1] = v[6] or ''
    out[#out + 1] = v[7]
    out[#out + 1] = v[8] or ''
    out[#out + 1] = v[9] or ''
    out[#out + 1] = v[10] or ''
    -- Flow flags: 'c' a chain step (its payload is the previous result), 'p' a parent.
    out[#out + 1] = (v[11] and 'c' or '') .. (v[12] and 'p' or '')
    claimed[#claimed + 1] = id
    local member = id .. ':' .. token
    starts[#starts + 1] = member
    return member
  end

  -- Takes up to `n` tasks from the queue's own line (tasks without a group), highest
  -- priority first; returns how many.
  local function take(n)
    local taken = 0
    if n <= 0 then
      return 0
    end
    -- Levels in order, highest priority first (usually one, read with one call).
    for _, level in ipairs(redis.call('ZRANGE', priorities, 0, -1)) do
      local ids = redis.call('RPOP', key(R.waiting, level), n - taken)
      -- Fewer than asked means the level is empty now (an exact fit is found empty next time).
      if not ids or #ids < n - taken then
        redis.call('ZREM', priorities, level)
      end
      for _, id in ipairs(ids or {}) do
        lease(id)
        taken = taken + 1
      end
      if taken >= n then
        break
      end
    end
    return taken
  end

  -- Groups rotate with the queue's own line: that line counts as one more group, so its
  -- tasks get their turn among the groups', and the groups theirs among its.
  local function take_all()
    unpark_due(now)
    local groups = redis.call('LLEN', key(R.groups))
    if groups == 0 then
      wanted = wanted - take(wanted)
      return
    end
    -- The own line's share: one task in every (groups + 1) claimed, counted across claims
    -- in meta's `ownTurn` (a claim for one task gives the own line one turn in groups + 1,
    -- not every turn).
    if redis.call('ZCARD', priorities) > 0 then
      local meta = key(R.meta)
      local before = tonumber(redis.call('HGET', meta, M.ownTurn)) or 0
      local after = before + wanted
      local own = math.floor(after / (groups + 1)) - math.floor(before / (groups + 1))
      redis.call('HSET', meta, M.ownTurn, after % (groups + 1))
      wanted = wanted - take(own)
    end
    wanted = wanted - take_grouped(now, wanted, limits, lease)
    wanted = wanted - take(wanted)
  end

  take_all()
  -- Expired leases are reaped by claims that found too little ready work (the worker is
  -- about to idle until the next deadline) and by every worker's heartbeat; a claim that
  -- filled up leaves them to those, saving calls. The earliest deadline is read first, so
  -- the usual case (nothing expired) costs one call, which also serves the idle wait.
  local next_lease
  if wanted > 0 then
    next_lease = earliest(active)
    if next_lease and next_lease <= now then
      if reap_expired(now, 100, limits.failedCount, limits.failedMaxAgeMs) > 0 then
        take_all()
      end
      next_lease = earliest(active)
    end
  end

  if #claimed > 0 then
    leases[#leases + 1] = 'inf'
    leases[#leases + 1] = LEASE_SENTINEL
    call_many('ZADD', active, leases, 2)
    count_starts(now, limits, starts)
    publish('active', claimed)
    if not next_lease or deadline < next_lease then
      next_lease = deadline
    end
  end
  if limited and wanted <= 0 then
    -- Flow control stopped this claim, and would stop any other now: no one is woken, and
    -- idle workers sleep until room opens (a slot frees: its finish wakes one; a rate
    -- window or a hold ends: the due time says when).
    redis.call('DEL', key(R.wake))
    if not opens then
      opens = rate_opens(limits) -- this claim took the window's last room
    end
    if opens then
      out[1] = math.max(opens - now, 1)
    else
      out[1] = due_in(earliest(active))
    end
  elseif wanted > 0 then
    -- Nothing is left in line (or every group with tasks is held): drop the marker, or the
    -- claimant, blocking next, would wake at once for work it has already taken.
    redis.call('DEL', key(R.wake))
    -- The worker will idle: tell it how long it may.
    out[1] = due_in(next_lease)
  else
    -- More work may be left: pass the marker on so another idle worker wakes for it. A
    -- worker that got all it asked for will not block, so it needs no due time.
    if redis.call('ZCARD', priorities) > 0 or redis.call('LLEN', key(R.groups)) > 0 then
      wake()
    end
    out[1] = -1
  end
  return out
end
