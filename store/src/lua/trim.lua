-- trim.lua: deletes the stream entries every group is done with: those before
-- each group's oldest unacknowledged entry and its last delivered one (finished
-- tasks are only acknowledged).
--
-- Built by `redis_store/scripts.rs` as: the flags line `#!lua flags=allow-oom`
-- (it runs at maxmemory too), the prelude (`local P = KEYS[1]`, `local CLUSTER
-- = true|false`), then this file.
--
-- KEYS[1] P: the prefix of the task partition's keys (`faas:` on one Redis,
--           `faas:{pN.K}:` on Redis Cluster)
-- ARGV[1] the partition's stream (P .. 'tasks')
--
-- Reads: the stream's groups (XINFO GROUPS: their names and last delivered ids;
-- an error, such as no stream, counts as none), and each group's oldest pending
-- entry (XPENDING).
-- Writes: XTRIM MINID ~ of the stream, below the oldest of those ids (LIMIT 0:
-- no cap on the entries one call deletes).
-- Returns: the number of entries deleted (0 if there is no group).

local function older(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', ARGV[1])
if not ok or #groups == 0 then return 0 end
local keep
for _, g in ipairs(groups) do
  local info = {}
  for k = 1, #g, 2 do info[g[k]] = g[k + 1] end
  local candidates = {info['last-delivered-id']}
  local pending = redis.call('XPENDING', ARGV[1], info['name'])
  if pending[1] > 0 then table.insert(candidates, pending[2]) end
  for _, id in ipairs(candidates) do
    if not keep or older(id, keep) then keep = id end
  end
end
-- LIMIT 0: no cap on the entries one call deletes (`~` caps it at 10,000).
return redis.call('XTRIM', ARGV[1], 'MINID', '~', keep, 'LIMIT', 0)
