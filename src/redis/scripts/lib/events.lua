-- Announcements of state changes, and the wake marker idle workers block on.
--@include lib/base.lua

-- One marker member: idle workers block on BZPOPMIN of this key, so a wake-up is never
-- lost and never piles up.
local function wake()
  redis.call('ZADD', key(R.wake), 0, WAKE_MEMBER)
end

-- One message per batch: "<state>|<id>,<id>,..." (ids never contain '|' or ','), then
-- optionally "|" and `created`, each task's createdAt (which incarnation of an id a caller
-- reused: a waiter takes a completed result only for the task it waits for), then
-- optionally "\n" and `details`, one line per id (results of a completed batch: JSON never
-- holds a raw newline). Outcomes go to `events`, where result waiters listen; other moves
-- to `progress`, which only task watchers hear (a producer awaiting results is not sent
-- every claim).
local OUTCOMES = { completed = true, failed = true, cancelled = true, removed = true }
local function publish(state, ids, details, created)
  if #ids > 0 then
    local message = state .. '|' .. table.concat(ids, ',')
    if created then
      message = message .. '|' .. table.concat(created, ',')
    end
    if details then
      message = message .. '\n' .. table.concat(details, '\n')
    end
    redis.call(PUBLISH, key(OUTCOMES[state] and R.events or R.progress), message)
  end
end
