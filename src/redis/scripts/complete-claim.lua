--[[ complete-claim: complete and claim in one call, the worker's hot path.

KEYS[1] fence, KEYS[2] meta
Touches (fenced): what complete.lua and claim.lua touch
ARGV[1] completed retention count
ARGV[2] most tasks to claim, ARGV[3] leaseMs
ARGV[4] failed retention count, ARGV[5] failed retention maxAgeMs (for reaped tasks)
ARGV[6..] per finished task, 3 values: id, lease token, result JSON ('' = undefined)

Returns { complete's statuses, claim's reply } (see complete.lua and claim.lua).

Why one script: a worker that finishes tasks usually wants more. Two transitions in one
call halve the script calls (and their fixed cost) per task; each keeps its own atomicity
and code (lib/complete.lua, lib/claim.lua).
]]
--@include lib/complete.lua
--@include lib/claim.lua

local now = now_ms()
local codes = complete_tasks(now, tonumber(ARGV[1]), ARGV, 6, #ARGV)
local claimed = claim_tasks(now, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
return { codes, claimed }
