--[[ reap: requeue or dead-letter tasks whose lease deadline has passed, and trim
completed tasks by age.

KEYS[1] fence, KEYS[2] active (zset)
Touches (fenced): what lib/leases.lua's reaper touches (task:<id>, waiting:<priority>,
priorities, failed, dedupe:<key>, meta, stats:<hour>, wake, channels), completed
ARGV[1] most leases to reap in this call
ARGV[2] failed retention count, ARGV[3] failed retention maxAgeMs
ARGV[4] completed retention count, ARGV[5] completed retention maxAgeMs

Returns how many leases were reaped. Claims that find too little work reap too; this
script runs at every worker heartbeat, and also trims completed tasks by age (the hot path
trims them only by count).
]]
--@include lib/leases.lua

local now = now_ms()
local reaped = reap_expired(now, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
trim(R.completed, tonumber(ARGV[4]), tonumber(ARGV[5]), now)
return reaped
