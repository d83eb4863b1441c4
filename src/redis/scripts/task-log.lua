--[[ task-log: append handlers' log lines to their tasks' logs, within the logs' bounds.

KEYS[1] fence, KEYS[2] the first task's hash
Touches (fenced): task:<id> (logBytes, logsDropped), logs:<id>, progress channel
ARGV[1] most lines a task's log keeps
ARGV[2] most bytes a task's log keeps (its entries' lengths added up)
ARGV[3..] per task: id, lease token, n (lines sent), dropped (lines the worker dropped
          before sending: more than a log keeps, logged between two flushes), then n
          pairs: ageMs (how long before this call the line was logged, by the worker's
          clock), text

Returns a status per task: OK, or LEASE_LOST (its lines are not written).

Each entry is `<epoch ms>|<attempt>|<text>`: the time on the Redis clock (now - ageMs),
and the attempt's number across manual retries, as in the task's history. When a log
goes past a bound, its oldest entries go, and the task's logsDropped counts them, so a
reader can say how many came before.

Why one script: the lease check, the append, the trimming and the counters are one step;
one call per flush for every task of a worker.
]]
--@include lib/base.lua
--@include lib/events.lua

local max_lines, max_bytes = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_ms()
local out, ids = {}, {}
local i = 3
while i <= #ARGV do
  local id, token, n, dropped = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local first = i + 4
  i = first + 2 * n
  local tkey = task_key(id)
  local v = redis.call('HMGET', tkey, F.state, F.startedAt, F.attempt, F.priorAttempts, F.logBytes, F.logsDropped)
  if v[1] == S.active and v[2] == token then
    local attempt = int((tonumber(v[3]) or 0) + (tonumber(v[4]) or 0))
    local bytes = tonumber(v[5]) or 0
    dropped = dropped + (tonumber(v[6]) or 0)
    local entries = {}
    for j = first, i - 1, 2 do
      local entry = int(now - tonumber(ARGV[j])) .. '|' .. attempt .. '|' .. ARGV[j + 1]
      entries[#entries + 1] = entry
      bytes = bytes + #entry
    end
    local logs = key(R.logs, id)
    local length = call_many('RPUSH', logs, entries)
    -- The oldest go first: past the line bound all at once, then one by one past the bytes.
    local excess = length - max_lines
    if excess > 0 then
      for _, entry in ipairs(redis.call('LPOP', logs, excess)) do
        bytes = bytes - #entry
      end
      dropped = dropped + excess
      length = max_lines
    end
    while bytes > max_bytes and length > 0 do
      bytes = bytes - #redis.call('LPOP', logs)
      dropped = dropped + 1
      length = length - 1
    end
    redis.call('HSET', tkey, F.logBytes, int(bytes), F.logsDropped, int(dropped))
    ids[#ids + 1] = id
    out[#out + 1] = STATUS.OK
  else
    out[#out + 1] = STATUS.LEASE_LOST
  end
end
publish('log', ids)
return out
