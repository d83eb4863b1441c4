--[[ counts: one consistent snapshot of a queue's sizes (read-only).

KEYS[1] fence, KEYS[2] meta (paused flag)
Touches (fenced): priorities, waiting:<priority>, delayed, active, completed, failed,
cancelled
ARGV: none

Returns {waiting, delayed, active, completed, failed, cancelled, paused (0/1)}.
]]
--@include lib/base.lua

local waiting = 0
for _, level in ipairs(redis.call('ZRANGE', key(R.priorities), 0, -1)) do
  waiting = waiting + redis.call('LLEN', key(R.waiting, level))
end
local paused = 0
if redis.call('HGET', key(R.meta), M.paused) then
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
}
