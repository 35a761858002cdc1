--[[
  delete-pool: the pool is gone. Its pods leave it, keeping their calls,
  which release as usual (reporting the pool they came from). Idempotent.

  KEYS[1] pool specs hash           {p}:pools
  KEYS[2] pools version string      {p}:pools:version   ("<epoch>:<n>", see includes/pools-version.lua)
  KEYS[3] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] pool name
  ARGV[3] leader term (refused when lower than KEYS[3]; 0 in standalone mode)
  ARGV[4] a fresh random epoch, used if the pools version must start over

  Returns how many pods left the pool.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/fence.lua"
--@include "includes/pools-version.lua"

local base, pool = ARGV[1], ARGV[2]
requireTerm(KEYS[3], ARGV[3])
local members = redis.call('SMEMBERS', poolMembersKey(base, pool))
for _, pod in ipairs(members) do detachPodFromPool(base, pod) end
redis.call('DEL', poolConfigKey(base, pool), poolAvailKey(base, pool), poolMembersKey(base, pool),
  poolCountsKey(base, pool), poolRecountKey(base, pool), poolRecountedKey(base, pool))
if redis.call('HDEL', KEYS[1], pool) == 1 then bumpPoolsVersion(KEYS[2], ARGV[4]) end
return #members
