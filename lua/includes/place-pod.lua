-- Puts a pod in a pool with the given state: it joins the pool (leaving the
-- one it was in, keeping its calls), and its readiness, drain and
-- incarnation are recorded. A pod whose incarnation moved forward (its
-- agent container restarted, or another pod took its name) lost its calls,
-- so they are ended first, while the pod is still where they were counted; they are
-- appended to `reaped` as sid, pod, pool. A pod marked retiring
-- (retire-idle-pods) stays draining whatever the plan read before the pick.
-- O(log N), plus the calls ended.
local function placePod(base, deadlinesKey, pool, pod, ready, draining, incarnation, tombstoneSeconds, reaped)
  local pk = podKey(base, pod)
  local membersKey = poolMembersKey(base, pool)
  local f = redis.call('HMGET', pk, 'pool', 'incarnation', 'ready', 'draining', 'retiring')
  if f[5] then draining = '1' end
  if f[2] and f[2] ~= '' and incarnation ~= '' and f[2] ~= incarnation then
    local ruid, rn = f[2]:match('^([^:]*):(%d+)$')
    local uid, n = incarnation:match('^([^:]*):(%d+)$')
    if ruid and uid and ruid == uid and tonumber(n) < tonumber(rn) then
      -- Fewer restarts than recorded: a cache behind Redis (a new leader's).
      -- The incarnation never moves backwards, and nothing ends. The caller
      -- passes a changed incarnation only once the API server confirmed it
      -- (operator/call-endings.ts).
      incarnation = f[2]
    end
  end
  if f[1] == pool and f[2] == incarnation and f[3] == ready and f[4] == draining then
    -- Nothing changed: only make sure the indexes agree (a full resync heals them).
    redis.call('SADD', membersKey, pod)
    redis.call('SADD', podIndexKey(base), pod)
    refreshPodAvailability(base, pod)
    return
  end
  if f[2] and f[2] ~= '' and incarnation ~= '' and f[2] ~= incarnation then
    -- Incarnation is "<uid>:<restarts>": another uid is another pod under the same name.
    local reason = f[2]:match('^[^:]*') == incarnation:match('^[^:]*') and 'pod_restarted' or 'pod_gone'
    local ended = endPodCalls(base, deadlinesKey, pod, reason, tombstoneSeconds)
    for j = 1, #ended, 2 do
      reaped[#reaped + 1] = ended[j]
      reaped[#reaped + 1] = pod
      reaped[#reaped + 1] = ended[j + 1]
    end
  end
  local before = podShare(base, pod)
  if f[1] and f[1] ~= '' and f[1] ~= pool then
    redis.call('ZREM', poolAvailKey(base, f[1]), pod)
    redis.call('SREM', poolMembersKey(base, f[1]), pod)
  end
  redis.call('HSET', pk, 'pool', pool, 'ready', ready, 'draining', draining, 'incarnation', incarnation)
  redis.call('SADD', membersKey, pod)
  redis.call('SADD', podIndexKey(base), pod)
  settlePod(base, pod, before)
end
