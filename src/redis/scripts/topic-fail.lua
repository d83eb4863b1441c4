--[[ topic-fail: a member's handler failed on a message.

KEYS[1] fence, KEYS[2] stream
Touches (fenced): dead (list: the topic's dead letters), errors (hash: "<group>|<id>" ->
last error JSON)
ARGV[1] group
ARGV[2] consumer (this member)
ARGV[3] message id
ARGV[4] attempts: deliveries allowed per message
ARGV[5] the error, JSON
ARGV[6] dead letters kept
ARGV[7] '1' to dead-letter now whatever attempts remain (the message cannot be decoded)

Returns OK (kept for another attempt once its lease runs out, by any member),
DEAD_LETTERED (that was its last attempt) or LEASE_LOST (this member no longer held
it, so nothing changed).

Why one script: the holder check, the attempt count and the dead-letter move are one step.
]]
--@include lib/topic.lua

local stream, dead, errors = KEYS[2], key(R.dead), key(R.errors)
local group, consumer, id = ARGV[1], ARGV[2], ARGV[3]
local deliveries = held_deliveries(stream, group, id, consumer)
if not deliveries then
  return STATUS.LEASE_LOST
end
if ARGV[7] == '1' or deliveries >= tonumber(ARGV[4]) then
  dead_letter_message(stream, dead, errors, group, id, deliveries, ARGV[5], tonumber(ARGV[6]), now_ms())
  return STATUS.DEAD_LETTERED
end
redis.call('HSET', errors, group .. '|' .. id, ARGV[5])
return STATUS.OK
