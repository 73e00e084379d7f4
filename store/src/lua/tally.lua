-- tally.lua: the functions `tally` and `count_failure`, the counts for `GET
-- /stats` (see throughput.rs), shared by the scripts that submit or end tasks
-- (submit, claim, finish, release, cancel). It reads no KEYS or ARGV itself.
--
-- Writes: tally(now, field, n) adds n to `field` of the hash P .. 'stats:' ..
-- <the second holding now (ms)> (`s` submitted, `c` completed, `f` failed,
-- `l0`..`l15` ended by running, by latency bucket), and sets the hash's expiry
-- when a field is new. The capitalised name after EXPIRE below is a
-- placeholder: `tally_lua()` in scripts.rs replaces it with the stats retention
-- in seconds (faas_contract) before the scripts are made. count_failure(fid)
-- adds 1 to `failures` of P .. 'function:' .. fid (one Redis: only if that hash
-- exists; Redis Cluster: the partition's counters of the function).
-- Returns: nothing.
--
-- Adds `n` to `field` of the counts of the second holding `now` (ms).
local function tally(now, field, n)
  if n <= 0 then return end
  local key = P .. 'stats:' .. math.floor(now / 1000)
  if redis.call('HINCRBY', key, field, n) == n then redis.call('EXPIRE', key, STATS_RETENTION) end
end
-- Counts a task of function `fid` that ended FAILED, if the function is
-- still there (on Redis Cluster, in the partition's counters of the
-- function, which its deletion deletes).
local function count_failure(fid)
  if not fid or fid == '' then return end
  local fkey = P .. 'function:' .. fid
  if CLUSTER or redis.call('EXISTS', fkey) == 1 then redis.call('HINCRBY', fkey, 'failures', 1) end
end
