-- retire.lua: the functions `retire` and `schedule`, ending a task's record,
-- shared by the scripts that write a final state (claim, finish, release,
-- cancel). It reads no KEYS or ARGV itself. A record is listed under the second
-- its retention ends, and sweep.lua deletes it then.
--
-- Writes: retire UNLINKs a key whose ttl is 0 or less at once; schedule(due)
-- RPUSHes each second's keys onto the list P .. 'expiring:' .. second (1,000 a
-- call) and adds the second to the sorted set P .. 'expiring' (ZADD NX, scored
-- by itself).
-- Returns: nothing.
--
-- Schedules `key` for deletion `ttl` ms after `now` (ms); 0: at once.
-- `due` gathers the keys by second, for `schedule` to list in one RPUSH
-- each (a redis.call per task costs more than the push itself).
local function retire(key, ttl, now, due)
  if ttl <= 0 then
    redis.call('UNLINK', key)
    return
  end
  local second = math.ceil((now + ttl) / 1000)
  local keys = due[second]
  if not keys then
    keys = {}
    due[second] = keys
  end
  keys[#keys + 1] = key
end
local function schedule(due)
  for second, keys in pairs(due) do
    for i = 1, #keys, 1000 do
      redis.call('RPUSH', P .. 'expiring:' .. second, unpack(keys, i, math.min(i + 999, #keys)))
    end
    redis.call('ZADD', P .. 'expiring', 'NX', second, second)
  end
end
