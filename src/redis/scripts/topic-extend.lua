--[[ topic-extend: a member's heartbeat. Restarts the lease clock of every message it holds.

KEYS[1] fence, KEYS[2] stream
ARGV[1] group
ARGV[2] consumer (this member)
ARGV[3..] ids of the messages its handlers are running on

Returns the ids it no longer holds (taken over by another member after its lease ran out,
or trimmed): their handlers' outcomes will be refused.

Why one script: the holder check and the claim are one step; a plain XCLAIM would take a
message back from the member that rightly took it over.
]]
--@include lib/topic.lua

local stream, group, consumer = KEYS[2], ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if held_deliveries(stream, group, id, consumer) then
    -- JUSTID: reset the idle time without counting a delivery.
    redis.call('XCLAIM', stream, group, consumer, 0, id, 'JUSTID')
  else
    lost[#lost + 1] = id
  end
end
return lost
