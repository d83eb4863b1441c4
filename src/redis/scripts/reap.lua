--[[ reap: requeue or dead-letter tasks whose lease deadline has passed.

KEYS[1] active (zset)
ARGV[1] base
ARGV[2] most leases to reap in this call
ARGV[3] failed retention count, ARGV[4] failed retention maxAgeMs

Returns how many leases were reaped. Claims reap too; this script serves workers whose
slots are all busy (from their heartbeat) and admin tools.
]]
--@include lib/common.lua

return reap_expired(ARGV[1], now_ms(), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
