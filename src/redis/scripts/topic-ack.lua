--[[ topic-ack: a member acknowledges messages its handler finished.

KEYS[1] fence, KEYS[2] stream
Touches (fenced): errors (hash: "<group>|<id>" -> last error JSON)
ARGV[1] group
ARGV[2] consumer (this member)
ARGV[3..] message ids

Returns the ids this member no longer held (its lease ran out and another member took the
message over): those acknowledgements were refused and changed nothing.

Why one script: the holder check and the acknowledgement are one step, so a member whose
lease ran out cannot acknowledge a message another member is handling.
]]
--@include lib/topic.lua

local stream, errors, group, consumer = KEYS[2], key(R.errors), ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if held_deliveries(stream, group, id, consumer) then
    redis.call('XACK', stream, group, id)
    redis.call('HDEL', errors, group .. '|' .. id)
  else
    lost[#lost + 1] = id
  end
end
return lost
