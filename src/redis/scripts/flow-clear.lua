--[[ flow-clear: delete a flow child's notice once its parent has recorded it.

KEYS[1] fence, KEYS[2] notices (hash)
ARGV[1] child id, ARGV[2] the notice as it was applied

Returns 1 deleted, 0 left (a newer notice replaced it: the child was retried and finished
again meanwhile, and that one is still to apply).
]]
--@include lib/base.lua

if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
return 0
