--[[
  set-pool: makes Redis hold the pool's spec and routing settings (not its
  members: place-pods and leave-pool move those, in bounded batches, so a
  10,000-pod pool never holds Redis for more than a few milliseconds).
  Idempotent. O(1), or O(min(capacity, calls on the busiest pod) x log N)
  when the capacity changes, which changes every pod's free slots at once.

  KEYS[1] pool specs hash           {p}:pools           (pool -> spec JSON)
  KEYS[2] pools version string      {p}:pools:version   ("<epoch>:<n>", bumped when a spec changes)
  KEYS[3] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] pool name
  ARGV[3] pool spec JSON (what route resolution reads)
  ARGV[4] capacity (calls per pod)
  ARGV[5] scheduling: LeastLoaded | Packed
  ARGV[6] max call duration, seconds
  ARGV[7] leader term (refused when lower than KEYS[3]; 0 in standalone mode)
  ARGV[8] a fresh random epoch, used if the pools version must start over

  Returns 1 when the spec changed (the pools version moved), else 0.
]]
--@include "includes/keys.lua"
--@include "includes/pool-counts.lua"
--@include "includes/fence.lua"
--@include "includes/pools-version.lua"

local base, pool = ARGV[1], ARGV[2]
requireTerm(KEYS[3], ARGV[7])

local changed = 0
if redis.call('HGET', KEYS[1], pool) ~= ARGV[3] then
  redis.call('HSET', KEYS[1], pool, ARGV[3])
  bumpPoolsVersion(KEYS[2], ARGV[8])
  changed = 1
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
return changed
