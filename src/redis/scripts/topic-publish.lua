--[[ topic-publish: append messages to a topic's stream and apply its retention.

KEYS[1] fence, KEYS[2] stream
Touches (fenced): stats:<hour>
ARGV[1] maxLength: entries kept (exactly; the oldest go first)
ARGV[2] maxAgeMs: entries older than this go, '' for no age limit
ARGV[3] the publisher's trace context (W3C traceparent), '' for none: stored with each
        entry (field TOPIC_TRACE_FIELD) for the subscribers' spans
ARGV[4..] the messages, JSON text each

Returns the new entries' ids, in order.

Why one script: appending and trimming by length and by age (MAXLEN and MINID cannot
share one XADD) happen as one step, by the Redis server's clock. The messages are also
counted per minute (`stats:<hour>`, field `<epoch minute>`, expiring a day after its hour)
for rate charts: two calls per batch, none per message.
]]
--@include lib/base.lua

local stream = KEYS[2]
local traceparent = ARGV[3]
local ids = {}
for i = 4, #ARGV do
  if traceparent == '' then
    ids[#ids + 1] = redis.call('XADD', stream, '*', TOPIC_MESSAGE_FIELD, ARGV[i])
  else
    ids[#ids + 1] = redis.call('XADD', stream, '*', TOPIC_MESSAGE_FIELD, ARGV[i], TOPIC_TRACE_FIELD, traceparent)
  end
end
local now = now_ms()
redis.call('XTRIM', stream, 'MAXLEN', '=', ARGV[1])
if ARGV[2] ~= '' then
  redis.call('XTRIM', stream, 'MINID', '=', int(now - tonumber(ARGV[2])))
end
local minute = math.floor(now / 60000)
local stats = key(R.stats, int(math.floor(minute / 60)))
redis.call('HINCRBY', stats, int(minute), #ids)
redis.call('PEXPIRE', stats, 25 * 3600000)
return ids
