--[[
  recount-pool: counts a pool's counters exactly from its pods and repairs
  them, in bounded batches so allocations never wait behind a whole pool.
  Calls keep coming and going between batches: while a recount runs, a
  change to a pod it has already counted also goes into its partial sums
  (includes/pool-counts.lua), so the last batch compares and repairs an
  exact figure. The caller lists the pool's members once and sends them in
  batches, the first with first = '1', the last with last = '1'.

  KEYS[1] pool specs hash           {p}:pools
  KEYS[2] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] pool name
  ARGV[3] '1' on the first batch: a recount starts (one in progress is dropped)
  ARGV[4] '1' on the last batch: compare, repair and end the recount
  ARGV[5] leader term (refused when lower than KEYS[2]; 0 in standalone mode)
  ARGV[6..] pods to count (members that left meanwhile are skipped)

  Returns
    { 'partial' }                          batch counted; send the next
    { 'done', field, kept, exact, ... }    repaired; every counter that drifted
    { 'abandoned' }                        the pool was removed, its capacity
                                           changed or its members changed under
                                           the recount: nothing repaired, retry later
]]
--@include "includes/keys.lua"
--@include "includes/pool-counts.lua"
--@include "includes/fence.lua"

local base, pool = ARGV[1], ARGV[2]
requireTerm(KEYS[2], ARGV[5])
local configKey = poolConfigKey(base, pool)
local partialKey, countedKey = poolRecountKey(base, pool), poolRecountedKey(base, pool)

local function stop()
  redis.call('HDEL', configKey, 'recounting')
  redis.call('DEL', partialKey, countedKey)
end

if redis.call('HEXISTS', KEYS[1], pool) == 0 then
  stop()
  return { 'abandoned' }
end
if ARGV[3] == '1' then
  redis.call('DEL', partialKey, countedKey)
  redis.call('HSET', configKey, 'recounting', '1')
elseif redis.call('HGET', configKey, 'recounting') ~= '1' then
  return { 'abandoned' }
end

-- Every counted field starts at zero, whatever fields pool-counts.lua keeps.
local batch = {}
for _, field in ipairs(COUNT_FIELDS) do batch[field] = 0 end
for i = 6, #ARGV do
  local pod = ARGV[i]
  local s = podShare(base, pod)
  if s and s.pool == pool and redis.call('SADD', countedKey, pod) == 1 then
    for _, field in ipairs(COUNT_FIELDS) do batch[field] = batch[field] + s[field] end
  end
end
for _, field in ipairs(COUNT_FIELDS) do redis.call('HINCRBY', partialKey, field, batch[field]) end
if ARGV[4] ~= '1' then return { 'partial' } end

-- Counted pods leave the counted set when they leave the pool, so equal
-- sizes mean every member now in the pool was counted.
if redis.call('SCARD', countedKey) ~= redis.call('SCARD', poolMembersKey(base, pool)) then
  stop()
  return { 'abandoned' }
end
local countsKey = poolCountsKey(base, pool)
local exact = redis.call('HMGET', partialKey, unpack(COUNT_FIELDS))
local kept = redis.call('HMGET', countsKey, unpack(COUNT_FIELDS))
local out = { 'done' }
for i, field in ipairs(COUNT_FIELDS) do
  local e, k = tonumber(exact[i]) or 0, tonumber(kept[i]) or 0
  if e ~= k then
    out[#out + 1] = field
    out[#out + 1] = k
    out[#out + 1] = e
  end
  redis.call('HSET', countsKey, field, e)
end
stop()
return out
