-- put_key.lua: stores an API key (its hash only).
--
-- Built by `redis_store/scripts.rs` as: the prelude (`local P = KEYS[1]`,
-- `local CLUSTER = true|false`), then this file.
--
-- KEYS[1] P: the prefix of the shared keys (`faas:` on one Redis, `faas:{g}:`
--           on Redis Cluster)
-- ARGV[1] key id
-- ARGV[2] only first: '1' store it only if no key is stored at all, '0' always
-- ARGV[3] hash of the key's secret
-- ARGV[4] tenant
-- ARGV[5] admin ('1' or '0')
-- ARGV[6] created_at (ms)
--
-- Reads: with only first, the size of the set P .. 'apikeys'.
-- Writes: the hash P .. 'apikey:' .. id (hash, tenant, admin, created_at), and
-- the id in P .. 'apikeys' (SADD).
-- Returns: 1 if stored, 0 if not (only first, and a key exists).

if ARGV[2] == '1' and redis.call('SCARD', P .. 'apikeys') > 0 then return 0 end
redis.call('HSET', P .. 'apikey:' .. ARGV[1], 'hash', ARGV[3], 'tenant', ARGV[4],
  'admin', ARGV[5], 'created_at', ARGV[6])
redis.call('SADD', P .. 'apikeys', ARGV[1])
return 1
