--[[ set-paused: stop or restart claims of a queue. Running tasks are not affected.

KEYS[1] meta (hash: paused flag)
KEYS[2] wake (zset marker)
ARGV[1] base
ARGV[2] 1 to pause, 0 to resume

Returns 0. Resuming wakes idle workers, which block while the queue is paused.
]]
--@include lib/common.lua

if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'paused', '1')
else
  redis.call('HDEL', KEYS[1], 'paused')
  wake(ARGV[1])
end
return 0
