-- Pool counters, kept by every script as it changes a pod, so pool status
-- reads O(pools) keys instead of visiting every pod.
--
-- A pod that belongs to a pool adds its share to the pool's counters hash
-- {p}:pool:<name>:counts:
--   ready     1 when Ready
--   draining  1 when draining
--   calls     the calls it holds
--   busy      1 when it holds at least one call
--   draining_calls  the calls it holds when draining: what its drain waits for
--   free      slots it can still take: capacity - calls when Ready, not
--             draining and below capacity, else 0
-- Pod counts need no counter: SCARD of the members set is exact.
--
-- An exact recount (recount-pool-2.lua) runs in bounded batches while calls
-- come and go. While it runs, the pool's config hash carries 'recounting',
-- and a change to a pod the recount has already counted also goes into the
-- recount's partial sums, so they stay exact to the end.
local COUNT_FIELDS = { 'ready', 'draining', 'calls', 'busy', 'free', 'draining_calls' }

local function shareOf(pool, ready, draining, calls, capacity, recounting)
  local s = { pool = pool, ready = 0, draining = 0, calls = calls, busy = 0, free = 0, draining_calls = 0, capacity = capacity, recounting = recounting }
  if ready then s.ready = 1 end
  if draining then
    s.draining = 1
    s.draining_calls = calls
  elseif ready and calls < capacity then
    s.free = capacity - calls
  end
  if calls > 0 then s.busy = 1 end
  return s
end

-- The pod's share of its pool's counters as Redis holds it now; nil when the
-- pod serves in no pool.
local function podShare(base, pod)
  local f = redis.call('HMGET', podKey(base, pod), 'pool', 'ready', 'draining')
  if not f[1] or f[1] == '' then return nil end
  local cfg = redis.call('HMGET', poolConfigKey(base, f[1]), 'capacity', 'recounting')
  return shareOf(f[1], f[2] == '1', f[3] == '1', redis.call('SCARD', podCallsKey(base, pod)), tonumber(cfg[1]) or 1, cfg[2] == '1')
end

-- The same share with another number of calls.
local function shareWithCalls(s, calls)
  return shareOf(s.pool, s.ready == 1, s.draining == 1, calls, s.capacity, s.recounting)
end

local function addToPoolCounts(base, pool, pod, delta, recounting)
  local key = poolCountsKey(base, pool)
  local changed = false
  for _, field in ipairs(COUNT_FIELDS) do
    local n = delta[field]
    if n and n ~= 0 then
      redis.call('HINCRBY', key, field, n)
      changed = true
    end
  end
  if changed and recounting and redis.call('SISMEMBER', poolRecountedKey(base, pool), pod) == 1 then
    local partial = poolRecountKey(base, pool)
    for _, field in ipairs(COUNT_FIELDS) do
      local n = delta[field]
      if n and n ~= 0 then redis.call('HINCRBY', partial, field, n) end
    end
  end
end

local function negated(s)
  local d = {}
  for _, field in ipairs(COUNT_FIELDS) do d[field] = -s[field] end
  return d
end

-- Moves the pool counters from the pod's share `before` to its share `after`
-- (either may be nil: the pod joined or left every pool).
local function recordShareChange(base, pod, before, after)
  if before and after and before.pool == after.pool then
    local d = {}
    for _, field in ipairs(COUNT_FIELDS) do d[field] = after[field] - before[field] end
    addToPoolCounts(base, after.pool, pod, d, after.recounting)
    return
  end
  if before then
    addToPoolCounts(base, before.pool, pod, negated(before), before.recounting)
    -- A recount must count every member it ends with: a pod that left is no longer one.
    if before.recounting then redis.call('SREM', poolRecountedKey(base, before.pool), pod) end
  end
  if after then addToPoolCounts(base, after.pool, pod, after, after.recounting) end
end

-- Free slots of a pool computed exactly from its allocatable pods (the avail
-- sorted set, scored by calls): sum over k < capacity of the pods holding at
-- most k calls. O(min(capacity, most calls on a pod) x log N): for a
-- capacity change, which changes every pod's free share at once.
local function freeSlotsFromAvail(base, pool, capacity)
  local availKey = poolAvailKey(base, pool)
  local total = redis.call('ZCARD', availKey)
  local free = 0
  for k = 0, capacity - 1 do
    local n = redis.call('ZCOUNT', availKey, '-inf', k)
    if n == total then return free + total * (capacity - k) end
    free = free + n
  end
  return free
end
