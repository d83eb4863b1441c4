--[[ topic-reclaim: a member of a subscriber group takes over messages whose lease ran out
(their member crashed, stalled, or failed them and left them for another attempt).

KEYS[1] fence, KEYS[2] stream
Touches (fenced): dead (list: the topic's dead letters), errors (hash: "<group>|<id>" ->
last error JSON)
ARGV[1] group
ARGV[2] consumer (this member)
ARGV[3] leaseMs: a message not touched for this long is taken over
ARGV[4] cursor: where the previous call's scan stopped ('0-0' to start over)
ARGV[5] most messages to take
ARGV[6] attempts: deliveries allowed per message
ARGV[7] dead letters kept
ARGV[8] pruneIdleMs: members holding nothing and silent this long are removed

Returns {cursor, taken, dead}: cursor for the next call; taken is a list of 3 values per
message (id, message JSON, attempt number); dead lists the ids moved to the dead letters
because their last allowed attempt ran out of time.

Why one script: taking a message over, counting the attempt and deciding its dead-letter
fate must be one step, or two members could both act on the same message.
]]
--@include lib/topic.lua

local stream, dead, errors = KEYS[2], key(R.dead), key(R.errors)
local group, consumer = ARGV[1], ARGV[2]
local attempts, dead_max = tonumber(ARGV[6]), tonumber(ARGV[7])
local now = now_ms()

local reply = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local taken, dead_ids = {}, {}
for _, entry in ipairs(reply[2]) do
  local id, fields = entry[1], entry[2]
  local deliveries = held_deliveries(stream, group, id, consumer)
  if not fields or not deliveries then
    -- Trimmed while pending: nothing left to deliver.
    redis.call('XACK', stream, group, id)
    redis.call('HDEL', errors, group .. '|' .. id)
  elseif deliveries > attempts then
    dead_letter_message(stream, dead, errors, group, id, deliveries - 1, MESSAGE_LEASE_EXPIRED, dead_max, now)
    dead_ids[#dead_ids + 1] = id
  else
    taken[#taken + 1] = id
    taken[#taken + 1] = message_of(fields) or 'null'
    taken[#taken + 1] = deliveries
  end
end
-- Redis 7 drops entries trimmed while pending and lists them here: forget their errors.
for _, id in ipairs(reply[3] or {}) do
  redis.call('HDEL', errors, group .. '|' .. id)
end

-- Something was taken over, so some member stopped: remove members that hold nothing and
-- were silent for long (a live member removed by mistake is recreated by its next read).
if #reply[2] > 0 then
  for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
    local member = to_map(info)
    if member['name'] ~= consumer and tonumber(member['pending']) == 0 and tonumber(member['idle']) >= tonumber(ARGV[8]) then
      redis.call('XGROUP', 'DELCONSUMER', stream, group, member['name'])
    end
  end
end

return { reply[1], taken, dead_ids }
