-- cancel.lua: cancels tasks (see `Store::cancel_many` and CANCEL_LUA in
-- scripts.rs for why a task being claimed is flagged, not ended).
--
-- Built by `redis_store/scripts.rs` as: the flags line `#!lua flags=allow-oom`
-- (it runs at maxmemory too), the prelude (`local P = KEYS[1]`, `local CLUSTER
-- = true|false`), retire.lua, tally.lua, then this file.
--
-- KEYS[1] P: the prefix of the task partition's keys (`faas:` on one Redis,
--           `faas:{pN.K}:` on Redis Cluster)
-- ARGV[1] the partition's stream (P .. 'tasks')
-- ARGV[2] the consumer group (`dispatchers`)
-- ARGV[3] now (ms)
-- ARGV[4] tenant whose tasks they must be ('' for any)
-- ARGV[5] retention (ms) of a task stored without its own `ttl_ms`
-- ARGV[6..] task ids
--
-- Reads: per task, P .. 'task:' .. id's status, tenant, entry, ttl_ms,
-- function_id; for a QUEUED one, whether its entry is pending in the group
-- (XPENDING: a dispatcher read it).
-- Writes, per task QUEUED or RUNNING:
-- - QUEUED and its entry read by a dispatcher (or not named: an older
--   version's): `cancel` '1' (flagged; whichever of finish, claim, release ends
--   it next ends it as cancelled), and told to stop.
-- - otherwise: status FAILED, failure_kind cancelled, result "cancelled",
--   finished_at; a RUNNING task's entry acknowledged (XACK) and it told to
--   stop, a QUEUED one's entry deleted (XDEL) so it is never delivered; retired
--   (retire.lua); count_failure.
-- Once per call, for the tasks ended: their tenants' `active` counted down (P
-- .. 'tenant:' .. tenant), tally `f`, one PUBLISH on faas:done of a line per
-- task, `<id> FAILED @<tenant> "cancelled"`; for those to stop, one PUBLISH
-- `stop <id> <id>...` on faas:control.
-- Returns: a code per task id, in order: 0 unknown (or another tenant's), 1
-- cancelled, 2 flagged (being claimed), 3 already COMPLETED, 4 already FAILED.

local stream, group, now, scope = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local out, ended, stop, counts, due = {}, {}, {}, {}, {}
for i = 6, #ARGV do
  local tid = ARGV[i]
  local key = P .. 'task:' .. tid
  local f = redis.call('HMGET', key, 'status', 'tenant', 'entry', 'ttl_ms', 'function_id')
  local tenant = f[2] or 'default'
  if (not f[1]) or (scope ~= '' and tenant ~= scope) then
    out[#out + 1] = 0
  elseif f[1] == 'COMPLETED' then
    out[#out + 1] = 3
  elseif f[1] == 'FAILED' then
    out[#out + 1] = 4
  else
    local entry, read = f[3], true
    if f[1] == 'RUNNING' then
      read = false
    elseif entry then
      read = #redis.call('XPENDING', stream, group, entry, entry, 1) > 0
    end
    if read then
      -- Being claimed (or queued by an older version, whose hash does not
      -- name its entry): flagged; told to stop in case it starts.
      redis.call('HSET', key, 'cancel', '1')
      stop[#stop + 1] = tid
      out[#out + 1] = 2
    else
      redis.call('HSET', key, 'status', 'FAILED', 'failure_kind', 'cancelled',
        'result', '"cancelled"', 'finished_at', ARGV[3])
      if f[1] == 'RUNNING' then
        if entry then redis.call('XACK', stream, group, entry) end
        stop[#stop + 1] = tid
      else
        redis.call('XDEL', stream, entry)
      end
      retire(key, tonumber(f[4]) or tonumber(ARGV[5]), now, due)
      ended[#ended + 1] = tid .. ' FAILED @' .. tenant .. ' "cancelled"'
      counts[tenant] = (counts[tenant] or 0) + 1
      count_failure(f[5])
      out[#out + 1] = 1
    end
  end
end
for tenant, n in pairs(counts) do redis.call('HINCRBY', P .. 'tenant:' .. tenant, 'active', -n) end
schedule(due)
tally(now, 'f', #ended)
if #ended > 0 then redis.call('PUBLISH', 'faas:done', table.concat(ended, '\n')) end
if #stop > 0 then redis.call('PUBLISH', 'faas:control', 'stop ' .. table.concat(stop, ' ')) end
return out
