--[[
  begin-term: a replica that just won the Lease takes the next leader term.
  Every operator write then carries it (includes/fence.lua), so a former
  leader that still believes it leads cannot land a write.

  The term is above the one Redis holds and above the Lease's transitions
  (which count every change of holder): if Redis lost the term with a
  flush, the new leader still outranks any leader before it; if the Lease
  was deleted and recreated, Redis still remembers the terms handed out.

  KEYS[1] leader term string        {p}:leader:term

  ARGV[1] the Lease's leaseTransitions as this replica wrote it

  Returns the new term (an integer).
]]
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local term = math.max(current + 1, tonumber(ARGV[1]) + 1)
redis.call('SET', KEYS[1], term)
return term
