-- The queue's settings (src/queue/settings.ts), read by the scripts that enforce them, at
-- every call: a change takes effect at the next one, on every worker.
--@include lib/base.lua

-- The settings named (SET's names: 'completedCount', 'rateMax', ...), read with one HMGET:
-- a table name -> number; a setting that is unset is nil (no limit), or its default.
local function settings(names)
  local fields = {}
  for i, name in ipairs(names) do
    fields[i] = SET[name]
  end
  local values = redis.call('HMGET', key(R.settings), unpack(fields))
  local out = {}
  for i, name in ipairs(names) do
    local value = values[i]
    if value and value ~= '' then
      out[name] = tonumber(value)
    else
      out[name] = SETTING_DEFAULTS[name]
    end
  end
  return out
end
