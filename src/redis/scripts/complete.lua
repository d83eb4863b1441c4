--[[ complete: record the results of a batch of tasks whose handlers succeeded.

KEYS[1] fence, KEYS[2] meta (hash: completed counter)
Touches (fenced): task:<id>, active, completed, dedupe:<key>, stats:<hour>, settings
(completed retention count: 0 deletes the task at once; its age limit is applied by the
workers' heartbeats, reap.lua; concurrency), wake (a slot of a concurrency-limited queue
freed), events channel; for a flow child, notices, or (its parent on this queue, waiting
for it) the parent's task:<id> and deps:<id>, and on its release dependencies,
waiting:<priority>, priorities, wake and the progress channel (lib/tree.lua)
ARGV[1..] per task, 3 values: id, lease token, result JSON ('' = undefined)

The batch is announced on the events channel with the results when they total at most
64 KiB, so waiters need not read them back (and get them even if retention already
removed the task).

Returns one status per task: OK, or LEASE_LOST (the token is not the current lease, or
the task is no longer active: the write changed nothing); for a flow child that completed,
minus the number of the notice it left for its parent (lib/tree.lua: the notice is
`<its parent field>|<number>|c<result>`, so its worker applies it without reading it).

Why one script: the token check and the move to `completed` must be atomic, or a stale
holder could overwrite the result of the worker that holds the task now.
]]
--@include lib/settings.lua
--@include lib/complete.lua

return complete_tasks(now_ms(), settings({ 'completedCount', 'concurrency' }), ARGV, 1, #ARGV)
