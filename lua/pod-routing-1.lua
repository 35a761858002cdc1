--[[
  pod-routing: what routing holds for each listed pod, as a reconcile reads
  it: its pool, whether it drains, its incarnation, whether it is retiring,
  and how many calls it holds. Read only. The caller splits a fleet into
  bounded batches, so one run never holds Redis for long; one script per
  batch instead of two commands per pod keeps the client's work small.

  KEYS[1] pod index set      {p}:pods  (routes the script to the
                             installation's slot; not read)

  ARGV[1] key base "{p}:"
  ARGV[2..] pods

  Returns one string, a line per pod in order, its fields separated by tabs
  (pod, pool and incarnation names hold neither): pool ('' when the pod has
  no hash; '=' followed by the pool, '=' alone when it left every pool but
  is still known), draining ('1'/'0'), incarnation ('' when none), retiring
  ('1'/'0'), calls (integer). One string rather than five values a pod: at
  10,000 pods the client decoded 50,000 replies a read.
]]
--@include "includes/keys.lua"

local base = ARGV[1]
local lines = {}
for i = 2, #ARGV do
  local pod = ARGV[i]
  local f = redis.call('HMGET', podKey(base, pod), 'pool', 'draining', 'incarnation', 'retiring')
  lines[#lines + 1] = table.concat({
    f[1] and ('=' .. f[1]) or '',
    f[2] == '1' and '1' or '0',
    f[3] or '',
    (f[4] and f[4] ~= '') and '1' or '0',
    redis.call('SCARD', podCallsKey(base, pod)),
  }, '\t')
end
return table.concat(lines, '\n')
