--[[ complete: record the results of a batch of tasks whose handlers succeeded.

KEYS[1] meta      (hash: completed counter)
KEYS[2] active    (zset)
KEYS[3] completed (list, newest first)
ARGV[1] base
ARGV[2] completed retention count (0 = delete the task at once)
ARGV[3] completed retention maxAgeMs (applied by the workers' heartbeats: reap.lua)
ARGV[4..] per task, 3 values: id, lease token, result JSON ('' = undefined)

The batch is announced on the events channel with the results when they total at most
64 KiB, so waiters need not read them back (and get them even if retention already
removed the task).

Returns one status per task: 0 OK, 1 LEASE_LOST (the token is not the current lease, or
the task is no longer active: the write changed nothing).

Why one script: the token check and the move to `completed` must be atomic, or a stale
holder could overwrite the result of the worker that holds the task now.
]]
--@include lib/common.lua
--@include lib/complete.lua

return complete_tasks(ARGV[1], now_ms(), tonumber(ARGV[2]), ARGV, 4, #ARGV)
