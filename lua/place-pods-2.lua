--[[
  place-pods: puts each listed pod in its pool with its state (readiness,
  drain, incarnation); see includes/place-pod.lua. One pod whose readiness
  flipped, or one batch of a pool being written whole: O(pods listed x
  log N), so the caller bounds how long Redis is held by how many it lists.
  A pod whose pool Redis does not hold (flushed, or not written yet) is
  skipped and reported: the caller writes the pool first. Idempotent.

  KEYS[1] call deadlines zset       {p}:calls:deadlines
  KEYS[2] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] tombstone lifetime, seconds, for the calls a restart ends
          (reason 'pod_restarted', or 'pod_gone' when the pod's uid changed)
  ARGV[3] leader term (refused when lower than KEYS[2]; 0 in standalone mode)
  ARGV[4..] five values per pod: pod, pool, ready ('1'|'0'),
            draining ('1'|'0'), incarnation ('' when unknown)

  Returns { ended, skipped }: the calls ended because their pod restarted,
  flat (sid, pod, pool, ...), and the pods skipped because their pool is
  missing.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/end-call.lua"
--@include "includes/place-pod.lua"
--@include "includes/fence.lua"

local base = ARGV[1]
requireTerm(KEYS[2], ARGV[3])
local tombstoneSeconds = tonumber(ARGV[2])
local reaped, skipped = {}, {}
for i = 4, #ARGV, 5 do
  local pod, pool = ARGV[i], ARGV[i + 1]
  if redis.call('EXISTS', poolConfigKey(base, pool)) == 1 then
    placePod(base, KEYS[1], pool, pod, ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], tombstoneSeconds, reaped)
  else
    skipped[#skipped + 1] = pod
  end
end
return { reaped, skipped }
