-- The complete transition as a function, shared by complete.lua and complete-claim.lua.
-- See complete.lua for the contract; `args[first..last]` holds the (id, token, result)
-- triples; `limits` the settings read (completedCount, concurrency).
--@include lib/base.lua
--@include lib/events.lua
--@include lib/finish.lua
--@include lib/flow.lua
--@include lib/groups.lua
--@include lib/tree.lua

local function complete_tasks(now, limits, args, first, last)
  local keep_count = limits.completedCount
  local out, done, results, created, freed = {}, {}, {}, {}, {}
  local results_bytes = 0
  for i = first, last, 3 do
    local id, token, result = args[i], args[i + 1], args[i + 2]
    local tkey = task_key(id)
    local v = redis.call('HMGET', tkey, F.state, F.startedAt, F.dedupeKey, F.createdAt, F.group, F.groupSlot, F.parent)
    if v[1] ~= S.active or v[2] ~= token then
      out[#out + 1] = STATUS.LEASE_LOST
    else
      release_dedupe(id, v[3])
      free_slot(tkey, v[5], v[6], freed)
      if keep_count > 0 then
        local finished = since_created(v[4], now)
        if result == '' then
          redis.call('HSET', tkey, F.state, S.completed, F.finishedAt, finished)
        else
          redis.call('HSET', tkey, F.state, S.completed, F.finishedAt, finished, F.result, result)
        end
      end
      -- A flow child: its parent records it here when in this slot, else from its notice.
      local notice
      if v[7] and not complete_in_slot(id, tkey, v[7], result) then
        notice = notify_parent(id, tkey, v[7], S.completed, result)
      end
      done[#done + 1] = id
      results[#done] = result
      created[#done] = v[4]
      results_bytes = results_bytes + #result + 1
      -- A flow child: minus its notice's number, so its worker can apply the notice without
      -- reading it back (it knows the rest: parent, result).
      out[#out + 1] = notice and -notice or STATUS.OK
    end
  end

  if #done > 0 then
    call_many('ZREM', key(R.active), done)
    count_finished(M.completed, #done, now)
    if keep_count > 0 then
      trim(R.completed, keep_count, nil, now, call_many('LPUSH', key(R.completed), done))
    else
      call_many('DEL', nil, task_keys(done))
    end
    if results_bytes <= 65536 then
      publish('completed', done, results, created)
    else
      publish('completed', done, nil, created)
    end
    slot_freed(limits)
    group_slots_freed(freed)
  end
  return out
end
