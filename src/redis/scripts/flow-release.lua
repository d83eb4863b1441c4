--[[ flow-release: make a committed flow's leaves claimable (and its nodes leave `held`).

KEYS[1] fence, KEYS[2] dependencies (zset)
Touches (fenced): task:<id>, held, waiting:<priority>, priorities, wake, progress channel
ARGV[1..] ids of flow nodes on this queue

Returns how many were released (the ids may include a committed flow's nodes below the
root that have children: they only leave `held`). Only a node in the `dependencies` state with no pending
child moves (to waiting); anything else is left as it is, so a second call (the sweep
finishing what a crashed `add` began) changes nothing. Every id given leaves `held` (one
cancelled or removed meanwhile too: the sweep need not look at it again).
]]
--@include lib/events.lua
--@include lib/waiting.lua

local released = {}
for _, id in ipairs(ARGV) do
  local tkey = task_key(id)
  local v = redis.call('HMGET', tkey, F.state, F.pending, F.priority)
  if v[1] == S.dependencies and tonumber(v[2]) == 0 then
    redis.call('HSET', tkey, F.state, S.waiting)
    redis.call('HDEL', tkey, F.pending)
    push_waiting(id, v[3] or '0', false)
    released[#released + 1] = id
  end
end
call_many('ZREM', key(R.held), ARGV)
if #released > 0 then
  call_many('ZREM', KEYS[2], released)
  wake()
  publish('waiting', released)
end
return #released
