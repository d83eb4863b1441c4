--[[ claim: lease up to N ready tasks to one worker.

KEYS[1] fence, KEYS[2] meta (hash: paused flag)
Touches (fenced): priorities, waiting:<priority>, delayed, active, task:<id>, wake,
failed, stats:<hour>, dedupe:<key> (reaping), progress and events channels
Touches (fenced), for flow control: settings (concurrency, rate limit, failed retention),
rate (the log of starts)
ARGV[1] most tasks to claim
ARGV[2] leaseMs

Returns {dueInMs, paused, refill, scheduleDueInMs, then 12 values per claimed task: id, lease token,
attempt, maxAttempts, payload, backoff, timeoutMs, createdAt, group ('' for none),
traceparent (the producer's trace context, '' for none), parent (a flow child's parent,
`<queue>|<id>`, '' for none), flow flags ('c': a chain step, whose payload is the previous
step's result; 'p': a flow parent, whose handler may read its children)}. dueInMs is how many ms from now
the next delayed task, schedule slot or lease deadline falls due (-1 if none; 0 if more is
due than one call handles): an idle worker blocks on the wake marker that long at most.
Relative, so the worker's own clock does not matter. refill: how many cron schedules wait
for their slots to be computed (the worker computes them). scheduleDueInMs: ms until the
next schedule slot (-1: none; 0: one is due: the worker calls schedule-fire, which creates
the runs, then claims them).

Flow control: at most the queue's `concurrency` leases at once and `rateLimit.max` starts
in any window of `rateLimit.perMs`, across all workers; a claim that is limited takes what
may start, wakes no one, and tells its worker (dueInMs) when room opens.

Why one script: reaping, promoting due delayed tasks and leasing must be atomic so no
task is handed out twice, and doing them here keeps every idle worker's wait event-driven.
]]
--@include lib/settings.lua
--@include lib/claim.lua

return claim_tasks(now_ms(), tonumber(ARGV[1]), tonumber(ARGV[2]), settings(CLAIM_SETTINGS))
