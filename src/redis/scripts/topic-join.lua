--[[ topic-join: create a subscriber group, or move an existing one (replay), so that it
reads from a chosen point of the topic.

KEYS[1] fence, KEYS[2] stream (created empty if missing)
ARGV[1] group
ARGV[2] where to start: '$' (messages published from now on), '0' (every retained
        message), or '<ms>-<seq>', the id of the last message to skip
ARGV[3] '1' to move an existing group there; '0' to leave an existing group as it is

Returns 1 when the group was created or moved, 0 when it existed and was left alone.

Why one script: how many messages the group counts as read (ENTRIESREAD, on which the lag
shown to admins depends) is computed from the stream's state at the moment of the change.
Messages trimmed before the group's start count as read: the group never wanted them.
]]
--@include lib/topic.lua

local stream, group, start, move = KEYS[2], ARGV[1], ARGV[2], ARGV[3] == '1'

local exists = false
if redis.call('EXISTS', stream) == 1 then
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    if to_map(info)['name'] == group then
      exists = true
    end
  end
end
if exists and not move then
  return 0
end

local id, entries_read = start, nil
if redis.call('EXISTS', stream) == 0 then
  if start == '$' then
    id = '0'
  end
  entries_read = 0
else
  local info = to_map(redis.call('XINFO', 'STREAM', stream))
  local added, length = tonumber(info['entries-added']), tonumber(info['length'])
  local first = info['first-entry']
  if start == '$' then
    id, entries_read = info['last-generated-id'], added
  elseif start == '0' or not first or id_less(start, first[1]) then
    entries_read = added - length
  elseif not id_less(start, info['last-generated-id']) then
    entries_read = added
  end
  -- Otherwise the start is inside the stream: Redis estimates the count itself.
end

local args = { 'XGROUP', exists and 'SETID' or 'CREATE', stream, group, id }
if not exists then
  args[#args + 1] = 'MKSTREAM'
end
if entries_read then
  args[#args + 1] = 'ENTRIESREAD'
  args[#args + 1] = int(entries_read)
end
redis.call(unpack(args))
return 1
