--[[
  pool-status: per-pool counts and the exact number of active calls, read in one
  atomic step so every replica reports the same truth. O(pools): it reads the
  counters the scripts keep (includes/pool-counts.lua), never the pods.

  KEYS[1] pool specs hash           {p}:pools
  KEYS[2] call deadlines zset       {p}:calls:deadlines

  ARGV[1] key base "{p}:"

  Returns JSON: { "active_calls": n, "pools": { name: { "pods", "ready",
  "draining", "busy", "active_calls", "draining_calls", "free_slots",
  "serving_slots", "capacity" } } }: draining_calls are the calls still on
  draining pods, serving_slots the slots of allocatable pods (Ready, not
  draining), used or free.
]]
--@include "includes/keys.lua"

local base = ARGV[1]
local pools = {}
for _, pool in ipairs(redis.call('HKEYS', KEYS[1])) do
  local c = redis.call('HMGET', poolCountsKey(base, pool), 'ready', 'draining', 'calls', 'busy', 'free', 'draining_calls')
  local capacity = tonumber(redis.call('HGET', poolConfigKey(base, pool), 'capacity')) or 1
  pools[pool] = {
    pods = redis.call('SCARD', poolMembersKey(base, pool)),
    ready = tonumber(c[1]) or 0,
    draining = tonumber(c[2]) or 0,
    active_calls = tonumber(c[3]) or 0,
    busy = tonumber(c[4]) or 0,
    free_slots = tonumber(c[5]) or 0,
    draining_calls = tonumber(c[6]) or 0,
    serving_slots = capacity * redis.call('ZCARD', poolAvailKey(base, pool)),
    capacity = capacity,
  }
end
local out = { active_calls = redis.call('ZCARD', KEYS[2]) }
-- cjson encodes an empty table as [], and "pools" must stay an object.
if next(pools) == nil then
  return '{"active_calls":' .. out.active_calls .. ',"pools":{}}'
end
out.pools = pools
return cjson.encode(out)
