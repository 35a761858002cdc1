--[[
  remove-pod: the pod is gone. Its calls died with it, so they are ended,
  and the pod leaves its pool and the pod index. Idempotent.

  KEYS[1] pod hash                  {p}:pod:<pod>
  KEYS[2] call deadlines zset       {p}:calls:deadlines
  KEYS[3] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] pod name
  ARGV[3] why its calls end, for their tombstones: 'pod_gone' | 'pod_restarted'
  ARGV[4] tombstone lifetime, seconds
  ARGV[5] leader term (refused when lower than KEYS[3]; 0 in standalone mode)

  Returns the ended calls as a flat list: sid, pool, sid, pool, ...
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/end-call.lua"
--@include "includes/fence.lua"

local base, pod = ARGV[1], ARGV[2]
requireTerm(KEYS[3], ARGV[5])
local ended = endPodCalls(base, KEYS[2], pod, ARGV[3], tonumber(ARGV[4]))
detachPodFromPool(base, pod)
redis.call('DEL', KEYS[1], podCallsKey(base, pod))
redis.call('SREM', podIndexKey(base), pod)
return ended
