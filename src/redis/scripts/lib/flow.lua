-- Flow control, enforced where tasks start: the queue's rate limit (a sliding log of starts
-- in `rate`, on the Redis clock: at most rateMax in any window of ratePerMs), its global
-- concurrency (leases in `active`), and a hold a handler asked for (RateLimitedError).
--@include lib/base.lua
--@include lib/events.lua

-- How many tasks may start now, and, when none may, the epoch ms at which one may (nil:
-- when a running task finishes, or its lease runs out). `limits` holds the settings read
-- (concurrency, rateMax, ratePerMs); `held_until` the handler's hold, if any.
local function flow_room(now, limits, held_until)
  if held_until and held_until > now then
    return 0, held_until
  end
  local room, opens = math.huge, nil
  if limits.concurrency then
    local active = redis.call('ZCARD', key(R.active))
    if active > 0 then
      active = active - 1 -- the encoding sentinel (lib/leases.lua)
    end
    room = limits.concurrency - active
  end
  if limits.rateMax and limits.ratePerMs and room > 0 then
    local rate = key(R.rate)
    redis.call('ZREMRANGEBYSCORE', rate, '-inf', now - limits.ratePerMs)
    local left = limits.rateMax - redis.call('ZCARD', rate)
    if left < room then
      room = left
      if left <= 0 then
        local oldest = redis.call('ZRANGE', rate, 0, 0, 'WITHSCORES')
        opens = tonumber(oldest[2]) + limits.ratePerMs
      end
    end
  end
  return math.max(room, 0), opens
end

-- When the rate limit's window is full: the epoch ms at which its oldest start leaves it.
local function rate_opens(limits)
  if limits.rateMax and limits.ratePerMs and redis.call('ZCARD', key(R.rate)) >= limits.rateMax then
    return tonumber(redis.call('ZRANGE', key(R.rate), 0, 0, 'WITHSCORES')[2]) + limits.ratePerMs
  end
end

-- Records starts in the rate limit's log: one member per start (`id:token`, unique: a run
-- that used no attempt, deferred or released, keeps its own entry).
local function count_starts(now, limits, starts)
  if limits.rateMax and #starts > 0 then
    local members = {}
    for _, start in ipairs(starts) do
      members[#members + 1] = now
      members[#members + 1] = start
    end
    call_many('ZADD', key(R.rate), members, 2)
  end
end

-- A slot of a concurrency-limited queue came free: wake an idle worker if work waits (the
-- worker that freed it may have no room to take it).
local function slot_freed(limits)
  if limits.concurrency and (redis.call('ZCARD', key(R.priorities)) > 0 or redis.call('LLEN', key(R.groups)) > 0) then
    wake()
  end
end
