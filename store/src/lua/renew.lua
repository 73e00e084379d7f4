-- renew.lua: renews the leases of running tasks.
--
-- Built by `redis_store/scripts.rs` as: the flags line `#!lua flags=allow-oom`
-- (it runs at maxmemory too), the prelude (`local P = KEYS[1]`, `local CLUSTER
-- = true|false`), then this file.
--
-- KEYS[1] P: the prefix of the task partition's keys (`faas:` on one Redis,
--           `faas:{pN.K}:` on Redis Cluster)
-- ARGV[1] the partition's stream (P .. 'tasks')
-- ARGV[2] the consumer group (`dispatchers`)
-- ARGV[3] the consumer (the dispatcher holding the tasks)
-- ARGV[4..] (entry id, task id, attempt) triples
--
-- Reads: per task, P .. 'task:' .. id's status, attempts, entry, cancel,
-- failure_kind.
-- Writes: only for an entry whose task is still RUNNING on that attempt and
-- entry: XCLAIM of it to the consumer (JUSTID, min idle 0), which restarts its
-- idle time. It never takes back an entry another consumer has reclaimed.
-- Returns: the ids of the tasks to stop: renewed but flagged `cancel`, RUNNING
-- on another attempt or entry (taken over after the lease lapsed), or ended as
-- cancelled (failure_kind cancelled).

local stop = {}
for i = 4, #ARGV, 3 do
  local f = redis.call('HMGET', P .. 'task:' .. ARGV[i + 1], 'status', 'attempts', 'entry', 'cancel',
    'failure_kind')
  if f[1] == 'RUNNING' and tonumber(f[2]) == tonumber(ARGV[i + 2]) and f[3] == ARGV[i] then
    redis.call('XCLAIM', ARGV[1], ARGV[2], ARGV[3], 0, ARGV[i], 'JUSTID')
    if f[4] == '1' then stop[#stop + 1] = ARGV[i + 1] end
  elseif f[1] == 'RUNNING' or f[5] == 'cancelled' then
    stop[#stop + 1] = ARGV[i + 1]
  end
end
return stop
