import { runRouterToExit } from '../../support/router-process.js';

describe('a bad command line stops the router before it touches Redis or Kubernetes', () => {
  test.each([
    [['operator', '--prot', '1'], 'smart-router: unknown flag --prot\n'],
    [['standalone', '--config'], 'smart-router: flag --config needs a value, got the flag-like "--port"; write --config=--port if that is the value\n'],
    [['operator', 'standalone'], 'smart-router: unexpected argument "standalone": give one mode, operator or standalone\n'],
  ])('%j exits 2 with one line naming the fault', async (args, message) => {
    // The helper appends --port N, which is why a trailing --config sees "--port" as its would-be value.
    const { code, output } = await runRouterToExit(args, { REDIS_URL: 'redis://127.0.0.1:1' });
    expect({ code, output }).toEqual({ code: 2, output: message });
  });
});
