--[[ adopt-list: move items from a plain Redis list (filled by LPUSH producers) into a
queue as tasks, atomically.

KEYS[1] the legacy list (any key the caller names; see "Why" for Redis Cluster)
KEYS[2] meta       (hash: seq counter for generated ids)
KEYS[3] delayed    (zset; read for maxWaiting)
KEYS[4] priorities (zset)
KEYS[5] wake       (zset marker)
ARGV[1] base "<prefix>:{<queue>}:"
ARGV[2] most items to move in this call
ARGV[3] maxWaiting, '' for no limit
ARGV[4] priority, ARGV[5] maxAttempts, ARGV[6] backoff JSON (''), ARGV[7] timeoutMs ('')

Items are taken from the right end: with LPUSH producers that is the oldest first. Each
becomes a waiting task whose payload is the item as a JSON string.

Returns {0, id1, id2, ...} (fewer ids than asked: the list is empty now), or {4}
(QUEUE_FULL) when the queue holds maxWaiting tasks already; then nothing moved.

Why one script: the pop and the task creation are one step, so at every moment an item is
either still in the list or already a task, whoever dies when. That needs the list and the
queue on one Redis node: in Redis Cluster the list key must carry the queue's hash tag.
]]
--@include lib/common.lua

local base = ARGV[1]
local wanted = tonumber(ARGV[2])
local priority, max_attempts, backoff, timeout_ms = ARGV[4], ARGV[5], ARGV[6], ARGV[7]

if ARGV[3] ~= '' then
  local room = tonumber(ARGV[3]) - waiting_count(base)
  if room <= 0 then
    return { 4 }
  end
  wanted = math.min(wanted, room)
end

local items = redis.call('RPOP', KEYS[1], wanted)
if not items then
  return { 0 }
end

local now = now_ms()
local out = { 0 }
for _, item in ipairs(items) do
  local id = int(redis.call('HINCRBY', KEYS[2], 'seq', 1))
  create_task(base, id, cjson.encode(item), priority, 0, now, max_attempts, backoff, timeout_ms, '')
  out[#out + 1] = id
end
redis.call('HINCRBY', KEYS[2], 'enqueued', #items)
wake(base)
return out
