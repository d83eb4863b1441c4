--[[ extend: a worker's heartbeat. Pushes the deadlines of its live leases and records
the worker as alive.

KEYS[1] fence, KEYS[2] workers (hash: worker id -> JSON description)
Touches (fenced): task:<id>, active
ARGV[1] leaseMs
ARGV[2] worker id
ARGV[3] worker description JSON (an object; heartbeatAt is added here)
ARGV[4..] per lease, 2 values: id, lease token

Returns the ids whose lease is lost (token changed, or no longer active): the worker
aborts those handlers; their results would be refused anyway.

Why one script: one round trip per worker per heartbeat, whatever its concurrency.
]]
--@include lib/base.lua

local now = now_ms()
local deadline = now + tonumber(ARGV[1])
local active = key(R.active)
local lost = {}
for i = 4, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local v = redis.call('HMGET', task_key(id), F.state, F.startedAt)
  if v[1] == S.active and v[2] == token then
    redis.call('ZADD', active, 'XX', deadline, id)
  else
    lost[#lost + 1] = id
  end
end
local info = ARGV[3]
redis.call('HSET', KEYS[2], ARGV[2], string.sub(info, 1, -2) .. ',"heartbeatAt":' .. int(now) .. '}')
return lost
