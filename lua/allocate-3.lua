--[[
  allocate: gives a call a slot on a pod, or returns the slot it already has.

  The whole decision is here, so any number of router replicas can call it
  at once: idempotency by call_sid, the pick, the slot, the call record and
  the pod's call set change together or not at all. O(log N) in pods.

  KEYS[1] call record hash          {p}:call:<sid>
  KEYS[2] call deadlines zset       {p}:calls:deadlines
  KEYS[3] pools version string      {p}:pools:version

  ARGV[1] key base "{p}:"
  ARGV[2] call_sid
  ARGV[3] pools version the caller resolved the route with
  ARGV[4] merchant id ('' for none)
  ARGV[5] deadline, Redis time in ms (TIME): past it the router has already
          answered (or will answer) 503, so nothing may be taken
  ARGV[6] attempt token, recorded on a new call so the router that gave up
          on this attempt can undo exactly it (see abandon-2.lua); cleared
          when another attempt finds the call existing
  ARGV[7..] route: pool names, in the order to try them

  A pool the built-in autoscaler sizes carries 'grow_at' in its config hash
  (set-grow-point-2.lua): the allocation that brings the pool's calls to it
  publishes the pool's name on the autoscale channel, waking the leader.

  Returns
    { 'late' }                  Redis ran the script after its deadline: nothing read or taken
    { 'existing', pod, pool }   the call already had a slot; no attempt can undo it any more
    { 'allocated', pod, pool }  a new slot was taken
    { 'ended', reason, ended_ms } the call ended a moment ago (its tombstone,
                                see includes/end-call.lua): nothing taken
    { 'stale', version }        the route was resolved from old pools: re-resolve
    { 'none' }                  no pool in the route has a free slot
]]
--@include "includes/keys.lua"
--@include "includes/pool-counts.lua"

local base, sid = ARGV[1], ARGV[2]
-- Redis's own clock, not the router's: a script Redis runs late (it was
-- paused, or the command queued behind a backlog) does no work.
if nowMs() > tonumber(ARGV[5]) then
  return { 'late' }
end

local existing = redis.call('HMGET', KEYS[1], 'pod', 'pool', 'attempt')
if existing[1] then
  -- The call is handed to a client now: no earlier attempt may undo it
  -- (an abandon sent late, after a reconnect, must not end a held call).
  if existing[3] and existing[3] ~= '' then redis.call('HSET', KEYS[1], 'attempt', '') end
  return { 'existing', existing[1], existing[2] }
end

local ended = redis.call('HMGET', endedCallKey(base, sid), 'reason', 'ended_ms')
if ended[1] then
  return { 'ended', ended[1], ended[2] or '0' }
end

local version = redis.call('GET', KEYS[3]) or '0'
if version ~= ARGV[3] then
  return { 'stale', version }
end

for i = 7, #ARGV do
  local pool = ARGV[i]
  local cfg = redis.call('HMGET', poolConfigKey(base, pool), 'capacity', 'scheduling', 'max_call_seconds', 'recounting', 'grow_at')
  local capacity = tonumber(cfg[1])
  if capacity then
    local availKey = poolAvailKey(base, pool)
    local pod
    if cfg[2] == 'Packed' then
      -- The fullest pod that still has room.
      pod = redis.call('ZREVRANGEBYSCORE', availKey, '(' .. capacity, '-inf', 'LIMIT', 0, 1)[1]
    else
      -- The emptiest pod; if even it is full, the pool is.
      local lowest = redis.call('ZRANGE', availKey, 0, 0, 'WITHSCORES')
      if lowest[1] and tonumber(lowest[2]) < capacity then pod = lowest[1] end
    end
    if pod then
      local now = nowMs()
      redis.call('SADD', podCallsKey(base, pod), sid)
      local calls = tonumber(redis.call('ZINCRBY', availKey, 1, pod))
      -- The pod was allocatable and below capacity: one slot fewer, one call more.
      addToPoolCounts(base, pool, pod, { calls = 1, free = -1, busy = calls == 1 and 1 or 0 }, cfg[4] == '1')
      redis.call('HSET', KEYS[1], 'pod', pod, 'pool', pool, 'merchant_id', ARGV[4], 'started_ms', now, 'attempt', ARGV[6])
      redis.call('ZADD', KEYS[2], now + (tonumber(cfg[3]) or 14400) * 1000, sid)
      if cfg[5] and (tonumber(redis.call('HGET', poolCountsKey(base, pool), 'calls')) or 0) >= tonumber(cfg[5]) then
        redis.call('PUBLISH', autoscaleChannel(base), pool)
      end
      return { 'allocated', pod, pool }
    end
  end
end
return { 'none' }
