--[[ adopt-list: move items from a plain Redis list (filled by LPUSH producers) into a
queue as tasks, atomically.

KEYS[1] fence, KEYS[2] meta (hash: seq counter for generated ids, enqueued counter)
KEYS[3] the legacy list (any key the caller names; see "Why" for Redis Cluster)
Touches (fenced): task:<id>, waiting:<priority>, priorities, delayed (read for
maxWaiting), settings (maxWaiting), wake
ARGV[1] most items to move in this call
ARGV[2] priority, ARGV[3] maxAttempts, ARGV[4] backoff JSON (''), ARGV[5] timeoutMs ('')

Items are taken from the right end: with LPUSH producers that is the oldest first. Each
becomes a waiting task whose payload is the item as a JSON string.

Returns {OK, id1, id2, ...} (fewer ids than asked: the list is empty now), or
{QUEUE_FULL} when the queue holds maxWaiting tasks already; then nothing moved.

Why one script: the pop and the task creation are one step, so at every moment an item is
either still in the list or already a task, whoever dies when. That needs the list and the
queue on one Redis node: in Redis Cluster the list key must carry the queue's hash tag.
]]
--@include lib/events.lua
--@include lib/waiting.lua
--@include lib/create.lua
--@include lib/settings.lua

local wanted = tonumber(ARGV[1])
local priority, max_attempts, backoff, timeout_ms = ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local capacity = settings({ 'maxWaiting' }).maxWaiting
if capacity then
  local room = capacity - waiting_count()
  if room <= 0 then
    return { STATUS.QUEUE_FULL }
  end
  wanted = math.min(wanted, room)
end

local items = redis.call('RPOP', KEYS[3], wanted)
if not items then
  return { STATUS.OK }
end

local now = now_ms()
local out = { STATUS.OK }
local first = next_ids(#items, now)
for i, item in ipairs(items) do
  local id = int(first + i - 1)
  create_task(id, cjson.encode(item), priority, 0, now, max_attempts, backoff, timeout_ms, '', '')
  out[#out + 1] = id
end
redis.call('HINCRBY', KEYS[2], M.enqueued, #items)
wake()
return out
