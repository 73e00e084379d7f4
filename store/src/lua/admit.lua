-- admit.lua: Redis Cluster: a submission's checks on the shared keys, before
-- submit.lua writes its tasks to their partitions.
--
-- Built by `redis_store/scripts.rs` as: the prelude (`local P = KEYS[1]`,
-- `local CLUSTER = true|false`), quota.lua, then this file.
--
-- KEYS[1] P: the prefix of the shared keys (`faas:` on one Redis, `faas:{g}:`
--           on Redis Cluster)
-- ARGV[1] function id
-- ARGV[2] tenant
-- ARGV[3] now (ms)
-- ARGV[4] tasks asked for
-- ARGV[5] the tenant's active tasks, summed over the partitions by the caller
-- ARGV[6] the queue's length, summed likewise
-- ARGV[7] the queue's most entries (max_queue_depth)
-- ARGV[8] default max_active_tasks
-- ARGV[9] default submit_rate
-- ARGV[10] default submit_burst
--
-- Reads: P .. 'function:' .. id (EXISTS), the tenant's hash (quota.lua).
-- Writes: only the tenant's token bucket, if admitted (quota.lua).
-- Returns: {0} admitted, {4} if the function does not exist, or a refusal of
-- quota.lua.

if redis.call('EXISTS', P .. 'function:' .. ARGV[1]) == 0 then return {4} end
local refused = admit(P .. 'tenant:' .. ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]),
  tonumber(ARGV[9]), tonumber(ARGV[10]))
return refused or {0}
