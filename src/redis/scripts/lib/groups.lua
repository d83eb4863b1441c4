-- Groups: a task enqueued with a group waits in its group's own line (one list per
-- priority level, like the queue's); claims rotate over the groups with ready tasks, so one
-- group's backlog cannot starve another's; a group may be held by its own concurrency and
-- rate limits (the queue's defaults for every group, or its own), be paused, or be held by
-- a handler's RateLimitedError.
--
-- The rotation is a list (`groups`): a claim pops the next groups off its right end and
-- puts back on its left those with tasks left, so each turn costs O(1) per group, however
-- many groups there are. `gstate` says where a group with ready tasks is: its highest
-- level while in the rotation, 'p' and that level while parked in `gparked` (scored by when
-- to look again; inf: when one of its slots frees, or when it is resumed).
--@include lib/base.lua
--@include lib/events.lua
--@include lib/waiting.lua

local PARKED = 'p'

-- How many tasks a claim takes from each group it visits, at least, when many groups wait
-- (a claim of `wanted` visits about wanted / GROUP_GRAIN groups, and takes its share from
-- each). Each visit of a group costs calls of its own: one task per visit costs about half
-- as much again per task as the queue's own line; a few per visit keeps the rotation fair
-- to within a few tasks, and most of the speed.
local GROUP_GRAIN = 4

local function parked_level(state)
  if state and string.sub(state, 1, 1) == PARKED then
    return string.sub(state, 2)
  end
end

-- Puts a task in its group's line (`front`: next in line, for requeued work) and the group
-- in the rotation if it was not there or parked. Counts it among the grouped waiting tasks.
local function group_push(group, id, priority, front)
  local list = key(R.gwaiting, group .. ':' .. priority)
  local len
  if front then
    len = redis.call('RPUSH', list, id)
  else
    len = redis.call('LPUSH', list, id)
  end
  if len == 1 then
    redis.call('ZADD', key(R.gpriorities, group), -tonumber(priority), priority)
  end
  redis.call('HINCRBY', key(R.meta), M.grouped, 1)
  local gstate = key(R.gstate)
  local state = redis.call('HGET', gstate, group)
  if not state then
    redis.call('HSET', gstate, group, priority)
    redis.call('LPUSH', key(R.groups), group)
  else
    local level = parked_level(state)
    if level then
      if tonumber(priority) > tonumber(level) then
        redis.call('HSET', gstate, group, PARKED .. priority)
      end
    elseif tonumber(priority) > tonumber(state) then
      redis.call('HSET', gstate, group, priority)
    end
  end
end

-- Takes a waiting task out of its group's line (a cancel or a remove).
local function group_unlist(group, id, priority)
  local list = key(R.gwaiting, group .. ':' .. (priority or '0'))
  local removed = redis.call('LREM', list, 1, id)
  if removed > 0 then
    redis.call('HINCRBY', key(R.meta), M.grouped, -1)
    if redis.call('LLEN', list) == 0 then
      redis.call('ZREM', key(R.gpriorities, group), priority or '0')
      if redis.call('ZCARD', key(R.gpriorities, group)) == 0 then
        -- Nothing of the group waits any more: out of the rotation (or the parked set) now,
        -- so counts and lists do not show it (an admin action: the LREM may scan).
        redis.call('LREM', key(R.groups), 0, group)
        redis.call('ZREM', key(R.gparked), group)
        redis.call('HDEL', key(R.gstate), group)
      end
    end
  end
  return removed
end

local function park(group, level, until_ms)
  redis.call('HSET', key(R.gstate), group, PARKED .. level)
  redis.call('ZADD', key(R.gparked), until_ms, group)
end

-- A parked group rejoins the rotation (at its end).
local function unpark(group)
  local gstate = key(R.gstate)
  redis.call('ZREM', key(R.gparked), group)
  local level = parked_level(redis.call('HGET', gstate, group))
  if level then
    redis.call('HSET', gstate, group, level)
    redis.call('LPUSH', key(R.groups), group)
    wake()
  end
end

-- Groups parked until a time that has come rejoin the rotation.
local function unpark_due(now)
  for _, group in ipairs(redis.call('ZRANGEBYSCORE', key(R.gparked), '-inf', now, 'LIMIT', 0, 100)) do
    unpark(group)
  end
end

-- The group limits of `groups` (the queue's defaults, then each group's own): a list of
-- { concurrency, rate_max, rate_per_ms, paused, held_until } per group.
local function group_limits(groups, limits)
  local out = {}
  local overrides
  if redis.call('EXISTS', key(R.glimits)) == 1 then
    local fields = {}
    for _, group in ipairs(groups) do
      local prefix = group .. '|'
      fields[#fields + 1] = prefix .. GL.concurrency
      fields[#fields + 1] = prefix .. GL.rateMax
      fields[#fields + 1] = prefix .. GL.ratePerMs
      fields[#fields + 1] = prefix .. GL.paused
      fields[#fields + 1] = prefix .. GL.limitedUntil
    end
    overrides = redis.call('HMGET', key(R.glimits), unpack(fields))
  end
  for i = 1, #groups do
    local o = overrides and (i - 1) * 5 or nil
    local function pick(n, default)
      if o and overrides[o + n] then
        return tonumber(overrides[o + n])
      end
      return default
    end
    out[i] = {
      concurrency = pick(1, limits.groupConcurrency),
      rate_max = pick(2, limits.groupRateMax),
      rate_per_ms = pick(3, limits.groupRatePerMs),
      paused = o and overrides[o + 4] and true or false,
      held_until = o and tonumber(overrides[o + 5]) or nil,
    }
  end
  return out
end

-- Takes up to `wanted` tasks from the groups in rotation order, a fair share from each
-- group visited (`wanted` spread over the groups of a turn, at least one each); `lease`
-- leases one task id (given its group and whether it holds one of the group's concurrency
-- slots). Groups held by a limit are parked, emptied ones dropped, the others put back at
-- the end of the rotation. Returns how many were taken.
local function take_grouped(now, wanted, limits, lease)
  local rotation, gstate, gactive = key(R.groups), key(R.gstate), key(R.gactive)
  local taken = 0
  local turns = 0
  while wanted > 0 and turns < 100 do
    turns = turns + 1
    -- At most 1,000 groups a turn: their fields are read with one HMGET each (unpack's
    -- stack limit is near 8,000 values, and a group has 5 limit fields).
    local groups = redis.call('RPOP', rotation, math.min(math.ceil(wanted / GROUP_GRAIN), 1000))
    if not groups then
      break
    end
    local share = math.ceil(wanted / #groups)
    local states = redis.call('HMGET', gstate, unpack(groups))
    local glimits = group_limits(groups, limits)
    local back = {}
    local active
    for i, group in ipairs(groups) do
      local level = states[i]
      local lim = glimits[i]
      if lim.concurrency and not active then
        active = redis.call('HMGET', gactive, unpack(groups))
      end
      local room = math.min(share, wanted)
      local park_until
      if not level or parked_level(level) then
        room = 0 -- emptied meanwhile, or parked already: not in the rotation any more
        level = nil
      elseif lim.paused then
        park_until = 'inf'
      elseif lim.held_until and lim.held_until > now then
        park_until = lim.held_until
      else
        if lim.held_until then
          redis.call('HDEL', key(R.glimits), group .. '|' .. GL.limitedUntil) -- the hold has passed
        end
        if lim.concurrency then
          local free = lim.concurrency - (tonumber(active[i]) or 0)
          if free <= 0 then
            park_until = 'inf'
          end
          room = math.min(room, free)
        end
        if not park_until and lim.rate_max and lim.rate_per_ms then
          local rate = key(R.grate, group)
          redis.call('ZREMRANGEBYSCORE', rate, '-inf', now - lim.rate_per_ms)
          local left = lim.rate_max - redis.call('ZCARD', rate)
          if left <= 0 then
            park_until = tonumber(redis.call('ZRANGE', rate, 0, 0, 'WITHSCORES')[2]) + lim.rate_per_ms
          end
          room = math.min(room, left)
        end
      end
      if park_until then
        park(group, level, park_until)
      elseif level then
        local ids = {}
        while room > 0 and level do
          local got = redis.call('RPOP', key(R.gwaiting, group .. ':' .. level), room)
          if got then
            for _, id in ipairs(got) do
              ids[#ids + 1] = id
            end
            room = room - #got
          end
          if room > 0 then
            -- That level is empty: the next one, if any.
            redis.call('ZREM', key(R.gpriorities, group), level)
            level = redis.call('ZRANGE', key(R.gpriorities, group), 0, 0)[1]
          end
        end
        local slots = lim.concurrency ~= nil
        local starts = {}
        for _, id in ipairs(ids) do
          starts[#starts + 1] = now
          starts[#starts + 1] = lease(id, group, slots)
        end
        if #ids > 0 then
          taken = taken + #ids
          wanted = wanted - #ids
          if slots then
            redis.call('HINCRBY', gactive, group, #ids)
          end
          if lim.rate_max then
            local rate = key(R.grate, group)
            redis.call('ZADD', rate, unpack(starts))
            redis.call('PEXPIRE', rate, lim.rate_per_ms) -- a group that stops starting leaves no log
          end
        end
        if level then
          if level ~= states[i] then
            redis.call('HSET', gstate, group, level)
          end
          back[#back + 1] = group
        else
          redis.call('HDEL', gstate, group) -- emptied: out of the rotation
        end
      end
    end
    if #back > 0 then
      -- Back at the end of the rotation in reverse: the group served first this turn (it may
      -- have got more than the last one) comes after the others next time round.
      local reversed = {}
      for i = #back, 1, -1 do
        reversed[#reversed + 1] = back[i]
      end
      call_many('LPUSH', rotation, reversed)
    end
  end
  if taken > 0 then
    redis.call('HINCRBY', key(R.meta), M.grouped, -taken)
  end
  return taken
end

-- Tasks that held group concurrency slots finished (or went back in line): `freed` maps
-- group -> how many. A group parked for want of a slot rejoins the rotation.
local function group_slots_freed(freed)
  local gactive, gparked = key(R.gactive), key(R.gparked)
  for group, n in pairs(freed) do
    if redis.call('HINCRBY', gactive, group, -n) <= 0 then
      redis.call('HDEL', gactive, group)
    end
    if redis.call('ZSCORE', gparked, group) == 'inf'
      and not redis.call('HGET', key(R.glimits), group .. '|' .. GL.paused) then
      unpark(group)
    end
  end
end

-- A task that held one of its group's concurrency slots leaves `active`: the slot is
-- counted in `freed` (group -> n), for group_slots_freed.
local function free_slot(tkey, group, holds_slot, freed)
  if holds_slot then
    redis.call('HDEL', tkey, F.groupSlot)
    freed[group] = (freed[group] or 0) + 1
  end
end

-- Takes a task's id out of the list or set that holds tasks in its state (a state code).
local STATE_KEYS = { [S.delayed] = R.delayed, [S.active] = R.active, [S.dependencies] = R.dependencies,
  [S.completed] = R.completed, [S.failed] = R.failed, [S.cancelled] = R.cancelled }
local function unlist(id, state, priority, group)
  if state == S.waiting then
    if group then
      group_unlist(group, id, priority or '0')
    else
      remove_waiting(id, priority or '0')
    end
  elseif state == S.delayed or state == S.active or state == S.dependencies then
    redis.call('ZREM', key(STATE_KEYS[state]), id)
  elseif STATE_KEYS[state] then
    redis.call('LREM', key(STATE_KEYS[state]), 1, id)
  end
end

-- A task goes back in line, first: its group's, or the queue's.
local function requeue(id, priority, group)
  if group then
    group_push(group, id, priority or '0', true)
  else
    push_waiting(id, priority or '0', true)
  end
end
