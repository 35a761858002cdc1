--[[
  drain-pod: drains a pod (it keeps its calls and gets no new ones) or
  undrains it. Idempotent.

  KEYS[1] pod hash                  {p}:pod:<pod>

  ARGV[1] key base "{p}:"
  ARGV[2] pod name
  ARGV[3] '1' to drain, '0' to undrain

  Returns { pool, calls } or nil when the pod is not known to routing.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"

local base, pod = ARGV[1], ARGV[2]
local pool = redis.call('HGET', KEYS[1], 'pool')
if not pool then return nil end
redis.call('HSET', KEYS[1], 'draining', ARGV[3])
refreshPodAvailability(base, pod)
return { pool, redis.call('SCARD', podCallsKey(base, pod)) }
