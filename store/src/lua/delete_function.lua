-- delete_function.lua: deletes a function (see `Store::delete_function`; on
-- Redis Cluster the caller then deletes the partitions' counters of it).
--
-- Built by `redis_store/scripts.rs` as: the flags line `#!lua flags=allow-oom`
-- (it runs at maxmemory too), the prelude (`local P = KEYS[1]`, `local CLUSTER
-- = true|false`), then this file.
--
-- KEYS[1] P: the prefix of the shared keys (`faas:` on one Redis, `faas:{g}:`
--           on Redis Cluster)
-- ARGV[1] function id
-- ARGV[2] tenant whose function it must be ('' for any)
--
-- Reads: tenant, module and module_size of P .. 'function:' .. id; module_bytes
-- of the owner's hash P .. 'tenant:' .. tenant; whether P .. 'module_refs:' ..
-- module exists.
-- Writes, if deleted: DEL the function's hash; ZREM its id from P ..
-- 'functions' and P .. 'functions:' .. tenant; the owner's `module_bytes`, less
-- module_size (not below 0); DECR the module's count, and at 0 DEL the count
-- and P .. 'module:' .. module; PUBLISH `forget <id>` on faas:control.
-- Returns: 1 if deleted, 0 if there is no such function (or it is another
-- tenant's).

local key = P .. 'function:' .. ARGV[1]
local f = redis.call('HMGET', key, 'tenant', 'module', 'module_size')
if not f[2] then return 0 end
local tenant = f[1] or 'default'
if ARGV[2] ~= '' and ARGV[2] ~= tenant then return 0 end
redis.call('DEL', key)
redis.call('ZREM', P .. 'functions', ARGV[1])
redis.call('ZREM', P .. 'functions:' .. tenant, ARGV[1])
local tkey = P .. 'tenant:' .. tenant
local used = (tonumber(redis.call('HGET', tkey, 'module_bytes')) or 0) - (tonumber(f[3]) or 0)
redis.call('HSET', tkey, 'module_bytes', math.max(used, 0))
local refs = P .. 'module_refs:' .. f[2]
if redis.call('EXISTS', refs) == 1 and redis.call('DECR', refs) <= 0 then
  redis.call('DEL', refs, P .. 'module:' .. f[2])
end
redis.call('PUBLISH', 'faas:control', 'forget ' .. ARGV[1])
return 1
