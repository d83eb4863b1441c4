--[[ configure: change a queue's settings, atomically.

KEYS[1] fence, KEYS[2] settings (hash: SETTINGS_FIELDS)
Touches (fenced): wake
ARGV[1..] pairs: settings field, value ('' removes the field: the default, or no limit)

Returns the new version (it goes up by one with every change). Idle workers are woken: a
raised limit may let them claim now.

Why one script: a change is applied whole, and its version counted with it.
]]
--@include lib/events.lua

for i = 1, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[2], ARGV[i])
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
local version = redis.call('HINCRBY', KEYS[2], SET.version, 1)
wake()
return version
