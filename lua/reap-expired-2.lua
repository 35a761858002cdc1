--[[
  reap-expired: ends calls that outlived their pool's maxCallDurationSeconds
  (zombies: the release never came). Bounded per run; the caller repeats
  while a full batch comes back.

  KEYS[1] call deadlines zset       {p}:calls:deadlines
  KEYS[2] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] most calls to reap in this run
  ARGV[3] tombstone lifetime, seconds (each reaped call leaves one, reason 'expired')
  ARGV[4] leader term (refused when lower than KEYS[2]; 0 in standalone mode)

  Returns a flat list: sid, pod, pool, sid, pod, pool, ...
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/end-call.lua"
--@include "includes/fence.lua"

local base, tombstoneSeconds = ARGV[1], tonumber(ARGV[3])
requireTerm(KEYS[2], ARGV[4])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nowMs(), 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, sid in ipairs(due) do
  local ended = endCall(base, KEYS[1], sid, 'expired', tombstoneSeconds)
  if ended then
    out[#out + 1] = sid
    out[#out + 1] = ended[1]
    out[#out + 1] = ended[2]
  else
    redis.call('ZREM', KEYS[1], sid)
  end
end
return out
