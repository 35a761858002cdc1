--[[
  release: ends a call and frees its slot. Idempotent: a second release of
  the same call finds nothing and changes nothing.

  The ended call leaves a tombstone (reason 'released'), so an allocation
  that arrives later for it takes nothing. A release of a call routing does
  not know also leaves one (reason 'released_before_allocation'), unless a
  tombstone is already there: the provider said the call is over, so an
  allocation still on its way (a slow or retried webhook) must not take a
  slot for it either.

  KEYS[1] call record hash          {p}:call:<sid>
  KEYS[2] call deadlines zset       {p}:calls:deadlines

  ARGV[1] key base "{p}:"
  ARGV[2] call_sid
  ARGV[3] tombstone lifetime, seconds

  Returns { pod, pool, draining ('1' or '0') }, or nil when the call is unknown.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/end-call.lua"

local base, sid, tombstoneSeconds = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ended = endCall(base, KEYS[2], sid, 'released', tombstoneSeconds)
if ended then return ended end
local tk = endedCallKey(base, sid)
if redis.call('EXISTS', tk) == 0 then
  redis.call('HSET', tk, 'reason', 'released_before_allocation', 'pod', '', 'pool', '', 'ended_ms', nowMs())
  redis.call('EXPIRE', tk, tombstoneSeconds)
end
return nil
