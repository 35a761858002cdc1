--@include "includes/pool-counts.lua"

-- A pod is allocatable when it belongs to a pool, is Ready and is not
-- draining. Allocatable pods sit in their pool's sorted set, scored by how
-- many calls they hold; the call set is the only count, so it cannot drift.
local function refreshPodAvailability(base, pod)
  local f = redis.call('HMGET', podKey(base, pod), 'pool', 'ready', 'draining')
  local pool, ready, draining = f[1], f[2], f[3]
  if not pool or pool == '' then return end
  if ready == '1' and draining ~= '1' then
    redis.call('ZADD', poolAvailKey(base, pool), redis.call('SCARD', podCallsKey(base, pod)), pod)
  else
    redis.call('ZREM', poolAvailKey(base, pool), pod)
  end
end

-- After a change to a pod's hash: re-places it in its pool's sorted set and
-- moves the pool counters from its share `before` the change to its share now.
local function settlePod(base, pod, before)
  refreshPodAvailability(base, pod)
  recordShareChange(base, pod, before, podShare(base, pod))
end

-- Takes a pod out of its pool: no longer a member, no longer allocatable.
-- Its hash stays while it still holds calls, so their release can find it,
-- and says draining like every other drained pod: it takes no new call and
-- keeps the ones it has, whatever made it leave (pool deleted or shrunk).
local function detachPodFromPool(base, pod)
  local pk = podKey(base, pod)
  local before = podShare(base, pod)
  local pool = redis.call('HGET', pk, 'pool')
  if pool and pool ~= '' then
    redis.call('ZREM', poolAvailKey(base, pool), pod)
    redis.call('SREM', poolMembersKey(base, pool), pod)
  end
  if redis.call('SCARD', podCallsKey(base, pod)) == 0 then
    redis.call('DEL', pk)
    redis.call('SREM', podIndexKey(base), pod)
  else
    redis.call('HSET', pk, 'pool', '', 'draining', '1')
  end
  recordShareChange(base, pod, before, nil)
end
