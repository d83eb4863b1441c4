--[[ defer: handlers hit an upstream limit (RateLimitedError): their tasks go back in line
without using an attempt, and the queue claims nothing until the delay is over.

KEYS[1] fence, KEYS[2] meta (hash: limitedUntil, epoch ms)
Touches (fenced): task:<id>, active, waiting:<priority>, priorities, progress channel
ARGV[1] delay ms: the queue claims nothing for this long
ARGV[2..] per task, 2 values: id, lease token

Returns one status per task: OK (back in line, first) or LEASE_LOST (nothing changed). The
hold only grows: a shorter delay than one in force changes nothing.

Why one script: the token check, the return to the line and the hold are one step, so no
worker claims the task (or any other) before the hold is in place.
]]
--@include lib/events.lua
--@include lib/waiting.lua

local now = now_ms()
local until_ms = now + tonumber(ARGV[1])
local held = tonumber(redis.call('HGET', KEYS[2], M.limitedUntil))
if not held or held < until_ms then
  redis.call('HSET', KEYS[2], M.limitedUntil, int(until_ms))
end
local active = key(R.active)
local out, back = {}, {}
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local tkey = task_key(id)
  local v = redis.call('HMGET', tkey, F.state, F.startedAt, F.priority)
  if v[1] ~= S.active or v[2] ~= token then
    out[#out + 1] = STATUS.LEASE_LOST
  else
    redis.call('ZREM', active, id)
    redis.call('HINCRBY', tkey, F.attempt, -1)
    redis.call('HSET', tkey, F.state, S.waiting)
    push_waiting(id, v[3] or '0', true)
    back[#back + 1] = id
    out[#out + 1] = STATUS.OK
  end
end
publish('waiting', back)
return out
