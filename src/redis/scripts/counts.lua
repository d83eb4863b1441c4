--[[ counts: one consistent snapshot of a queue's sizes (read-only).

KEYS[1] meta, KEYS[2] priorities, KEYS[3] delayed, KEYS[4] active, KEYS[5] completed,
KEYS[6] failed, KEYS[7] cancelled
ARGV[1] base

Returns {waiting, delayed, active, completed, failed, cancelled, paused (0/1)}.
]]
--@include lib/common.lua

local base = ARGV[1]
local waiting = 0
for _, level in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  waiting = waiting + redis.call('LLEN', base .. 'waiting:' .. level)
end
local paused = 0
if redis.call('HGET', KEYS[1], 'paused') then
  paused = 1
end
return {
  waiting,
  redis.call('ZCARD', KEYS[3]),
  redis.call('ZCOUNT', KEYS[4], '-inf', '(+inf'), -- leaves out the encoding sentinel (lib/common.lua)
  redis.call('LLEN', KEYS[5]),
  redis.call('LLEN', KEYS[6]),
  redis.call('LLEN', KEYS[7]),
  paused,
}
