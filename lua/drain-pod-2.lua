--[[
  drain-pod: drains a pod (it keeps its calls and gets no new ones) or
  undrains it; a pod retiring for a scale-down stays drained. Idempotent.

  KEYS[1] pod hash                  {p}:pod:<pod>
  KEYS[2] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] pod name
  ARGV[3] '1' to drain, '0' to undrain
  ARGV[4] leader term, checked for an undrain only (refused when lower than
          KEYS[2]; 0 in standalone mode). A drain only stops new calls and
          any replica's API may write it at once (the reconciler carries the
          annotation into Redis after it), so a drain is never refused.

  Returns { pool, calls, 1 if it was draining already else 0 }, or nil when
  the pod is not known to routing.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/fence.lua"

local base, pod = ARGV[1], ARGV[2]
if ARGV[3] ~= '1' then requireTerm(KEYS[2], ARGV[4]) end
local pool = redis.call('HGET', KEYS[1], 'pool')
if not pool then return nil end
local draining = ARGV[3]
-- A pod picked by a scale-down is on its way out: undraining it would let a call land on it.
if draining == '0' and redis.call('HEXISTS', KEYS[1], 'retiring') == 1 then draining = '1' end
local before = podShare(base, pod)
local was = redis.call('HGET', KEYS[1], 'draining') == '1' and 1 or 0
redis.call('HSET', KEYS[1], 'draining', draining)
settlePod(base, pod, before)
return { pool, redis.call('SCARD', podCallsKey(base, pod)), was }
