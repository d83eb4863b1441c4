--[[ claim: lease up to N ready tasks to one worker.

KEYS[1] meta       (hash: paused flag)
KEYS[2] priorities (zset of non-empty waiting levels)
KEYS[3] delayed    (zset)
KEYS[4] active     (zset: id -> lease deadline)
KEYS[5] wake       (zset marker)
ARGV[1] base
ARGV[2] max tasks to claim
ARGV[3] leaseMs
ARGV[4] worker id (unused by the script; its heartbeat names the tasks it holds)
ARGV[5] failed retention count, ARGV[6] failed retention maxAgeMs (for reaped tasks)

Returns {dueIn, paused, then 8 values per claimed task: id, lease token, attempt,
maxAttempts, payload, backoff, timeoutMs, createdAt}. dueIn is how many ms from now the
next delayed task or lease deadline falls due (-1 if none; 0 if more is due than one call
handles): an idle worker blocks on the wake marker that long at most. Relative, so the
worker's own clock does not matter.

Why one script: reaping, promoting due delayed tasks and leasing must be atomic so no
task is handed out twice, and doing them here keeps every idle worker's wait event-driven.
]]
--@include lib/common.lua
--@include lib/claim.lua

return claim_tasks(ARGV[1], now_ms(), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[6]))
