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

  Returns, per pod in order, five values: pool (nil when the pod has no
  hash; '' when it left every pool but is still known), draining
  ('1'/'0'), incarnation ('' when none), retiring ('1'/'0'), calls (integer).
]]
--@include "includes/keys.lua"

local base = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local pod = ARGV[i]
  local f = redis.call('HMGET', podKey(base, pod), 'pool', 'draining', 'incarnation', 'retiring')
  out[#out + 1] = f[1]
  out[#out + 1] = f[2] == '1' and '1' or '0'
  out[#out + 1] = f[3] or ''
  out[#out + 1] = (f[4] and f[4] ~= '') and '1' or '0'
  out[#out + 1] = redis.call('SCARD', podCallsKey(base, pod))
end
return out
