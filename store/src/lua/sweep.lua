-- sweep.lua: deletes the records whose retention has ended (see retire.lua), a
-- bounded number per call.
--
-- Built by `redis_store/scripts.rs` as: the flags line `#!lua flags=allow-oom`
-- (it runs at maxmemory too), the prelude (`local P = KEYS[1]`, `local CLUSTER
-- = true|false`), then this file.
--
-- KEYS[1] P: the prefix of the task partition's keys (`faas:` on one Redis,
--           `faas:{pN.K}:` on Redis Cluster)
-- ARGV[1] now (ms)
-- ARGV[2] most records to delete (the call stops after the LPOP that reaches
--           it, so it may delete up to 999 more)
--
-- Reads: the seconds up to now in P .. 'expiring' (ZRANGEBYSCORE, 64 at most),
-- and their lists P .. 'expiring:' .. second (LPOP, 1,000 at a time).
-- Writes: UNLINK the keys popped; ZREM each second whose list is now empty from
-- P .. 'expiring'.
-- Returns: the number of keys popped and unlinked.

local now, budget = math.floor(tonumber(ARGV[1]) / 1000), tonumber(ARGV[2])
local removed = 0
for _, second in ipairs(redis.call('ZRANGEBYSCORE', P .. 'expiring', '-inf', now, 'LIMIT', 0, 64)) do
  local list = P .. 'expiring:' .. second
  repeat
    local keys = redis.call('LPOP', list, 1000)
    if keys then
      redis.call('UNLINK', unpack(keys))
      removed = removed + #keys
    end
  until (not keys) or removed >= budget
  if redis.call('EXISTS', list) == 0 then redis.call('ZREM', P .. 'expiring', second) end
  if removed >= budget then break end
end
return removed
