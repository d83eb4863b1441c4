--[[ release: hand leases back without counting an attempt (a worker closing before its
handlers finished).

KEYS[1] active (zset)
KEYS[2] wake   (zset marker)
ARGV[1] base
ARGV[2..] per lease, 2 values: id, lease token

Returns one status per lease: 0 released (next in line), 1 LEASE_LOST (nothing changed).
]]
--@include lib/common.lua

local base = ARGV[1]
local out, released = {}, {}
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local tkey = task_key(base, id)
  local v = redis.call('HMGET', tkey, F.state, F.startedAt, F.priority)
  if v[1] ~= S.active or v[2] ~= token then
    out[#out + 1] = 1
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HINCRBY', tkey, F.attempt, -1)
    redis.call('HSET', tkey, F.state, S.waiting)
    push_waiting(base, id, v[3] or '0', true)
    released[#released + 1] = id
    out[#out + 1] = 0
  end
end
if #released > 0 then
  wake(base)
  publish(base, 'waiting', released)
end
return out
