-- release.lua: gives a claimed task back: queues it again, unless it was
-- cancelled while its claim landed (flagged `cancel`); then it ends, as
-- cancelled.
--
-- Built by `redis_store/scripts.rs` as: the flags line `#!lua flags=allow-oom`
-- (it runs at maxmemory too), the prelude (`local P = KEYS[1]`, `local CLUSTER
-- = true|false`), retire.lua, tally.lua, then this file.
--
-- KEYS[1] P: the prefix of the task partition's keys (`faas:` on one Redis,
--           `faas:{pN.K}:` on Redis Cluster)
-- ARGV[1] task id
-- ARGV[2] attempt
-- ARGV[3] the partition's stream (P .. 'tasks')
-- ARGV[4] the consumer group (`dispatchers`)
-- ARGV[5] entry id ('' none)
-- ARGV[6] uncount: '1' the attempt never started, so it does not count; '0' it
--           counts
-- ARGV[7] receipt token
-- ARGV[8] now (ms)
-- ARGV[9] retention (ms) of a task stored without its own `ttl_ms`
--
-- Reads: P .. 'task:' .. id's status, attempts, entry, receipt, cancel, tenant,
-- ttl_ms, and function_id and payload.
-- Writes nothing unless the task is RUNNING on that attempt, entry and token.
-- Then the entry is acknowledged and deleted (XACK, XDEL; if not ''), and
-- attempts is the hash's less one if uncount. Flagged `cancel`: status FAILED,
-- failure_kind cancelled, result "cancelled", finished_at, attempts; retired
-- (retire.lua); the tenant's `active` counted down (P .. 'tenant:' .. tenant,
-- `default` if the hash names none); tally `f`; count_failure; PUBLISH `<id>
-- FAILED @<tenant> "cancelled"` on faas:done. Otherwise: a new stream entry
-- (XADD: `task`, `f` function, `p` payload, `a` attempts), and status QUEUED,
-- attempts, entry (the new one).
-- Returns: 1 if released (or ended), 0 if not.

local key = P .. 'task:' .. ARGV[1]
local f = redis.call('HMGET', key, 'status', 'attempts', 'entry', 'receipt', 'cancel', 'tenant',
  'ttl_ms')
if f[1] ~= 'RUNNING' or tonumber(f[2]) ~= tonumber(ARGV[2]) or (f[3] or '') ~= ARGV[5]
  or (f[4] or '') ~= ARGV[7] then return 0 end
local attempts = tonumber(f[2])
if ARGV[6] == '1' then attempts = attempts - 1 end
if ARGV[5] ~= '' then
  redis.call('XACK', ARGV[3], ARGV[4], ARGV[5])
  redis.call('XDEL', ARGV[3], ARGV[5])
end
if f[5] == '1' then
  local due = {}
  redis.call('HSET', key, 'status', 'FAILED', 'failure_kind', 'cancelled', 'result', '"cancelled"',
    'finished_at', ARGV[8], 'attempts', attempts)
  retire(key, tonumber(f[7]) or tonumber(ARGV[9]), tonumber(ARGV[8]), due)
  schedule(due)
  redis.call('HINCRBY', P .. 'tenant:' .. (f[6] or 'default'), 'active', -1)
  tally(tonumber(ARGV[8]), 'f', 1)
  count_failure(redis.call('HGET', key, 'function_id'))
  redis.call('PUBLISH', 'faas:done', ARGV[1] .. ' FAILED @' .. (f[6] or 'default') .. ' "cancelled"')
  return 1
end
local g = redis.call('HMGET', key, 'function_id', 'payload')
local fresh = redis.call('XADD', ARGV[3], '*', 'task', ARGV[1], 'f', g[1] or '', 'p', g[2] or 'null', 'a', attempts)
redis.call('HSET', key, 'status', 'QUEUED', 'attempts', attempts, 'entry', fresh)
return 1
