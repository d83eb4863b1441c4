--[[ configure: change a queue's settings, atomically.

KEYS[1] fence, KEYS[2] settings (hash: SETTINGS_FIELDS)
Touches (fenced): wake, configuring; when the group limits change, gparked, gstate, groups,
glimits (parked groups rejoin the rotation)
ARGV[1] the condition: '' none; 'u' the queue is not partitioned (no `partitions.lanes`);
else the version the change was computed from. ARGV[2] the token of the change's hold on
`configuring`, released when the change is written ('': none); ARGV[3..] pairs: settings
field, value ('' removes the field: the default, or no limit). No pairs: only the release.

Returns the new version (it goes up by one with every change), or -1 when the condition
fails (nothing written, the hold kept: the caller reads the settings again). Idle workers
are woken: a raised limit may let them claim now.

Why one script: a change is applied whole, and its version counted with it (and its
condition checked: a partitioned queue's change is computed from the settings read before,
see queue-lanes.ts; an unpartitioned queue's is written as given, unless it was partitioned
meanwhile).
]]
--@include lib/events.lua
--@include lib/groups.lua

if ARGV[1] == 'u' then
  if (redis.call('HGET', KEYS[2], SET.partitionLanes) or '') ~= '' then
    return -1
  end
elseif ARGV[1] ~= '' and (tonumber(redis.call('HGET', KEYS[2], SET.version)) or 0) ~= tonumber(ARGV[1]) then
  return -1
end
if ARGV[2] ~= '' and redis.call('GET', key(R.configuring)) == ARGV[2] then
  redis.call('DEL', key(R.configuring))
end
if #ARGV == 2 then
  return tonumber(redis.call('HGET', KEYS[2], SET.version)) or 0
end
local group_limits_changed = false
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[2], ARGV[i])
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
  if ARGV[i] == SET.groupConcurrency or ARGV[i] == SET.groupRateMax or ARGV[i] == SET.groupRatePerMs then
    group_limits_changed = true
  end
end
-- Groups parked under the old group limits rejoin the rotation (the next claim parks them
-- again if the new limits hold them): a raised limit applies at once, not when the old
-- window ends. Paused groups stay parked. An admin action: it reads every parked group.
if group_limits_changed then
  local glimits = key(R.glimits)
  for _, group in ipairs(redis.call('ZRANGE', key(R.gparked), 0, -1)) do
    if not redis.call('HGET', glimits, group .. '|' .. GL.paused) then
      unpark(group)
    end
  end
end
local version = redis.call('HINCRBY', KEYS[2], SET.version, 1)
wake()
return version
