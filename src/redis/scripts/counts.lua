--[[ counts: one consistent snapshot of a queue's sizes (read-only).

KEYS[1] fence, KEYS[2] meta (paused flag)
Touches (fenced): priorities, waiting:<priority>, delayed, active, completed, failed,
cancelled, gstate (groups with waiting tasks), dependencies
ARGV: none

Returns {waiting (in the queue's line and the groups'), delayed, active, completed, failed,
cancelled, paused (0/1), groups (groups with waiting tasks), dependencies (flow parents
waiting for their children, flow nodes not yet released)}.
]]
--@include lib/base.lua

local meta = redis.call('HMGET', key(R.meta), M.paused, M.grouped)
local waiting = tonumber(meta[2]) or 0
for _, level in ipairs(redis.call('ZRANGE', key(R.priorities), 0, -1)) do
  waiting = waiting + redis.call('LLEN', key(R.waiting, level))
end
local paused = 0
if meta[1] then
  paused = 1
end
return {
  waiting,
  redis.call('ZCARD', key(R.delayed)),
  redis.call('ZCOUNT', key(R.active), '-inf', '(+inf'), -- leaves out the encoding sentinel (lib/leases.lua)
  redis.call('LLEN', key(R.completed)),
  redis.call('LLEN', key(R.failed)),
  redis.call('LLEN', key(R.cancelled)),
  paused,
  redis.call('HLEN', key(R.gstate)),
  redis.call('ZCARD', key(R.dependencies)),
}
