-- finish.lua: writes the final state of tasks, each only if it is still RUNNING
-- on the attempt, entry and receipt token given (they come from a worker: the
-- token is random, so it cannot be guessed).
--
-- Built by `redis_store/scripts.rs` as: the flags line `#!lua flags=allow-oom`
-- (it runs at maxmemory too), the prelude (`local P = KEYS[1]`, `local CLUSTER
-- = true|false`), retire.lua, tally.lua, then this file.
--
-- KEYS[1] P: the prefix of the task partition's keys (`faas:` on one Redis,
--           `faas:{pN.K}:` on Redis Cluster)
-- ARGV[1] the partition's stream (P .. 'tasks')
-- ARGV[2] the consumer group (`dispatchers`)
-- ARGV[3] now (ms)
-- ARGV[4] largest result (JSON bytes) an announcement carries
--           (ANNOUNCED_RESULT_BYTES)
-- ARGV[5] retention (ms) of a task stored without its own `ttl_ms`
-- ARGV[6] the latency buckets' upper bounds (ms, space-separated:
--           LATENCY_BOUNDS_MS)
-- ARGV[7..] nonets: (task id, attempt, status COMPLETED or FAILED, result JSON,
--           failure kind ('' none), entry id ('' none), receipt token, logs (''
--           none), usage (`run_us peak_memory_bytes output_bytes log_bytes
--           executor`, or ''))
--
-- Reads: per task, P .. 'task:' .. id's status, attempts, entry, receipt,
-- tenant, ttl_ms, cancel, created_at (and function_id, when it ends FAILED).
-- Writes, per task applied: status, result, finished_at (now), usage, and
-- failure_kind and logs unless ''; flagged `cancel` (cancel.lua), it ends
-- FAILED, cancelled, result "cancelled", whatever it got to. It is retired
-- (retire.lua), its entry acknowledged (XACK only: trim.lua trims the stream),
-- its tenant's `active` counted down (if the hash names a tenant),
-- count_failure if FAILED. A task already COMPLETED or FAILED whose entry and
-- token match has its entry acknowledged, nothing else. Once per call: tally
-- `c`, `f`, and per latency bucket `l0`..`l15` the tasks that ended by running
-- (latency from created_at to now; not a cancelled one); one PUBLISH on
-- faas:done of a line per task applied, `<id> <status> @<tenant> <result
-- JSON>`, or the id alone if the result is larger than ARGV[4].
-- Returns: a list, per nonet in order, 1 if applied, else 0.

local out, ended, acks, counts, due = {}, {}, {}, {}, {}
local cap, now = tonumber(ARGV[4]), tonumber(ARGV[3])
local completed, failed, latencies = 0, 0, nil
local bounds = {}
for bound in string.gmatch(ARGV[6], '%d+') do bounds[#bounds + 1] = tonumber(bound) end
for i = 7, #ARGV, 9 do
  local tid, attempt, status, result, kind, entry, token, logs, usage =
    ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6],
    ARGV[i + 7], ARGV[i + 8]
  local key = P .. 'task:' .. tid
  local f = redis.call('HMGET', key, 'status', 'attempts', 'entry', 'receipt', 'tenant', 'ttl_ms',
    'cancel', 'created_at')
  -- The receipt comes from a worker: act only on the task's own entry and
  -- attempt token (random, so it cannot be guessed).
  local own = (f[3] or '') == entry and (f[4] or '') == token
  local applied = 0
  if not f[1] then
    applied = 0
  elseif f[1] == 'COMPLETED' or f[1] == 'FAILED' then
    if entry ~= '' and own then acks[#acks + 1] = entry end
  elseif f[1] == 'RUNNING' and tonumber(f[2]) == tonumber(attempt) and own then
    if f[7] == '1' then
      -- Cancelled while its claim landed (CANCEL_LUA): whatever it got to.
      status, result, kind = 'FAILED', '"cancelled"', 'cancelled'
    else
      -- Ended by running: its latency from submission counts.
      local latency, bucket = now - (tonumber(f[8]) or now), #bounds + 1
      for b = 1, #bounds do
        if latency <= bounds[b] then bucket = b; break end
      end
      latencies = latencies or {}
      latencies[bucket] = (latencies[bucket] or 0) + 1
    end
    if kind == '' and logs == '' then
      -- The common case, without building a table.
      redis.call('HSET', key, 'status', status, 'result', result, 'finished_at', ARGV[3], 'usage', usage)
    else
      local fields = {'status', status, 'result', result, 'finished_at', ARGV[3], 'usage', usage}
      if kind ~= '' then fields[#fields + 1] = 'failure_kind'; fields[#fields + 1] = kind end
      if logs ~= '' then fields[#fields + 1] = 'logs'; fields[#fields + 1] = logs end
      redis.call('HSET', key, unpack(fields))
    end
    -- The record's retention starts now (queued and running never expire).
    retire(key, tonumber(f[6]) or tonumber(ARGV[5]), now, due)
    -- Acknowledged only: the stream is trimmed below its oldest
    -- unacknowledged entry from time to time (TRIM_LUA), far cheaper than
    -- a delete per task.
    if entry ~= '' then acks[#acks + 1] = entry end
    -- Written once, so the announcement may carry the outcome itself.
    if #result <= cap then
      ended[#ended + 1] = tid .. ' ' .. status .. ' @' .. (f[5] or 'default') .. ' ' .. result
    else
      ended[#ended + 1] = tid
    end
    if f[5] then counts[f[5]] = (counts[f[5]] or 0) + 1 end
    if status == 'COMPLETED' then
      completed = completed + 1
    else
      failed = failed + 1
      count_failure(redis.call('HGET', key, 'function_id'))
    end
    applied = 1
  end
  out[#out + 1] = applied
end
for i = 1, #acks, 1000 do
  redis.call('XACK', ARGV[1], ARGV[2], unpack(acks, i, math.min(i + 999, #acks)))
end
for tenant, n in pairs(counts) do redis.call('HINCRBY', P .. 'tenant:' .. tenant, 'active', -n) end
schedule(due)
tally(now, 'c', completed)
tally(now, 'f', failed)
if latencies then
  for bucket, n in pairs(latencies) do tally(now, 'l' .. (bucket - 1), n) end
end
-- One announcement for the batch: a line per ended task.
if #ended > 0 then redis.call('PUBLISH', 'faas:done', table.concat(ended, '\n')) end
return out
