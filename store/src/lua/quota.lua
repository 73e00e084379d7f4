-- quota.lua: the function `admit`, a tenant's quotas, shared by submit.lua (one
-- Redis) and admit.lua (Redis Cluster), which are built with this file before
-- theirs. It reads no KEYS or ARGV itself.
--
-- admit(tkey, now, asked, active, depth, most, max_default, rate_default,
-- burst_default) checks `asked` more tasks of the tenant whose hash is `tkey`
-- (P .. 'tenant:' .. tenant) at `now` (ms), with `active` of its tasks active
-- (nil: the hash's `active` field), `depth` entries queued and the queue's most
-- entries `most` (StoreConfig::max_queue_depth); `max_default`, `rate_default`
-- (tasks per second) and `burst_default` stand for the tenant's
-- max_active_tasks, submit_rate and submit_burst where its hash sets none.
--
-- Reads: tkey's fields active, max_active_tasks, submit_rate, submit_burst,
-- tokens, refilled_at.
-- Writes: only if every check passes and the rate is above 0, tkey's `tokens`
-- (those left after taking `asked`, refilled at the rate since `refilled_at`,
-- capped at the burst; 3 decimals) and `refilled_at` (now).
-- Returns: nil if admitted; else the first refusal, checked in this order: {3,
-- depth, most} the queue is full, {1, active, max} too many active tasks, {2,
-- ms until the tokens are there}.

local function admit(tkey, now, asked, active, depth, most, max_default, rate_default,
    burst_default)
  if depth + asked > most then return {3, depth, most} end
  local f = redis.call('HMGET', tkey, 'active', 'max_active_tasks', 'submit_rate',
    'submit_burst', 'tokens', 'refilled_at')
  active = active or tonumber(f[1]) or 0
  local max = tonumber(f[2]) or max_default
  if active + asked > max then return {1, active, max} end
  local rate = tonumber(f[3]) or rate_default
  local burst = tonumber(f[4]) or burst_default
  if rate > 0 then
    local tokens = tonumber(f[5]) or burst
    local last = tonumber(f[6]) or now
    if now > last then tokens = tokens + (now - last) * rate / 1000 end
    if tokens > burst then tokens = burst end
    if asked > tokens then return {2, math.ceil((asked - tokens) * 1000 / rate)} end
    redis.call('HSET', tkey, 'tokens', string.format('%.3f', tokens - asked), 'refilled_at', now)
  end
  return nil
end
