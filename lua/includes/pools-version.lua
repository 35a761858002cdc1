-- The pools version is "<epoch>:<n>": n counts pool spec changes, and the
-- epoch is a random id chosen when the version is first written or found
-- missing. A flush or a restart without AOF loses the version with the
-- pools; the next write starts a new epoch, so a router's route cached
-- before the loss can never match a version written after it (no ABA:
-- counting restarts at 1, the epoch does not repeat). allocate compares the
-- whole string.
local function bumpPoolsVersion(versionKey, freshEpoch)
  local epoch, n = string.match(redis.call('GET', versionKey) or '', '^(.+):(%d+)$')
  if not epoch then epoch, n = freshEpoch, '0' end
  redis.call('SET', versionKey, epoch .. ':' .. (tonumber(n) + 1))
end
