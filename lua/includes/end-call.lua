-- Ends one call: deletes its record, frees its slot on the pod and re-scores
-- the pod. Returns { pod, pool, draining } or false when the call is unknown.
local function endCall(base, deadlinesKey, sid)
  local ck = callKey(base, sid)
  local c = redis.call('HMGET', ck, 'pod', 'pool')
  local pod, pool = c[1], c[2]
  if not pod then return false end
  redis.call('DEL', ck)
  redis.call('ZREM', deadlinesKey, sid)
  redis.call('SREM', podCallsKey(base, pod), sid)
  local pk = podKey(base, pod)
  local draining = '0'
  local f = redis.call('HMGET', pk, 'pool', 'draining')
  if f[1] then
    draining = f[2] or '0'
    if f[1] == '' and redis.call('SCARD', podCallsKey(base, pod)) == 0 then
      -- The pod had left its pool and this was its last call.
      redis.call('DEL', pk)
      redis.call('SREM', podIndexKey(base), pod)
    else
      refreshPodAvailability(base, pod)
    end
  end
  return { pod, pool, draining }
end

-- Ends every call a pod holds (the pod is gone or its process restarted, so
-- the calls died with it). Returns a flat list: sid, pool, sid, pool, ...
local function endPodCalls(base, deadlinesKey, pod)
  local out = {}
  local sids = redis.call('SMEMBERS', podCallsKey(base, pod))
  for _, sid in ipairs(sids) do
    local ended = endCall(base, deadlinesKey, sid)
    if ended then
      out[#out + 1] = sid
      out[#out + 1] = ended[2]
    else
      redis.call('SREM', podCallsKey(base, pod), sid)
    end
  end
  return out
end
