--[[
  release: ends a call and frees its slot. Idempotent: a second release of
  the same call finds nothing and changes nothing.

  KEYS[1] call record hash          {p}:call:<sid>
  KEYS[2] call deadlines zset       {p}:calls:deadlines

  ARGV[1] key base "{p}:"
  ARGV[2] call_sid

  Returns { pod, pool, draining ('1' or '0') }, or nil when the call is unknown.
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/end-call.lua"

local ended = endCall(ARGV[1], KEYS[2], ARGV[2])
if not ended then return nil end
return ended
