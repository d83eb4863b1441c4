--[[ flow-ids: reserve generated ids for the nodes of a flow on this queue.

KEYS[1] fence, KEYS[2] meta (hash: seq counter for generated ids)
ARGV[1] how many ids

Returns the first of ARGV[1] consecutive ids (as a string).

Why: a flow's nodes name each other (a child its parent, a parent its children) across
queues, so their ids are known before any of them is written (flow-create).
]]
--@include lib/create.lua

return int(next_ids(tonumber(ARGV[1]), now_ms()))
