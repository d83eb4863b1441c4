--[[ topic-publish: append messages to a topic's stream and apply its retention.

KEYS[1] stream
ARGV[1] maxLength: entries kept (exactly; the oldest go first)
ARGV[2] maxAgeMs: entries older than this go, '' for no age limit
ARGV[3..] the messages, JSON text each

Returns the new entries' ids, in order.

Why one script: appending and trimming by length and by age (MAXLEN and MINID cannot
share one XADD) happen as one step, by the Redis server's clock.
]]
--@include lib/common.lua

local stream = KEYS[1]
local ids = {}
for i = 3, #ARGV do
  ids[#ids + 1] = redis.call('XADD', stream, '*', TOPIC_MESSAGE_FIELD, ARGV[i])
end
redis.call('XTRIM', stream, 'MAXLEN', '=', ARGV[1])
if ARGV[2] ~= '' then
  redis.call('XTRIM', stream, 'MINID', '=', int(now_ms() - tonumber(ARGV[2])))
end
return ids
