--[[
  claim-owner: claims the key prefix for an installation, or says who owns it.
  Every replica runs it at start; replicas of one installation share the
  prefix, a second installation is refused. The record is lost with the rest
  of the state on a flush, and claimed again by whoever runs this next.

  KEYS[1] owner hash                {p}:owner   (installation, claimed_ms)

  ARGV[1] installation id

  Returns
    { 'claimed', id }   the prefix was free and is now this installation's
    { 'ours', id }      this installation already owned it
    { 'foreign', id }   another installation owns it: do not touch the prefix
]]
--@include "includes/keys.lua"

local owner = redis.call('HGET', KEYS[1], 'installation')
if not owner then
  redis.call('HSET', KEYS[1], 'installation', ARGV[1], 'claimed_ms', nowMs())
  return { 'claimed', ARGV[1] }
end
if owner == ARGV[1] then return { 'ours', owner } end
return { 'foreign', owner }
