-- put_function.lua: registers a function and stores its module.
--
-- Built by `redis_store/scripts.rs` as: the prelude (`local P = KEYS[1]`,
-- `local CLUSTER = true|false`), then this file.
--
-- KEYS[1] P: the prefix of the shared keys (`faas:` on one Redis, `faas:{g}:`
--           on Redis Cluster)
-- ARGV[1] function id
-- ARGV[2] tenant
-- ARGV[3] module hash (SHA-256 hex)
-- ARGV[4] module size in bytes, what counts against the tenant's quota
-- ARGV[5] default max_module_bytes
-- ARGV[6] created_at (ms)
-- ARGV[7] name
-- ARGV[8] entry
-- ARGV[9] convention (JSON)
-- ARGV[10] the module's bytes
-- ARGV[11] the record's module_size
--
-- Reads: module_bytes and max_module_bytes of P .. 'tenant:' .. tenant; whether
-- P .. 'module:' .. hash and P .. 'module_refs:' .. hash exist.
-- Writes, unless over the quota: P .. 'module:' .. hash (SET NX) and its count
-- of functions P .. 'module_refs:' .. hash (1 if the module is new, else INCR
-- if it has a count: a module stored by an older version has none, and is never
-- deleted); the hash P .. 'function:' .. id (name, entry, convention, module,
-- module_size, created_at, tenant); the id in P .. 'functions' and P ..
-- 'functions:' .. tenant (ZADD, scored by created_at); `module_bytes` of the
-- tenant's hash (HINCRBY ARGV[4]); PUBLISH `registered <id>` on faas:control.
-- Returns: {0}, or over the tenant's module quota (nothing written) {1, used,
-- max}.

local tkey = P .. 'tenant:' .. ARGV[2]
local f = redis.call('HMGET', tkey, 'module_bytes', 'max_module_bytes')
local used = tonumber(f[1]) or 0
local max = tonumber(f[2]) or tonumber(ARGV[5])
local size = tonumber(ARGV[4])
if used + size > max then return {1, used, max} end
-- Functions with the same module share it; `faas:module_refs:{hash}` counts
-- them, so the last one deleted deletes it. A module stored by an older
-- version has no count, and is never deleted.
local refs = P .. 'module_refs:' .. ARGV[3]
if redis.call('SET', P .. 'module:' .. ARGV[3], ARGV[10], 'NX') then
  redis.call('SET', refs, 1)
elseif redis.call('EXISTS', refs) == 1 then
  redis.call('INCR', refs)
end
redis.call('HSET', P .. 'function:' .. ARGV[1], 'name', ARGV[7], 'entry', ARGV[8],
  'convention', ARGV[9], 'module', ARGV[3], 'module_size', ARGV[11], 'created_at', ARGV[6],
  'tenant', ARGV[2])
redis.call('ZADD', P .. 'functions', ARGV[6], ARGV[1])
redis.call('ZADD', P .. 'functions:' .. ARGV[2], ARGV[6], ARGV[1])
redis.call('HINCRBY', tkey, 'module_bytes', size)
redis.call('PUBLISH', 'faas:control', 'registered ' .. ARGV[1])
return {0}
