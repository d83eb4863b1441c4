--[[ topic-leave: a member that closed removes itself from its group, if it holds nothing.

KEYS[1] fence, KEYS[2] stream
ARGV[1] group
ARGV[2] consumer (this member)

Returns 1 when removed, 0 when it still holds messages (they stay pending, for another
member to take over once their leases run out).

Why one script: XGROUP DELCONSUMER drops a member's pending messages with it; checking
and removing in one step guarantees no message is dropped.
]]
--@include lib/topic.lua

local stream, group, consumer = KEYS[2], ARGV[1], ARGV[2]
-- pcall: the stream or the group may be gone (deleted by an admin); then so is the member.
local held = redis.pcall('XPENDING', stream, group, '-', '+', 1, consumer)
if type(held) ~= 'table' or held.err or #held > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', stream, group, consumer)
return 1
