--[[ claim: lease up to N ready tasks to one worker.

KEYS[1] meta       (hash: paused flag)
KEYS[2] priorities (zset of non-empty waiting levels)
KEYS[3] delayed    (zset)
KEYS[4] active     (zset: id -> lease deadline)
KEYS[5] wake       (zset marker)
ARGV[1] base
ARGV[2] max tasks to claim
ARGV[3] leaseMs
ARGV[4] worker id (unused by the script; its heartbeat names the tasks it holds)
ARGV[5] failed retention count, ARGV[6] failed retention maxAgeMs (for reaped tasks)

Returns {dueIn, paused, then 8 values per claimed task: id, lease token, attempt,
maxAttempts, payload, backoff, timeoutMs, createdAt}. dueIn is how many ms from now the
next delayed task or lease deadline falls due (-1 if none; 0 if more is due than one call
handles): an idle worker blocks on the wake marker that long at most. Relative, so the
worker's own clock does not matter.

Why one script: reaping, promoting due delayed tasks and leasing must be atomic so no
task is handed out twice, and doing them here keeps every idle worker's wait event-driven.
]]
--@include lib/common.lua

local base = ARGV[1]
local now = now_ms()
local wanted = tonumber(ARGV[2])
local lease_ms = tonumber(ARGV[3])
local worker = ARGV[4]

local function due_in()
  local due = next_due(base)
  if due < 0 then
    return -1
  end
  return math.max(due - now, 0)
end

reap_expired(base, now, 100, tonumber(ARGV[5]), tonumber(ARGV[6]))

local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 1000)
if #due > 0 then
  for _, id in ipairs(due) do
    local tkey = task_key(base, id)
    redis.call('HSET', tkey, F.state, S.waiting)
    redis.call('HDEL', tkey, F.runAt)
    push_waiting(base, id, redis.call('HGET', tkey, F.priority) or '0', false)
  end
  redis.call('ZREM', KEYS[3], unpack(due))
  publish(base, 'waiting', due)
end

if redis.call('HGET', KEYS[1], 'paused') then
  return { due_in(), 1 }
end

local out = { 0, 0 }
local claimed = {}
local leases = {}
local deadline = now + lease_ms
while wanted > 0 do
  local level = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not level then
    break
  end
  local list = base .. 'waiting:' .. level
  local ids = redis.call('RPOP', list, wanted)
  -- Fewer than asked means the level is empty now (an exact fit is found empty next time).
  if not ids or #ids < wanted then
    redis.call('ZREM', KEYS[2], level)
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

if #claimed > 0 then
  call_many('ZADD', KEYS[4], leases, 2)
  publish(base, 'active', claimed)
  -- More work is left: pass the marker on so another idle worker wakes for it.
  if redis.call('ZCARD', KEYS[2]) > 0 then
    wake(base)
  end
end
-- A worker that got all it asked for will not block, so it needs no due time.
if wanted > 0 then
  out[1] = due_in()
else
  out[1] = -1
end
return out
