-- Ends one call: deletes its record, frees its slot on the pod, re-scores
-- the pod, and leaves a tombstone {p}:ended:<sid> (reason, pod, pool,
-- ended_ms) that expires after tombstoneSeconds. While it lives, allocate
-- answers 'ended' for the call and takes nothing: a provider retry, a
-- replayed webhook or an allocation that arrives after the call's release
-- must never hold a slot that nothing would release. reason false: no
-- tombstone (an allocation undone because its router gave up on it; the
-- call itself goes on and its retry must be served).
-- Returns { pod, pool, draining } or false when the call is unknown.
local function endCall(base, deadlinesKey, sid, reason, tombstoneSeconds)
  local ck = callKey(base, sid)
  local c = redis.call('HMGET', ck, 'pod', 'pool')
  local pod, pool = c[1], c[2]
  if not pod then return false end
  redis.call('DEL', ck)
  redis.call('ZREM', deadlinesKey, sid)
  local callsKey = podCallsKey(base, pod)
  local removed = redis.call('SREM', callsKey, sid) == 1
  if reason then
    local tk = endedCallKey(base, sid)
    redis.call('HSET', tk, 'reason', reason, 'pod', pod, 'pool', pool or '', 'ended_ms', nowMs())
    redis.call('EXPIRE', tk, tombstoneSeconds)
  end
  local pk = podKey(base, pod)
  local draining = '0'
  local f = redis.call('HMGET', pk, 'pool', 'draining', 'ready')
  if f[1] then
    draining = f[2] or '0'
    local calls = redis.call('SCARD', callsKey)
    if f[1] == '' then
      if calls == 0 then
        -- The pod had left its pool and this was its last call.
        redis.call('DEL', pk)
        redis.call('SREM', podIndexKey(base), pod)
      end
    else
      -- What refreshPodAvailability and podShare would read, read once: this is the release path.
      local cfg = redis.call('HMGET', poolConfigKey(base, f[1]), 'capacity', 'recounting')
      local share = shareOf(f[1], f[3] == '1', f[2] == '1', calls, tonumber(cfg[1]) or 1, cfg[2] == '1')
      if removed then recordShareChange(base, pod, shareWithCalls(share, calls + 1), share) end
      if f[3] == '1' and f[2] ~= '1' then
        redis.call('ZADD', poolAvailKey(base, f[1]), calls, pod)
      else
        redis.call('ZREM', poolAvailKey(base, f[1]), pod)
      end
    end
  end
  return { pod, pool, draining }
end

-- Ends every call a pod holds (the pod is gone or its process restarted, so
-- the calls died with it), each with a tombstone carrying `reason`.
-- Returns a flat list: sid, pool, sid, pool, ...
local function endPodCalls(base, deadlinesKey, pod, reason, tombstoneSeconds)
  local out = {}
  local sids = redis.call('SMEMBERS', podCallsKey(base, pod))
  for _, sid in ipairs(sids) do
    local ended = endCall(base, deadlinesKey, sid, reason, tombstoneSeconds)
    if ended then
      out[#out + 1] = sid
      out[#out + 1] = ended[2]
    else
      redis.call('SREM', podCallsKey(base, pod), sid)
    end
  end
  return out
end
