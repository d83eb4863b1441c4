--[[ flow-clear: delete flow children's notices once their parents have recorded them.

KEYS[1] fence, KEYS[2] notices (hash)
ARGV per notice 2 values: child id, the notice as it was applied

Returns how many were deleted. A notice that changed since (a newer one replaced it: the
child was retried and finished again meanwhile) is left, to be applied in its turn.
]]
--@include lib/base.lua

local deleted = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[2], ARGV[i])
    deleted = deleted + 1
  end
end
return deleted
