--[[ reap: requeue or dead-letter tasks whose lease deadline has passed.

KEYS[1] active (zset)
ARGV[1] base
ARGV[2] most leases to reap in this call
ARGV[3] failed retention count, ARGV[4] failed retention maxAgeMs
ARGV[5] completed retention count, ARGV[6] completed retention maxAgeMs

Returns how many leases were reaped. Claims that find too little work reap too; this
script runs at every worker heartbeat, and also trims completed tasks by age (the hot path
trims them only by count).
]]
--@include lib/common.lua

local base, now = ARGV[1], now_ms()
local reaped = reap_expired(base, now, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
if ARGV[5] then
  trim(base, 'completed', tonumber(ARGV[5]), tonumber(ARGV[6]), now)
end
return reaped
