-- touch_keys.lua: records when API keys were last used.
--
-- Built by `redis_store/scripts.rs` as: the prelude (`local P = KEYS[1]`,
-- `local CLUSTER = true|false`), then this file.
--
-- KEYS[1] P: the prefix of the shared keys (`faas:` on one Redis, `faas:{g}:`
--           on Redis Cluster)
-- ARGV[1..] (key id, last used (ms)) pairs
--
-- Reads: whether each P .. 'apikey:' .. id exists.
-- Writes: `last_used` of each that exists (a revoked key is not brought back).
-- Returns: 1.

for i = 1, #ARGV, 2 do
  local key = P .. 'apikey:' .. ARGV[i]
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'last_used', ARGV[i + 1]) end
end
return 1
