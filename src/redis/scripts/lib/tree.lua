-- Flows (parent/child trees, chains): the hand-over from a child's final transition to its
-- parent, which lives in another slot (maybe on another shard). No script touches two slots:
-- the child's transition leaves a notice in its own slot, a step keyed by the child's id
-- applies it to the parent's slot (flow-record, idempotent) and then deletes it
-- (flow-clear); workers sweep the notices a crashed step left behind.
--@include lib/base.lua

-- Leaves the notice of a flow child (`parent`: its `parent` field, `<queue>|<id>`; nil for a
-- task outside any flow): `notices` child id → `<parent queue>|<parent id>|<version>|<code>
-- <detail>`, code a final state's letter (detail: the result JSON of a completed child, the
-- error JSON of a failed one) or 'r' (the child was retried: its parent waits for it again).
-- The version counts the child's notices (its hash's `noticeSeq`), so a parent never takes
-- an older notice after a newer one (read before it was replaced, applied late). A newer
-- notice replaces an older one not yet applied: the parent only needs the latest.
-- Returns the notice's number (nil when the task is outside any flow).
local function notify_parent(id, tkey, parent, code, detail)
  if parent then
    local version = redis.call('HINCRBY', tkey, F.noticeSeq, 1)
    redis.call('HSET', key(R.notices), id, parent .. '|' .. version .. '|' .. code .. (detail or ''))
    return version
  end
end
