--[[ group-configure: change one group's own limits, or pause or resume it.

KEYS[1] fence, KEYS[2] glimits (hash: "<group>|<field>", GROUP_FIELDS)
Touches (fenced): gparked, gstate, groups (a parked group rejoins the rotation), wake
ARGV[1] group
ARGV[2..] pairs: field, value ('' removes it: the queue's default, or not paused)

Returns OK. A parked group rejoins the rotation and idle workers are woken: the next claim
that visits it parks it again if it is still held (limits are checked there).

Why one script: the change and the group's return to the rotation are one step.
]]
--@include lib/events.lua
--@include lib/groups.lua

local group = ARGV[1]
for i = 2, #ARGV, 2 do
  local field = group .. '|' .. ARGV[i]
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[2], field)
  else
    redis.call('HSET', KEYS[2], field, ARGV[i + 1])
  end
end
if redis.call('ZSCORE', key(R.gparked), group) then
  unpark(group)
end
wake()
return STATUS.OK
