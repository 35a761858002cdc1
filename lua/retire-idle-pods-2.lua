--[[
  retire-idle-pods: picks the idle pods a workload scale-down will remove
  and marks them retiring in the same atomic step, so a pod that took a call
  meanwhile is never picked and a picked pod can take no call afterwards.
  A retiring pod is draining; sync-pool and drain-pod keep it draining until
  unretire-pod clears the mark (or the pod is gone).

  The candidates come in the order the workload controller removes pods,
  grouped in tiers (the ReplicaSet's ranking before pod-deletion-cost, or one
  StatefulSet ordinal per tier, highest first). Within a tier the controller
  removes the lowest pod-deletion-cost first, so any idle pods of a tier may
  go; but a tier must be taken whole before the next is touched, or the
  controller would remove a pod of the earlier tier (maybe busy) instead.
  The walk stops at the first tier it cannot take whole.

  KEYS[1] pod index set             {p}:pods
  KEYS[2] leader term string        {p}:leader:term     (includes/fence.lua)

  ARGV[1] key base "{p}:"
  ARGV[2] how many pods to pick at most
  ARGV[3] time of the decision, ms (recorded on each picked pod)
  ARGV[4] leader term (refused when lower than KEYS[2])
  ARGV[5..] candidates, two values each: pod, tier (consecutive equal tiers form a group)

  Returns { picked pods..., '|', blocking pod or '' }: the pod that stopped
  the walk, busy in a tier that had to be taken whole ('' when none did).
]]
--@include "includes/keys.lua"
--@include "includes/pod-availability.lua"
--@include "includes/fence.lua"

requireTerm(KEYS[2], ARGV[4])
local base, want, at = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local picked, blocking = {}, ''
local i = 5
while #picked < want and i <= #ARGV do
  local tier, group = ARGV[i + 1], {}
  while i <= #ARGV and ARGV[i + 1] == tier do
    group[#group + 1] = ARGV[i]
    i = i + 2
  end
  local idle, busy = {}, nil
  for _, pod in ipairs(group) do
    if redis.call('SCARD', podCallsKey(base, pod)) == 0 then
      idle[#idle + 1] = pod
    elseif not busy then
      busy = pod
    end
  end
  local room = want - #picked
  for j = 1, math.min(room, #idle) do picked[#picked + 1] = idle[j] end
  -- A tier left partly in place must hold only the picked pods' betters: stop unless it was taken whole or fills the count.
  if #group > room and #idle >= room then break end
  if busy then
    blocking = busy
    break
  end
end

for _, pod in ipairs(picked) do
  local pk = podKey(base, pod)
  if redis.call('EXISTS', pk) == 0 then redis.call('HSET', pk, 'pool', '') end
  local before = podShare(base, pod)
  redis.call('HSET', pk, 'draining', '1', 'retiring', at)
  redis.call('SADD', KEYS[1], pod)
  settlePod(base, pod, before)
end
picked[#picked + 1] = '|'
picked[#picked + 1] = blocking
return picked
