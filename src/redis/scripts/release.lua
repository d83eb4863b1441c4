--[[ release: hand leases back without counting an attempt (a worker closing before its
handlers finished).

KEYS[1] fence, KEYS[2] active (zset)
Touches (fenced): task:<id>, waiting:<priority>, priorities, wake, progress channel; for
grouped tasks their group's line (gwaiting, gpriorities, gstate, groups, meta) and slots
ARGV[1..] per lease, 2 values: id, lease token

Returns one status per lease: OK (released, next in line) or LEASE_LOST (nothing changed).
]]
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/groups.lua

local out, released, freed = {}, {}, {}
for i = 1, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local tkey = task_key(id)
  local v = redis.call('HMGET', tkey, F.state, F.startedAt, F.priority, F.group, F.groupSlot)
  if v[1] ~= S.active or v[2] ~= token then
    out[#out + 1] = STATUS.LEASE_LOST
  else
    redis.call('ZREM', KEYS[2], id)
    redis.call('HINCRBY', tkey, F.attempt, -1)
    redis.call('HSET', tkey, F.state, S.waiting)
    free_slot(tkey, v[4], v[5], freed)
    requeue(id, v[3], v[4])
    released[#released + 1] = id
    out[#out + 1] = STATUS.OK
  end
end
group_slots_freed(freed)
if #released > 0 then
  wake()
  publish('waiting', released)
end
return out
