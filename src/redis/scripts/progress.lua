--[[ progress: record the progress handlers reported, and announce it to task watchers.

KEYS[1] fence, KEYS[2] the first task's hash
Touches (fenced): task:<id>, progress channel
ARGV[1..] per task, 3 values: id, lease token, progress JSON

Returns a status per task: OK, or LEASE_LOST (the task is no longer leased with that
token: its progress changes nothing).

The value is stored as `<token>|<json>`: the token is the attempt's start, so a reader
shows the value only while it belongs to the task's latest attempt (a new attempt starts
with none) without the claim having to clear it.

Why one script: the lease check and the write are one step, so a handler whose lease was
lost cannot overwrite its successor's progress; a batch is one call for every task of a
worker that reported since its last flush.
]]
--@include lib/base.lua
--@include lib/events.lua

local out, ids = {}, {}
for i = 1, #ARGV, 3 do
  local id, token = ARGV[i], ARGV[i + 1]
  local tkey = task_key(id)
  local v = redis.call('HMGET', tkey, F.state, F.startedAt)
  if v[1] == S.active and v[2] == token then
    redis.call('HSET', tkey, F.progress, token .. '|' .. ARGV[i + 2])
    ids[#ids + 1] = id
    out[#out + 1] = STATUS.OK
  else
    out[#out + 1] = STATUS.LEASE_LOST
  end
end
publish('progress', ids)
return out
