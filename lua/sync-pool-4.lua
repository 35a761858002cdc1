--[[
  sync-pool: makes Redis hold exactly the given pool: its routing settings
  and its members with their state. Members not listed leave the pool (their
  calls stay with them); listed pods that belonged to another pool move. A
  pod whose incarnation changed (container restart, pod recreated) lost its
  calls, so they are ended. Idempotent: the same arguments twice change
  nothing the second time. O(members); runs on reconcile, not per call.
  Every member is recorded in the pod index {p}:pods (see includes/keys.lua).
  A member marked retiring (retire-idle-pods) stays draining.

  KEYS[1] pool specs hash           {p}:pools           (pool -> spec JSON)
  KEYS[2] pools version string      {p}:pools:version   ("<epoch>:<n>", bumped when a spec changes)
  KEYS[3] call deadlines zset       {p}:calls:deadlines
  KEYS[4] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] pool name
  ARGV[3] pool spec JSON (what route resolution reads)
  ARGV[4] capacity (calls per pod)
  ARGV[5] scheduling: LeastLoaded | Packed
  ARGV[6] max call duration, seconds
  ARGV[7] tombstone lifetime, seconds, for the calls a restart ends
          (reason 'pod_restarted', or 'pod_gone' when the pod's uid changed)
  ARGV[8] leader term (refused when lower than KEYS[4]; 0 in standalone mode)
  ARGV[9] a fresh random epoch, used if the pools version must start over
  ARGV[10..] members, four values each: pod, ready ('1'|'0'),
            draining ('1'|'0'), incarnation ('' when unknown)

  Returns the calls ended because their pod restarted, flat:
    sid, pod, pool, sid, pod, pool, ...
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/end-call.lua"
--@include "includes/fence.lua"
--@include "includes/pools-version.lua"

local base, pool = ARGV[1], ARGV[2]
requireTerm(KEYS[4], ARGV[8])

if redis.call('HGET', KEYS[1], pool) ~= ARGV[3] then
  redis.call('HSET', KEYS[1], pool, ARGV[3])
  bumpPoolsVersion(KEYS[2], ARGV[9])
end
local configKey = poolConfigKey(base, pool)
local oldCapacity = redis.call('HGET', configKey, 'capacity')
redis.call('HSET', configKey, 'capacity', ARGV[4], 'scheduling', ARGV[5], 'max_call_seconds', ARGV[6])
if oldCapacity ~= ARGV[4] then
  -- Every pod's free share changed at once: count free slots afresh, and
  -- void a recount in progress, whose partial sums used the old capacity.
  redis.call('HSET', poolCountsKey(base, pool), 'free', freeSlotsFromAvail(base, pool, tonumber(ARGV[4])))
  redis.call('HDEL', configKey, 'recounting')
  redis.call('DEL', poolRecountKey(base, pool), poolRecountedKey(base, pool))
end

-- Every counter exists from the start, so a call that comes and goes leaves the hash as it found it.
for _, field in ipairs(COUNT_FIELDS) do redis.call('HSETNX', poolCountsKey(base, pool), field, 0) end

local wanted = {}
for i = 10, #ARGV, 4 do wanted[ARGV[i]] = true end

local membersKey = poolMembersKey(base, pool)
for _, pod in ipairs(redis.call('SMEMBERS', membersKey)) do
  if not wanted[pod] then detachPodFromPool(base, pod) end
end

local reaped = {}
for i = 10, #ARGV, 4 do
  local pod, ready, draining, incarnation = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local pk = podKey(base, pod)
  local f = redis.call('HMGET', pk, 'pool', 'incarnation')
  -- Calls end first, while the pod is still where they were counted.
  if f[2] and f[2] ~= '' and incarnation ~= '' and f[2] ~= incarnation then
    -- Incarnation is "<uid>:<restarts>": another uid is another pod under the same name.
    local reason = f[2]:match('^[^:]*') == incarnation:match('^[^:]*') and 'pod_restarted' or 'pod_gone'
    local ended = endPodCalls(base, KEYS[3], pod, reason, tonumber(ARGV[7]))
    for j = 1, #ended, 2 do
      reaped[#reaped + 1] = ended[j]
      reaped[#reaped + 1] = pod
      reaped[#reaped + 1] = ended[j + 1]
    end
  end
  local before = podShare(base, pod)
  if f[1] and f[1] ~= '' and f[1] ~= pool then
    redis.call('ZREM', poolAvailKey(base, f[1]), pod)
    redis.call('SREM', poolMembersKey(base, f[1]), pod)
  end
  -- A pod picked by a scale-down stays draining whatever the plan read before the pick.
  if redis.call('HEXISTS', pk, 'retiring') == 1 then draining = '1' end
  redis.call('HSET', pk, 'pool', pool, 'ready', ready, 'draining', draining, 'incarnation', incarnation)
  redis.call('SADD', membersKey, pod)
  redis.call('SADD', podIndexKey(base), pod)
  settlePod(base, pod, before)
end
return reaped
