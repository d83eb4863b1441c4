--[[ set-paused: stop or restart claims of a queue. Running tasks are not affected.

KEYS[1] fence, KEYS[2] meta (hash: paused flag)
Touches (fenced): wake
ARGV[1] 1 to pause, 0 to resume

Returns OK. Resuming wakes idle workers, which block while the queue is paused.
]]
--@include lib/events.lua

if ARGV[1] == '1' then
  redis.call('HSET', KEYS[2], M.paused, '1')
else
  redis.call('HDEL', KEYS[2], M.paused)
  wake()
end
return STATUS.OK
