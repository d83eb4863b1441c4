--[[ complete-claim: complete and claim in one call, the worker's hot path.

KEYS[1] meta, KEYS[2] priorities, KEYS[3] delayed, KEYS[4] active, KEYS[5] completed,
KEYS[6] wake
ARGV[1] base
ARGV[2] completed retention count, ARGV[3] completed retention maxAgeMs (unused here:
        the heartbeat's reap.lua trims by age)
ARGV[4] max tasks to claim, ARGV[5] leaseMs, ARGV[6] worker id
ARGV[7] failed retention count, ARGV[8] failed retention maxAgeMs (for reaped tasks)
ARGV[9..] per finished task, 3 values: id, lease token, result JSON ('' = undefined)

Returns { complete's statuses, claim's reply } (see complete.lua and claim.lua).

Why one script: a worker that finishes tasks usually wants more. Two transitions in one
call halve the script calls (and their fixed cost) per task; each keeps its own atomicity
and code (lib/complete.lua, lib/claim.lua).
]]
--@include lib/common.lua
--@include lib/complete.lua
--@include lib/claim.lua

local base = ARGV[1]
local now = now_ms()
local codes = complete_tasks(base, now, tonumber(ARGV[2]), ARGV, 9, #ARGV)
local claimed = claim_tasks(base, now, tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7]), tonumber(ARGV[8]))
return { codes, claimed }
