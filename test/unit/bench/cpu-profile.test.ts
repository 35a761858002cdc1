import { callTree, collapsed, flameGraphSvg, ownerOf, selfTimes, type CpuProfile } from '../../../bench/cpu-profile.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

/** root -> handler (project) -> stringify (package); root -> (idle). Samples every 100 µs from t=1000. */
function profile(): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 4] },
      { id: 2, callFrame: frame('handler', 'file:///srv/dist/api/routes/calls.js', 9), children: [3] },
      { id: 3, callFrame: frame('stringify', 'file:///srv/node_modules/safe-stable-stringify/index.js', 1) },
      { id: 4, callFrame: frame('(idle)') },
    ],
    startTime: 1000,
    endTime: 1800,
    // at 1000, 1100, ..., 1700; the last sample has no duration
    samples: [2, 3, 3, 4, 2, 3, 4, 2],
    timeDeltas: [0, 100, 100, 100, 100, 100, 100, 100],
  };
}

describe('CPU profile summary', () => {
  it('names the owner of a frame: a package, a Node module, a project file or V8', () => {
    expect(ownerOf('file:///srv/node_modules/@opentelemetry/api/build/index.js')).toBe('@opentelemetry/api');
    expect(ownerOf('node:internal/streams/writable')).toBe('node:streams');
    expect(ownerOf('node:_http_server')).toBe('node:_http_server');
    expect(ownerOf('file:///srv/dist/api/call-router.js')).toBe('api/call-router');
    expect(ownerOf('')).toBe('(v8)');
  });

  it('counts the busy samples of the window only, each for the time until the next sample', () => {
    const all = callTree(profile());
    // 7 samples with a duration, 2 of them idle: 500 µs busy
    expect(all.totalUs).toBe(500);
    const self = selfTimes(all, (f) => f.name.split(' ')[0] as string);
    expect(self).toEqual([
      { key: 'stringify', us: 300 },
      { key: 'handler', us: 200 },
    ]);
    // Samples taken at 1100..1400 only: stringify, stringify, (idle), handler
    const window = callTree(profile(), 1100, 1500);
    expect(window.totalUs).toBe(300);
    expect(selfTimes(window, (f) => f.where)).toEqual([
      { key: 'safe-stable-stringify', us: 200 },
      { key: 'api/routes/calls', us: 100 },
    ]);
  });

  it('writes collapsed stacks and a flame graph with a figure per unit of work', () => {
    const tree = callTree(profile());
    expect(collapsed(tree).trim().split('\n').sort()).toEqual([
      'handler calls.js:10 [api/routes/calls] 200',
      'handler calls.js:10 [api/routes/calls];stringify index.js:2 [safe-stable-stringify] 300',
    ]);
    const svg = flameGraphSvg(tree, { title: 'a <test>', perUnit: 10, unitLabel: 'µs per pair' });
    expect(svg).toContain('a &lt;test&gt;');
    expect(svg).toContain('stringify index.js:2 [safe-stable-stringify]: 30.0 µs per pair (60.0%)');
  });
});
