-- unread.lua: counts a stream's entries after an id, without sending them.
--
-- Built by `redis_store/scripts.rs` as: the prelude (`local P = KEYS[1]`,
-- `local CLUSTER = true|false`), then this file.
--
-- KEYS[1] P: the prefix of the task partition's keys (`faas:` on one Redis,
--           `faas:{pN.K}:` on Redis Cluster)
-- ARGV[1] the partition's stream (P .. 'tasks')
-- ARGV[2] an entry id (the group's last delivered one)
-- ARGV[3] most
--
-- Reads: the stream's entries after ARGV[2] (XRANGE, at most `most`).
-- Writes: nothing.
-- Returns: how many entries follow it, at most `most`.

return #redis.call('XRANGE', ARGV[1], '(' .. ARGV[2], '+', 'COUNT', tonumber(ARGV[3]))
