--[[
  pool-status: per-pool counts and the exact number of active calls, read in one
  atomic step so every replica reports the same truth. O(pods); for status
  and metrics, never on the call path.

  KEYS[1] pool specs hash           {p}:pools
  KEYS[2] call deadlines zset       {p}:calls:deadlines

  ARGV[1] key base "{p}:"

  Returns JSON: { "active_calls": n, "pools": { name: { "pods", "ready",
  "draining", "active_calls", "free_slots", "capacity" } } }
]]
--@include "includes/keys.lua"

local base = ARGV[1]
local pools = {}
for _, pool in ipairs(redis.call('HKEYS', KEYS[1])) do
  local capacity = tonumber(redis.call('HGET', poolConfigKey(base, pool), 'capacity')) or 1
  local s = { pods = 0, ready = 0, draining = 0, active_calls = 0, free_slots = 0, capacity = capacity }
  for _, pod in ipairs(redis.call('SMEMBERS', poolMembersKey(base, pool))) do
    local f = redis.call('HMGET', podKey(base, pod), 'ready', 'draining')
    local calls = redis.call('SCARD', podCallsKey(base, pod))
    s.pods = s.pods + 1
    s.active_calls = s.active_calls + calls
    if f[1] == '1' then s.ready = s.ready + 1 end
    if f[2] == '1' then
      s.draining = s.draining + 1
    elseif f[1] == '1' and calls < capacity then
      s.free_slots = s.free_slots + capacity - calls
    end
  end
  pools[pool] = s
end
local out = { active_calls = redis.call('ZCARD', KEYS[2]) }
-- cjson encodes an empty table as [], and "pools" must stay an object.
if next(pools) == nil then
  return '{"active_calls":' .. out.active_calls .. ',"pools":{}}'
end
out.pools = pools
return cjson.encode(out)
