--[[ reap: requeue or dead-letter tasks whose lease deadline has passed, and trim
finished tasks by age.

KEYS[1] fence, KEYS[2] active (zset)
Touches (fenced): what lib/leases.lua's reaper touches (task:<id>, waiting:<priority>,
priorities, failed, dedupe:<key>, meta, stats:<hour>, wake, channels), completed, cancelled
Touches (fenced): settings (retention)
ARGV[1] most leases to reap in this call

Returns how many leases were reaped. Claims that find too little work reap too; this
script runs at every worker heartbeat, and also trims finished tasks by age: completed ones
(the hot path trims them only by count), and failed and cancelled ones (else trimmed only
when another task fails or is cancelled: an idle queue kept them past their age).
]]
--@include lib/leases.lua
--@include lib/settings.lua

local now = now_ms()
local keep = settings({ 'failedCount', 'failedMaxAgeMs', 'completedCount', 'completedMaxAgeMs' })
local reaped = reap_expired(now, tonumber(ARGV[1]), keep.failedCount, keep.failedMaxAgeMs)
trim(R.completed, keep.completedCount, keep.completedMaxAgeMs, now)
trim(R.failed, keep.failedCount, keep.failedMaxAgeMs, now)
trim(R.cancelled, keep.failedCount, keep.failedMaxAgeMs, now)
return reaped
