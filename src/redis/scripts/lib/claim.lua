-- The claim transition as a function, shared by claim.lua and complete-claim.lua (the
-- worker's hot path: one script call records finished tasks and leases new ones).
-- Needs lib/common.lua before it. See claim.lua for the contract.
local function claim_tasks(base, now, wanted, lease_ms, failed_keep_count, failed_max_age_ms)
  local function due_in()
    local due = next_due(base)
    if due < 0 then
      return -1
    end
    return math.max(due - now, 0)
  end

  local due = redis.call('ZRANGEBYSCORE', base .. 'delayed', '-inf', now, 'LIMIT', 0, 1000)
  if #due > 0 then
    for _, id in ipairs(due) do
      local tkey = task_key(base, id)
      redis.call('HSET', tkey, F.state, S.waiting)
      redis.call('HDEL', tkey, F.runAt)
      push_waiting(base, id, redis.call('HGET', tkey, F.priority) or '0', false)
    end
    redis.call('ZREM', base .. 'delayed', unpack(due))
    publish(base, 'waiting', due)
  end

  if redis.call('HGET', base .. 'meta', 'paused') then
    return { due_in(), 1 }
  end

  local out = { 0, 0 }
  local claimed = {}
  local leases = {}
  local deadline = now + lease_ms
  local function take()
    while wanted > 0 do
      local level = redis.call('ZRANGE', base .. 'priorities', 0, 0)[1]
      if not level then
        break
      end
      local list = base .. 'waiting:' .. level
      local ids = redis.call('RPOP', list, wanted)
      -- Fewer than asked means the level is empty now (an exact fit is found empty next time).
      if not ids or #ids < wanted then
        redis.call('ZREM', base .. 'priorities', level)
      end
      for _, id in ipairs(ids or {}) do
        local tkey = task_key(base, id)
        local v = redis.call('HMGET', tkey, F.attempt, F.startedAt, F.maxAttempts, F.payload, F.backoff, F.timeoutMs, F.createdAt)
        local attempt = (tonumber(v[1]) or 0) + 1
        -- The start time is the lease's fencing token: strictly increasing per task, even for
        -- two claims within one millisecond (the later one is dated a millisecond on).
        local started = now - tonumber(v[7])
        local previous = tonumber(v[2])
        if previous and previous >= started then
          started = previous + 1
        end
        local token = int(started)
        redis.call('HSET', tkey, F.state, S.active, F.attempt, attempt, F.startedAt, token)
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
        claimed[#claimed + 1] = id
        wanted = wanted - 1
      end
    end
  end

  take()
  -- Expired leases are reaped by claims that found too little ready work (the worker is
  -- about to idle until the next deadline) and by every worker's heartbeat; a claim that
  -- filled up leaves them to those, saving a call.
  if wanted > 0 and reap_expired(base, now, 100, failed_keep_count, failed_max_age_ms) > 0 then
    take()
  end

  if #claimed > 0 then
    call_many('ZADD', base .. 'active', leases, 2)
    publish(base, 'active', claimed)
  end
  if wanted > 0 then
    -- Nothing is left in line: drop the marker, or the claimant, blocking next, would wake
    -- at once for work it has already taken.
    redis.call('DEL', base .. 'wake')
  elseif redis.call('ZCARD', base .. 'priorities') > 0 then
    -- More work is left: pass the marker on so another idle worker wakes for it.
    wake(base)
  end
  -- A worker that got all it asked for will not block, so it needs no due time.
  if wanted > 0 then
    out[1] = due_in()
  else
    out[1] = -1
  end
  return out
end
