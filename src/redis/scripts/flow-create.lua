--[[ flow-create: write the nodes of a flow that live on this queue, none of them claimable.

KEYS[1] fence, KEYS[2] meta (hash: enqueued counter)
Touches (fenced): task:<id>, dependencies, held (the leaves, and every node below the
root), deps:<id>
ARGV per node: id (reserved by flow-ids), payload JSON, priority, maxAttempts, backoff
     JSON (''), timeoutMs (''), parent (`<queue>|<id>`, '' for the root), root (`<queue>|<id>`,
     '' for the root itself), child policy ('' for a leaf; 'fail', 'ignore' or 'continue'),
     chained ('1': a chain step, whose payload becomes its child's result; else ''), the
     number of children k, then k child refs `<queue>|<id>`

Returns {OK}, or {INVALID_STATE, id} having written nothing when an id is taken.

Every node starts in the `dependencies` state with `pending` = its number of children: a
parent waits for them; a leaf (0 pending) waits for its flow to be committed (flow-release,
called once the root exists). So a flow whose creation stopped half-way has nothing
claimable. Every node but the root is in `held` too until flow-release takes it out (once the
root exists): one still there long after has no root, and the sweep removes it. Children get their `deps:<id>` entry '' (pending).
]]
--@include lib/base.lua

local nodes = {}
local i = 1
while i <= #ARGV do
  local k = tonumber(ARGV[i + 10])
  nodes[#nodes + 1] = { at = i, children = k }
  if redis.call('EXISTS', task_key(ARGV[i])) == 1 then
    return { STATUS.INVALID_STATE, ARGV[i] }
  end
  i = i + 11 + k
end

local now = now_ms()
local created_at = int(now)
local listed, leaves = {}, {} -- leaves: what goes to `held`
for _, node in ipairs(nodes) do
  local a = node.at
  local id = ARGV[a]
  local fields = { F.payload, ARGV[a + 1], F.createdAt, created_at, F.state, S.dependencies, F.pending, node.children }
  local function optional(field, value, default)
    if value ~= default then
      fields[#fields + 1] = field
      fields[#fields + 1] = value
    end
  end
  optional(F.priority, ARGV[a + 2], '0')
  optional(F.maxAttempts, tonumber(ARGV[a + 3]) ~= DEFAULT_ATTEMPTS and ARGV[a + 3] or '', '')
  optional(F.backoff, ARGV[a + 4], '')
  optional(F.timeoutMs, ARGV[a + 5], '')
  optional(F.parent, ARGV[a + 6], '')
  optional(F.root, ARGV[a + 7], '')
  optional(F.childPolicy, ARGV[a + 8], '')
  optional(F.chained, ARGV[a + 9], '')
  redis.call('HSET', task_key(id), unpack(fields))
  listed[#listed + 1] = now
  listed[#listed + 1] = id
  if node.children == 0 or ARGV[a + 7] ~= '' then
    leaves[#leaves + 1] = now
    leaves[#leaves + 1] = id
  end
  if node.children > 0 then
    local entries = {}
    for c = a + 11, a + 10 + node.children do
      entries[#entries + 1] = ARGV[c]
      entries[#entries + 1] = ''
    end
    call_many('HSET', key(R.deps, id), entries, 2)
  end
end
call_many('ZADD', key(R.dependencies), listed, 2)
if #leaves > 0 then
  call_many('ZADD', key(R.held), leaves, 2)
end
redis.call('HINCRBY', key(R.meta), M.enqueued, #nodes)
return { STATUS.OK }
