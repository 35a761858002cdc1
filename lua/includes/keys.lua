-- Key names, built from the installation's base ("{prefix}:"). The hash tag
-- in the base keeps every key of one installation in one Redis Cluster slot.
-- Mirrors lua/keys.ts: change both together.
local function poolConfigKey(base, pool) return base .. 'pool:' .. pool end
local function poolAvailKey(base, pool) return base .. 'pool:' .. pool .. ':avail' end
local function poolMembersKey(base, pool) return base .. 'pool:' .. pool .. ':members' end
-- The pool's counters (see includes/pool-counts.lua), and the scratch keys of
-- an exact recount in progress: partial sums, and the pods already counted.
local function poolCountsKey(base, pool) return base .. 'pool:' .. pool .. ':counts' end
local function poolRecountKey(base, pool) return base .. 'pool:' .. pool .. ':recount' end
local function poolRecountedKey(base, pool) return base .. 'pool:' .. pool .. ':recounted' end
local function podKey(base, pod) return base .. 'pod:' .. pod end
local function podCallsKey(base, pod) return base .. 'pod:' .. pod .. ':calls' end
local function callKey(base, sid) return base .. 'call:' .. sid end
-- A call that ended, for a while after (see includes/end-call.lua).
local function endedCallKey(base, sid) return base .. 'ended:' .. sid end
-- Every pod routing knows (a pod hash exists), so a reconcile finds pods that
-- are gone in one read, even those that left every pool but still hold calls.
local function podIndexKey(base) return base .. 'pods' end
-- Pub/Sub channel (not a key): an allocation that reached a pool's grow point
-- publishes the pool's name here (see allocate-3.lua).
local function autoscaleChannel(base) return base .. 'autoscale' end
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
