--[[ group-list: the groups with waiting or active tasks, largest backlog first (read-only,
for admin views).

KEYS[1] fence, KEYS[2] gstate (hash: groups with waiting tasks)
Touches (fenced): gpriorities:<group>, gwaiting:<group>:<priority>, gactive, gparked,
glimits
ARGV[1] offset, ARGV[2] limit

Returns {total, now (epoch ms, Redis clock), then 5 values per group: name, waiting, active, parked until (epoch ms,
'inf', or ''), its own limits and state as "field=value;..." ('' when none)}.

Why a script: one consistent snapshot, one round trip, whatever the number of groups (the
work grows with them: an admin read, not a hot path).
]]
--@include lib/base.lua

local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local names = {}
local seen = {}
for _, group in ipairs(redis.call('HKEYS', KEYS[2])) do
  names[#names + 1] = group
  seen[group] = true
end
local active = redis.call('HGETALL', key(R.gactive))
local running = {}
for i = 1, #active, 2 do
  running[active[i]] = tonumber(active[i + 1])
  if not seen[active[i]] then
    names[#names + 1] = active[i]
    seen[active[i]] = true
  end
end
local rows = {}
for _, group in ipairs(names) do
  local waiting = 0
  for _, level in ipairs(redis.call('ZRANGE', key(R.gpriorities, group), 0, -1)) do
    waiting = waiting + redis.call('LLEN', key(R.gwaiting, group .. ':' .. level))
  end
  rows[#rows + 1] = { group, waiting, running[group] or 0 }
end
table.sort(rows, function(a, b)
  if a[2] ~= b[2] then
    return a[2] > b[2]
  end
  return a[1] < b[1]
end)
local out = { #rows, int(now_ms()) }
local glimits = key(R.glimits)
local has_limits = redis.call('EXISTS', glimits) == 1
for i = offset + 1, math.min(offset + limit, #rows) do
  local group, waiting, run = rows[i][1], rows[i][2], rows[i][3]
  local parked = redis.call('ZSCORE', key(R.gparked), group) or ''
  local own = {}
  if has_limits then
    for _, field in pairs(GL) do
      local value = redis.call('HGET', glimits, group .. '|' .. field)
      if value then
        own[#own + 1] = field .. '=' .. value
      end
    end
    table.sort(own)
  end
  out[#out + 1] = group
  out[#out + 1] = waiting
  out[#out + 1] = run
  out[#out + 1] = parked
  out[#out + 1] = table.concat(own, ';')
end
return out
