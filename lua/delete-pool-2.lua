--[[
  delete-pool: the pool is gone. Its pods leave it, keeping their calls,
  which release as usual (reporting the pool they came from). Idempotent.

  KEYS[1] pool specs hash           {p}:pools
  KEYS[2] pools version string      {p}:pools:version

  ARGV[1] key base "{p}:"
  ARGV[2] pool name

  Returns how many pods left the pool.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"

local base, pool = ARGV[1], ARGV[2]
local members = redis.call('SMEMBERS', poolMembersKey(base, pool))
for _, pod in ipairs(members) do detachPodFromPool(base, pod) end
redis.call('DEL', poolConfigKey(base, pool), poolAvailKey(base, pool), poolMembersKey(base, pool))
if redis.call('HDEL', KEYS[1], pool) == 1 then redis.call('INCR', KEYS[2]) end
return #members
