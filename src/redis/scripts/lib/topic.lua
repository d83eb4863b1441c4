-- Shared fragments of the topic scripts.
--@include lib/base.lua
--
-- A topic is one stream; each subscriber group is a consumer group, each member of it a
-- consumer. A message a member holds is in the group's pending list under that member's
-- name; its delivery count is its attempt number. `errors` (a hash) keeps the last error of
-- a message that failed and waits for another attempt, under "<group>|<id>".

local MESSAGE_LEASE_EXPIRED = '{"name":"LeaseExpiredError","message":"the lease expired before the handler ' ..
  'finished: the member crashed, stalled or lost its connection"}'

-- The delivery count of message `id` if `consumer` holds it now, else nil.
local function held_deliveries(stream, group, id, consumer)
  local entry = redis.call('XPENDING', stream, group, id, id, 1, consumer)[1]
  if entry then
    return tonumber(entry[4])
  end
  return nil
end

-- The message text of a stream entry's field list, or nil.
local function message_of(fields)
  for i = 1, #fields, 2 do
    if fields[i] == TOPIC_MESSAGE_FIELD then
      return fields[i + 1]
    end
  end
  return nil
end

-- A reply of alternating names and values (XINFO) as a table.
local function to_map(flat)
  local map = {}
  for i = 1, #flat, 2 do
    map[flat[i]] = flat[i + 1]
  end
  return map
end

-- Stream ids "<ms>-<seq>" compared numerically; true when a < b.
local function id_less(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-?(%d*)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-?(%d*)$')
  a_ms, b_ms = tonumber(a_ms), tonumber(b_ms)
  if a_ms ~= b_ms then
    return a_ms < b_ms
  end
  return (tonumber(a_seq) or 0) < (tonumber(b_seq) or 0)
end

-- Ends a message's life in its group: acknowledged (never delivered to the group again)
-- and recorded in the topic's dead letters, newest first, with its error. The message
-- itself travels as a JSON string (it may not be valid JSON if someone else wrote it).
local function dead_letter_message(stream, dead, errors, group, id, attempts, error_json, dead_max, now)
  local entry = redis.call('XRANGE', stream, id, id)[1]
  local message = entry and message_of(entry[2])
  redis.call('XACK', stream, group, id)
  redis.call('HDEL', errors, group .. '|' .. id)
  local record = '{"id":"' .. id .. '","group":"' .. group .. '","attempts":' .. attempts ..
    ',"failedAt":' .. int(now) .. ',"error":' .. error_json ..
    ',"message":' .. (message and cjson.encode(message) or 'null') .. '}'
  redis.call('LPUSH', dead, record)
  redis.call('LTRIM', dead, 0, dead_max - 1)
end
