-- claim.lua: claims queue entries already delivered whose task's hash must be
-- checked first: entries taken over after a lease lapsed, from an older version
-- without the task's fields, or out of attempts (new entries are claimed by a
-- plain HSET, see `claim_fresh`). A task whose function was deleted ends here,
-- FAILED (missing_function); on Redis Cluster the function is on another shard,
-- so the script takes it as existing (CLUSTER) and the caller checks it after.
--
-- Built by `redis_store/scripts.rs` as: the flags line `#!lua flags=allow-oom`
-- (it runs at maxmemory too), the prelude (`local P = KEYS[1]`, `local CLUSTER
-- = true|false`), retire.lua, tally.lua, then this file.
--
-- KEYS[1] P: the prefix of the task partition's keys (`faas:` on one Redis,
--           `faas:{pN.K}:` on Redis Cluster)
-- ARGV[1] max attempts
-- ARGV[2] now (ms)
-- ARGV[3] the partition's stream (P .. 'tasks')
-- ARGV[4] the consumer group (`dispatchers`)
-- ARGV[5] retention (ms) of a task stored without its own `ttl_ms`
-- ARGV[6..] (entry id, task id, receipt token) triples; each token new and
--           random
--
-- Reads: per task, P .. 'task:' .. id's status, function_id, payload, entry,
-- attempts, tenant, ttl_ms, cancel; on one Redis, whether P .. 'function:' ..
-- function_id exists (once per function).
-- Writes, per entry, by the task's hash:
-- - gone, COMPLETED or FAILED, or RUNNING on another entry (a stale duplicate):
--   none; the entry is acknowledged and deleted.
-- - its function deleted: status FAILED, failure_kind missing_function, result
--   (JSON message), finished_at.
-- - flagged `cancel` (cancel.lua): status FAILED, failure_kind cancelled,
--   result "cancelled", finished_at; count_failure.
-- - attempts + 1 above max attempts: attempts (unchanged), status FAILED,
--   failure_kind lost, result "worker lost N times", finished_at;
--   count_failure.
-- - otherwise, claimed: status RUNNING, started_at, entry, attempts + 1,
--   receipt (the token).
-- A task ended here is retired (retire.lua), its entry acknowledged and deleted
-- (XACK, XDEL), its tenant's `active` counted down (P .. 'tenant:' .. tenant,
-- if the hash names a tenant), tally `f`, and announced: one PUBLISH on
-- faas:done of a line per task, `<id> FAILED @<tenant> <result JSON>`.
-- Returns: {{task id, entry id, attempt, function id, payload JSON ('null' if
-- none), token}, ...}, one per task claimed, in ARGV's order.

local max, now, stream, group = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local out, acks, lost, ended, due, exists = {}, {}, {}, {}, {}, {}
for i = 6, #ARGV, 3 do
  local entry, tid, token = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = P .. 'task:' .. tid
  local f = redis.call('HMGET', key, 'status', 'function_id', 'payload', 'entry', 'attempts',
    'tenant', 'ttl_ms', 'cancel')
  -- An entry that is not the task's current one (the task was queued again
  -- meanwhile) is a stale duplicate: drop it.
  local stale = f[1] == 'RUNNING' and f[4] and f[4] ~= entry
  local n = (tonumber(f[5]) or 0) + 1
  local fid = f[2] or ''
  if exists[fid] == nil then
    exists[fid] = CLUSTER or redis.call('EXISTS', P .. 'function:' .. fid) == 1
  end
  if (not f[1]) or f[1] == 'COMPLETED' or f[1] == 'FAILED' or stale then
    acks[#acks + 1] = entry
  elseif not exists[fid] then
    -- Its function was deleted while it waited: it can never run.
    local message = cjson.encode('function ' .. fid .. ' was deleted before this task started')
    redis.call('HSET', key, 'status', 'FAILED', 'failure_kind', 'missing_function',
      'result', message, 'finished_at', now)
    retire(key, tonumber(f[7]) or tonumber(ARGV[5]), tonumber(now), due)
    acks[#acks + 1] = entry
    lost[#lost + 1] = tid .. ' FAILED @' .. (f[6] or 'default') .. ' ' .. message
    if f[6] then ended[f[6]] = (ended[f[6]] or 0) + 1 end
  elseif f[8] == '1' then
    -- Cancelled while a claim was landing (CANCEL_LUA): it ends here.
    redis.call('HSET', key, 'status', 'FAILED', 'failure_kind', 'cancelled',
      'result', '"cancelled"', 'finished_at', now)
    retire(key, tonumber(f[7]) or tonumber(ARGV[5]), tonumber(now), due)
    acks[#acks + 1] = entry
    lost[#lost + 1] = tid .. ' FAILED @' .. (f[6] or 'default') .. ' "cancelled"'
    count_failure(fid)
    if f[6] then ended[f[6]] = (ended[f[6]] or 0) + 1 end
  elseif n > max then
    local message = cjson.encode('worker lost ' .. (n - 1) .. ' times')
    redis.call('HSET', key, 'attempts', n - 1, 'status', 'FAILED', 'failure_kind', 'lost',
      'result', message, 'finished_at', now)
    retire(key, tonumber(f[7]) or tonumber(ARGV[5]), tonumber(now), due)
    acks[#acks + 1] = entry
    lost[#lost + 1] = tid .. ' FAILED @' .. (f[6] or 'default') .. ' ' .. message
    if f[6] then ended[f[6]] = (ended[f[6]] or 0) + 1 end
    count_failure(fid)
  else
    redis.call('HSET', key, 'status', 'RUNNING', 'started_at', now, 'entry', entry,
      'attempts', n, 'receipt', token)
    out[#out + 1] = {tid, entry, n, f[2] or '', f[3] or 'null', token}
  end
end
for tenant, n in pairs(ended) do redis.call('HINCRBY', P .. 'tenant:' .. tenant, 'active', -n) end
schedule(due)
for i = 1, #acks, 1000 do
  redis.call('XACK', stream, group, unpack(acks, i, math.min(i + 999, #acks)))
  redis.call('XDEL', stream, unpack(acks, i, math.min(i + 999, #acks)))
end
tally(tonumber(now), 'f', #lost)
if #lost > 0 then redis.call('PUBLISH', 'faas:done', table.concat(lost, '\n')) end
return out
