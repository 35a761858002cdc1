--[[
  set-grow-point: the number of calls in a pool at which the built-in
  autoscaler grows the pool's workload. The allocation that brings the pool
  to it publishes the pool's name on the autoscale channel, so the leader
  grows the workload at once instead of at its next pass. Idempotent.

  KEYS[1] pool config hash          {p}:pool:<name>
  KEYS[2] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] calls at which to grow; '' clears it (the pool is at its maximum,
          or no longer autoscaled)
  ARGV[2] leader term (refused when lower than KEYS[2])

  Returns 1 when the point changed, 0 when it was already so or the pool is
  not in Redis (a deleted pool gets no config hash back).
]]
--@include "includes/fence.lua"

requireTerm(KEYS[2], ARGV[2])
if redis.call('HEXISTS', KEYS[1], 'capacity') == 0 then return 0 end
local current = redis.call('HGET', KEYS[1], 'grow_at')
if ARGV[1] == '' then
  return redis.call('HDEL', KEYS[1], 'grow_at')
end
if current == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'grow_at', ARGV[1])
return 1
