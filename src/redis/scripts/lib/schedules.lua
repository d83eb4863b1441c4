-- Schedules: each schedule's next slot is its score in `schedules` (inf while it is paused,
-- ended, or waiting for cron slots to be computed), and the earliest of them is copied to
-- meta's `scheduleDue`, which every claim reads with the meta fields it reads anyway, to
-- tell its worker when a slot falls due. Firing a due slot creates its run (a task whose
-- id is derived from the schedule's id and the slot's time) and moves the schedule on to
-- its next slot, in one script (schedule-fire, which workers call when a claim says a slot
-- is due, at a slot's time when all their handlers are busy, and at every heartbeat): a
-- slot gets one task however many workers fire it, and no process leads.
-- Every-N slots are computed here; cron slots are computed ahead by a cron library in
-- TypeScript (time zones, DST) and kept in `sslots:<id>`; when they run low, the schedule
-- joins `srefill` and a worker computes more (schedule-slots.lua).
--@include lib/base.lua
--@include lib/events.lua
--@include lib/create.lua

-- The fields fire_schedule reads, in order.
local FIRE_FIELDS = { SF.kind, SF.everyMs, SF.next, SF.last, SF.catchUp, SF.maxCatchUp, SF.missedAfterMs,
  SF.endAt, SF.limit, SF.runs, SF.payload, SF.priority, SF.maxAttempts, SF.backoff, SF.timeoutMs, SF.group }

-- The id of a schedule's run for one slot.
local function run_id(id, slot)
  return SCHEDULE_RUN_PREFIX .. id .. ':' .. int(slot)
end

-- meta's scheduleDue follows the earliest slot of all schedules (absent: none will fall due).
local function sync_schedule_due()
  local first = redis.call('ZRANGE', key(R.schedules), 0, 0, 'WITHSCORES')[2]
  if first and first ~= 'inf' then
    redis.call('HSET', key(R.meta), M.scheduleDue, first)
  else
    redis.call('HDEL', key(R.meta), M.scheduleDue)
  end
end

-- meta's scheduleRefill follows how many schedules wait for cron slots (claims report it).
local function sync_schedule_refill()
  local n = redis.call('SCARD', key(R.srefill))
  if n > 0 then
    redis.call('HSET', key(R.meta), M.scheduleRefill, n)
  else
    redis.call('HDEL', key(R.meta), M.scheduleRefill)
  end
end

-- A cron schedule wants more slots computed.
local function want_slots(id)
  redis.call('SADD', key(R.srefill), id)
  sync_schedule_refill()
end

-- Creates one run of a schedule (its task fields in `v`, as FIRE_FIELDS reads them, from
-- index 11 on); false when a task with that id exists already.
local function create_run(tid, v, now)
  if redis.call('EXISTS', task_key(tid)) == 1 then
    return false
  end
  create_task(tid, v[11], v[12] or '0', 0, now, v[13] or '', v[14] or '', v[15] or '', '', v[16] or '', nil)
  return true
end

-- A schedule whose slot is due: the runs its catch-up rule asks for, then its next slot.
-- Returns the ids of the runs created.
local function fire_schedule(id, now)
  local skey = key(R.schedule, id)
  local index = key(R.schedules)
  local v = redis.call('HMGET', skey, unpack(FIRE_FIELDS))
  local kind, next_slot = v[1], tonumber(v[3])
  if not kind or not next_slot then
    redis.call('ZREM', index, id) -- gone or ended meanwhile
    return {}
  end
  local last = tonumber(v[4]) or -1
  local catch_up, max_catch_up, missed_after = v[5], tonumber(v[6]), tonumber(v[7])
  local end_at, limit, runs = tonumber(v[8]), tonumber(v[9]), tonumber(v[10]) or 0

  -- The due slots (ascending; an every-schedule's are computed, not listed: a long outage
  -- of a 1 s schedule has many), the latest one, and the slot after them.
  local due, latest, following, ends = {}, nil, nil, false
  if kind == 'e' then
    local every = tonumber(v[2])
    -- Due slots end at endAt: an outage past it still runs the catch-up for those before.
    local count = math.max(math.floor((math.min(now, end_at or now) - next_slot) / every) + 1, 1)
    latest = next_slot + (count - 1) * every
    following = latest + every
    for k = math.max(count - max_catch_up, 0), count - 1 do
      due[#due + 1] = next_slot + k * every
    end
  else
    local list = key(R.sslots, id)
    local ahead = redis.call('LRANGE', list, 0, -1)
    due[1] = next_slot
    local i = 1
    while ahead[i] and ahead[i] ~= CRON_END and tonumber(ahead[i]) <= now do
      due[#due + 1] = tonumber(ahead[i])
      i = i + 1
    end
    if not ahead[i] then
      -- No slot ahead is known: wait for a worker to compute them (around now, so the
      -- catch-up rule sees every missed slot), rather than run on half the picture.
      redis.call('ZADD', index, 'inf', id)
      want_slots(id)
      return {}
    end
    latest = due[#due]
    if ahead[i] == CRON_END then
      ends = true
      redis.call('DEL', list)
    else
      following = tonumber(ahead[i])
      redis.call('LTRIM', list, i, -1) -- what comes after `following` stays listed
      -- Few left: more are computed, unless the last one listed is the end marker.
      if #ahead - i < SCHEDULE_SLOTS_LOW and ahead[#ahead] ~= CRON_END then
        want_slots(id)
      end
    end
    while #due > max_catch_up do
      table.remove(due, 1)
    end
  end

  -- Which due slots get a run.
  local chosen = {}
  if catch_up == 'all' then
    chosen = due
  elseif catch_up == 'one' or now - latest <= missed_after then
    chosen = { latest }
  end
  local created, ids = 0, {}
  for _, slot in ipairs(chosen) do
    if slot > last and (not end_at or slot <= end_at) and (not limit or runs + created < limit) then
      local tid = run_id(id, slot)
      if create_run(tid, v, now) then
        created = created + 1
        ids[#ids + 1] = tid
      end
    end
  end

  local fields = { SF.last, int(latest) }
  if created > 0 then
    fields[#fields + 1] = SF.lastTask
    fields[#fields + 1] = ids[#ids]
    fields[#fields + 1] = SF.lastRunAt
    fields[#fields + 1] = int(now)
    fields[#fields + 1] = SF.runs
    fields[#fields + 1] = runs + created
  end
  if ends or (end_at and following > end_at) or (limit and runs + created >= limit) then
    fields[#fields + 1] = SF.ended
    fields[#fields + 1] = '1'
    redis.call('HDEL', skey, SF.next)
    redis.call('ZADD', index, 'inf', id)
  else
    fields[#fields + 1] = SF.next
    fields[#fields + 1] = int(following)
    redis.call('ZADD', index, following, id)
  end
  redis.call('HSET', skey, unpack(fields))
  return ids
end

-- Fires the schedules whose slot is due, up to 100 of them and about 1,000 runs per call
-- (one schedule catching up creates at most its maxCatchUp, itself at most 1,000): a claim
-- stays short for other clients, and the schedules still due fire at the next call (the
-- claim's due time is then 0). The runs go in line as enqueued tasks. Returns how many runs
-- were created.
local function fire_schedules(now)
  local ids = redis.call('ZRANGEBYSCORE', key(R.schedules), '-inf', now, 'LIMIT', 0, 100)
  local runs = {}
  for _, id in ipairs(ids) do
    if #runs >= 1000 then
      break
    end
    for _, tid in ipairs(fire_schedule(id, now)) do
      runs[#runs + 1] = tid
    end
  end
  if #runs > 0 then
    redis.call('HINCRBY', key(R.meta), M.enqueued, #runs)
    publish('waiting', runs)
  end
  sync_schedule_due()
  return #runs
end

-- The first slot of an every-schedule after `after` (epoch ms): slots are anchor + k * every.
local function every_slot_after(anchor, every, after)
  if anchor > after then
    return anchor
  end
  return anchor + (math.floor((after - anchor) / every) + 1) * every
end

-- Puts a schedule on its next slot (`first`; nil: it has none left, it has ended).
local function place_schedule(id, first, paused)
  local skey = key(R.schedule, id)
  if first then
    redis.call('HSET', skey, SF.next, int(first))
    redis.call('HDEL', skey, SF.ended)
    if paused then
      redis.call('ZADD', key(R.schedules), 'inf', id)
    else
      redis.call('ZADD', key(R.schedules), first, id)
    end
  else
    redis.call('HDEL', skey, SF.next)
    redis.call('HSET', skey, SF.ended, '1')
    redis.call('ZADD', key(R.schedules), 'inf', id)
  end
end

-- Lists the cron slots given in `args` (a script's ARGV) from `from` on (those after
-- `after`, ascending, maybe ending with CRON_END) as the schedule's slots ahead; returns the
-- first (nil: none).
local function list_cron_slots(id, args, from, after)
  local list = key(R.sslots, id)
  redis.call('DEL', list)
  local first
  local rest = {}
  for i = from, #args do
    local slot = args[i]
    if slot == CRON_END then
      if first then
        rest[#rest + 1] = slot
      end
      break
    end
    if tonumber(slot) > after then
      if first then
        rest[#rest + 1] = slot
      else
        first = tonumber(slot)
      end
    end
  end
  if #rest > 0 then
    call_many('RPUSH', list, rest)
  end
  return first
end
