--[[ schedule-remove: delete a schedule (its runs already created stay, as tasks).

KEYS[1] fence, KEYS[2] schedules (zset: schedule id -> next slot)
Touches (fenced): schedule:<id>, sslots:<id>, srefill, meta (scheduleDue, scheduleRefill)
ARGV[1] schedule id

Returns 1 when it existed, else 0.
]]
--@include lib/schedules.lua

local id = ARGV[1]
local existed = redis.call('DEL', key(R.schedule, id))
redis.call('DEL', key(R.sslots, id))
redis.call('ZREM', KEYS[2], id)
if redis.call('SREM', key(R.srefill), id) == 1 then
  sync_schedule_refill()
end
sync_schedule_due()
return existed
