--[[
  set-pod-ready: records a pod's readiness. A pod that is not Ready gets no
  new calls but keeps the ones it has: a readiness flap is not a crash.

  KEYS[1] pod hash                  {p}:pod:<pod>

  ARGV[1] key base "{p}:"
  ARGV[2] pod name
  ARGV[3] '1' Ready, '0' not Ready

  Returns 1, or nil when the pod is not known to routing.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"

if not redis.call('HGET', KEYS[1], 'pool') then return nil end
redis.call('HSET', KEYS[1], 'ready', ARGV[3])
refreshPodAvailability(ARGV[1], ARGV[2])
return 1
