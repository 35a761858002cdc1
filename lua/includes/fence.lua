-- Fencing. The operator's leader takes a term when it wins the Lease
-- (lua/begin-term-1.lua) and every operator write carries it. A write with
-- a lower term than Redis holds comes from a leader that lost the Lease and
-- does not know it yet (paused, partitioned, frozen between its lease check
-- and its write): it is refused with an error starting "FENCED", before the
-- script changes anything. A higher term is recorded, so a term key lost
-- with a flush is restored by the leader's next write. Term 0 is standalone
-- mode, which has no leader and never records a term.
local function requireTerm(termKey, term)
  local mine = tonumber(term)
  if not mine then error({ err = 'ERR term must be a number, got ' .. tostring(term) }) end
  local current = tonumber(redis.call('GET', termKey) or '0')
  if mine < current then
    error({ err = 'FENCED write of leader term ' .. mine .. ' refused: term ' .. current .. ' has taken over' })
  end
  if mine > current then redis.call('SET', termKey, mine) end
end
