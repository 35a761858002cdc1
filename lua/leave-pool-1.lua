--[[
  leave-pool: each listed pod that is still in the pool leaves it, keeping
  its calls (they release as usual); a pod already elsewhere is left alone.
  How a pool written whole sheds the members it no longer lists, and how a
  pod that left every pool leaves routing, in bounded batches. Idempotent.

  KEYS[1] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] leader term (refused when lower than KEYS[1]; 0 in standalone mode)
  ARGV[3] pool name
  ARGV[4..] pods

  Returns how many pods left the pool.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/fence.lua"

local base, pool = ARGV[1], ARGV[3]
requireTerm(KEYS[1], ARGV[2])
local left = 0
for i = 4, #ARGV do
  local pod = ARGV[i]
  if redis.call('HGET', podKey(base, pod), 'pool') == pool then
    detachPodFromPool(base, pod)
    left = left + 1
  elseif redis.call('SREM', poolMembersKey(base, pool), pod) == 1 then
    -- A member whose hash says otherwise: only the stray index entry goes.
    redis.call('ZREM', poolAvailKey(base, pool), pod)
    left = left + 1
  end
end
return left
