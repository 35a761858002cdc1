--[[
  unretire-pod: the workload kept a pod picked by retire-idle-pods (it grew
  again, or its controller removed another pod): the pod may take calls
  again. Idempotent.

  KEYS[1] pod hash                  {p}:pod:<pod>
  KEYS[2] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] pod name
  ARGV[3] '1' when the pod must stay draining for another reason (drain
          requested, being deleted), else '0'
  ARGV[4] leader term (refused when lower than KEYS[2])

  Returns 1 when the pod was retiring, 0 when not.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/fence.lua"

requireTerm(KEYS[2], ARGV[4])
local base, pod = ARGV[1], ARGV[2]
if redis.call('HEXISTS', KEYS[1], 'retiring') == 0 then return 0 end
redis.call('HDEL', KEYS[1], 'retiring')
local pool = redis.call('HGET', KEYS[1], 'pool')
if (not pool or pool == '') and redis.call('SCARD', podCallsKey(base, pod)) == 0 then
  -- It was marked outside any pool: nothing else of it is routing state.
  redis.call('DEL', KEYS[1])
  redis.call('SREM', podIndexKey(base), pod)
  return 1
end
local before = podShare(base, pod)
redis.call('HSET', KEYS[1], 'draining', ARGV[3])
settlePod(base, pod, before)
return 1
