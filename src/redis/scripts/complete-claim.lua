--[[ complete-claim: complete and claim in one call, the worker's hot path.

KEYS[1] fence, KEYS[2] meta
Touches (fenced): what complete.lua and claim.lua touch (their settings read once)
ARGV[1] most tasks to claim, ARGV[2] leaseMs
ARGV[3..] per finished task, 3 values: id, lease token, result JSON ('' = undefined)

Returns { complete's statuses, claim's reply } (see complete.lua and claim.lua).

Why one script: a worker that finishes tasks usually wants more. Two transitions in one
call halve the script calls (and their fixed cost) per task; each keeps its own atomicity
and code (lib/complete.lua, lib/claim.lua).
]]
--@include lib/settings.lua
--@include lib/complete.lua
--@include lib/claim.lua

local now = now_ms()
-- Every setting the claim reads (CLAIM_SETTINGS: the groups' default limits too, or a busy
-- worker's claims would pass them), and the complete's retention.
local names = { 'completedCount' }
for _, name in ipairs(CLAIM_SETTINGS) do
  names[#names + 1] = name
end
local limits = settings(names)
local codes = complete_tasks(now, limits, ARGV, 3, #ARGV)
local claimed = claim_tasks(now, tonumber(ARGV[1]), tonumber(ARGV[2]), limits)
return { codes, claimed }
