--[[ release: hand leases back without counting an attempt (a worker closing before its
handlers finished).

KEYS[1] fence, KEYS[2] active (zset)
Touches (fenced): task:<id>, waiting:<priority>, priorities, wake, progress channel
ARGV[1..] per lease, 2 values: id, lease token

Returns one status per lease: OK (released, next in line) or LEASE_LOST (nothing changed).
]]
--@include lib/events.lua
--@include lib/waiting.lua

local out, released = {}, {}
for i = 1, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local tkey = task_key(id)
  local v = redis.call('HMGET', tkey, F.state, F.startedAt, F.priority)
  if v[1] ~= S.active or v[2] ~= token then
    out[#out + 1] = STATUS.LEASE_LOST
  else
    redis.call('ZREM', KEYS[2], id)
    redis.call('HINCRBY', tkey, F.attempt, -1)
    redis.call('HSET', tkey, F.state, S.waiting)
    push_waiting(id, v[3] or '0', true)
    released[#released + 1] = id
    out[#out + 1] = STATUS.OK
  end
end
if #released > 0 then
  wake()
  publish('waiting', released)
end
return out
