--[[
  abandon: undoes one allocation attempt its router gave up on (it answered
  503 before the reply came). Sent on the same connection right after the
  allocate, so Redis runs it after that allocate: if the attempt took a slot,
  the slot is freed; if it found the call already allocated (by another
  attempt) or took nothing, nothing changes. No tombstone: the call is not
  over, and the provider's retry must be served.

  KEYS[1] call record hash          {p}:call:<sid>
  KEYS[2] call deadlines zset       {p}:calls:deadlines

  ARGV[1] key base "{p}:"
  ARGV[2] call_sid
  ARGV[3] attempt token the allocate carried

  Returns 1 when a slot was freed, 0 otherwise.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/end-call.lua"

if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[3] then return 0 end
endCall(ARGV[1], KEYS[2], ARGV[2], false, 0)
return 1
