-- submit.lua: stores a chunk of a submission's tasks (one Redis; on Redis
-- Cluster a partition's share, after admit.lua).
--
-- Built by `redis_store/scripts.rs` as: the prelude (`local P = KEYS[1]`,
-- `local CLUSTER = true|false`), quota.lua, tally.lua, then this file.
--
-- KEYS[1] P: the prefix of the task partition's keys (`faas:` on one Redis,
--           `faas:{pN.K}:` on Redis Cluster)
-- ARGV[1] the partition's stream (P .. 'tasks')
-- ARGV[2] the partition's list of recent task ids (P .. 'recent_tasks')
-- ARGV[3] that list's cap (RECENT_TASKS)
-- ARGV[4] the new-task channel (`tasks`)
-- ARGV[5] function id
-- ARGV[6] now (ms)
-- ARGV[7] announce: '1' publish the chunk's last task id on the channel, '0'
--           not
-- ARGV[8] tenant
-- ARGV[9] check: '1' the function exists and the tenant's quotas admit the
--           whole batch (a batch's first chunk); '0' only that the function
--           exists (its later chunks); '2' neither (Redis Cluster: admit.lua
--           checked both on the shared keys)
-- ARGV[10] tasks in the whole batch (what '1' checks the quotas for)
-- ARGV[11] default max_active_tasks
-- ARGV[12] default submit_rate
-- ARGV[13] default submit_burst
-- ARGV[14] retention (ms), kept as `ttl_ms` for whichever script ends the task
-- ARGV[15] the queue's most entries (max_queue_depth)
-- ARGV[16..] (task id, payload JSON) pairs
--
-- Reads: P .. 'function:' .. id (EXISTS, unless check is '2'); with check '1',
-- the stream's length and the tenant's hash (quota.lua).
-- Writes, per task: a stream entry (XADD: `task` id, `f` function, `p` payload,
-- `a` '0' attempts so far: what a claim needs, so claiming a new entry writes
-- the hash without reading it) and the hash P .. 'task:' .. id (function_id,
-- payload, status QUEUED, created_at, tenant, ttl_ms, entry: the hash names its
-- entry, so a cancellation can take it out of the queue). Once per call, if it
-- stored any: `active` of P .. 'tenant:' .. tenant (HINCRBY), the recent list
-- and the tenant's (ARGV[2] .. ':' .. tenant), LPUSH then LTRIM to the cap, the
-- announcement, tally `s`, and `invocations` of P .. 'function:' .. id
-- (HINCRBY; on Redis Cluster P is the partition's, so these are its counters).
-- With check '1', the tenant's token bucket (quota.lua).
-- Returns: {0, tasks stored}; or, nothing stored, a refusal of quota.lua ({1,
-- active, max}, {2, ms until the tokens are there}, {3, queue length, its
-- max}), or {4} if the function does not exist (deleted since the caller
-- looked).

if ARGV[9] ~= '2' and redis.call('EXISTS', P .. 'function:' .. ARGV[5]) == 0 then return {4} end
local tenant = ARGV[8]
local tkey = P .. 'tenant:' .. tenant
local now = tonumber(ARGV[6])
if ARGV[9] == '1' then
  local refused = admit(tkey, now, tonumber(ARGV[10]), nil, redis.call('XLEN', ARGV[1]),
    tonumber(ARGV[15]), tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]))
  if refused then return refused end
end
local ids = {}
for i = 16, #ARGV, 2 do
  local tid, payload = ARGV[i], ARGV[i + 1]
  local entry = redis.call('XADD', ARGV[1], '*', 'task', tid, 'f', ARGV[5], 'p', payload, 'a', '0')
  redis.call('HSET', P .. 'task:' .. tid, 'function_id', ARGV[5], 'payload', payload,
    'status', 'QUEUED', 'created_at', ARGV[6], 'tenant', tenant, 'ttl_ms', ARGV[14],
    'entry', entry)
  ids[#ids + 1] = tid
end
if #ids > 0 then
  redis.call('HINCRBY', tkey, 'active', #ids)
  redis.call('LPUSH', ARGV[2], unpack(ids))
  redis.call('LTRIM', ARGV[2], 0, tonumber(ARGV[3]) - 1)
  local own = ARGV[2] .. ':' .. tenant
  redis.call('LPUSH', own, unpack(ids))
  redis.call('LTRIM', own, 0, tonumber(ARGV[3]) - 1)
  if ARGV[7] == '1' then redis.call('PUBLISH', ARGV[4], ids[#ids]) end
  tally(now, 's', #ids)
  redis.call('HINCRBY', P .. 'function:' .. ARGV[5], 'invocations', #ids)
end
return {0, #ids}
