--[[
  set-pod-ready: records a pod's readiness. A pod that is not Ready gets no
  new calls but keeps the ones it has: a readiness flap is not a crash.

  KEYS[1] pod hash                  {p}:pod:<pod>
  KEYS[2] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] pod name
  ARGV[3] '1' Ready, '0' not Ready
  ARGV[4] leader term (refused when lower than KEYS[2]; 0 in standalone mode)

  Returns 1, or nil when the pod is not known to routing.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/fence.lua"

requireTerm(KEYS[2], ARGV[4])
if not redis.call('HGET', KEYS[1], 'pool') then return nil end
local before = podShare(ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], 'ready', ARGV[3])
settlePod(ARGV[1], ARGV[2], before)
return 1
