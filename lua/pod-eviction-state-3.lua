--[[
  pod-eviction-state: what the eviction guard needs to answer an eviction of
  a pod, in one round trip. Reads only.

  KEYS[1] pod hash                  {p}:pod:<pod>
  KEYS[2] pool specs hash           {p}:pools
  KEYS[3] call deadlines zset       {p}:calls:deadlines

  ARGV[1] key base "{p}:"
  ARGV[2] pod name

  Returns nil when routing does not know the pod (in no pool, no calls), else
  { pool ('' when it left every pool but holds calls), draining ('1'/'0'),
    active calls, the pool's spec JSON ('' when unknown),
    latest deadline of its calls in ms ('' without calls) }.
]]
--@include "includes/keys.lua"

local base, pod = ARGV[1], ARGV[2]
local f = redis.call('HMGET', KEYS[1], 'pool', 'draining')
local calls = redis.call('SMEMBERS', podCallsKey(base, pod))
if not f[1] and #calls == 0 then return nil end
local pool = f[1] or ''
local spec = ''
if pool ~= '' then spec = redis.call('HGET', KEYS[2], pool) or '' end
local latest = ''
for _, sid in ipairs(calls) do
  local score = redis.call('ZSCORE', KEYS[3], sid)
  if score and (latest == '' or tonumber(score) > tonumber(latest)) then latest = score end
end
return { pool, f[2] == '1' and '1' or '0', #calls, spec, latest }
