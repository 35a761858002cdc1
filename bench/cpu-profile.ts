// Reads a V8 .cpuprofile (node --cpu-prof) and says where a window of it
// went: self time per function and per package, collapsed stacks (the
// input of every flame-graph tool) and a flame graph as SVG, with nothing
// but Node.

/** The parts of the .cpuprofile format (Chrome DevTools protocol, Profiler.Profile) read here. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Frame {
  name: string;
  /** Where the function lives: a package (node_modules/<pkg>), node:<module>, the project's file, or a V8 pseudo-frame. */
  where: string;
}

/** A call tree with the sampled time (µs) of each node, merged by frame under each parent. */
export interface TreeNode {
  frame: Frame;
  selfUs: number;
  totalUs: number;
  children: Map<string, TreeNode>;
}

/** Which package or module a script URL belongs to. */
export function ownerOf(url: string): string {
  if (!url) return '(v8)';
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').replace(/\/.*$/, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1] as string;
  const own = /\/dist\/(.+)\.js$/.exec(url);
  return own ? (own[1] as string) : url.replace(/^file:\/\//, '');
}

function frameOf(node: CpuProfile['nodes'][number]): Frame {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\//, '');
  const name = functionName || '(anonymous)';
  return { name: url ? `${name} ${file}:${lineNumber + 1}` : name, where: ownerOf(url) };
}

const IDLE = new Set(['(idle)', '(root)']);

/**
 * The call tree of the samples taken between `fromUs` and `toUs` (the
 * profile's clock, which is the process's monotonic clock, as
 * process.hrtime in µs). Idle samples are left out: what remains is the
 * main thread's busy time.
 *
 * `weight` 'time' counts each sample for the wall time until the next one;
 * 'samples' counts each sample once. On a machine where the process waits
 * for a core, the wall time of a sample includes the wait, and it lands on
 * whatever ran last before it (often a syscall); a sample is taken only
 * while the thread runs, so counting samples is closer to CPU time.
 */
export function callTree(profile: CpuProfile, fromUs = -Infinity, toUs = Infinity, weight: 'time' | 'samples' = 'time'): TreeNode {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const root: TreeNode = { frame: { name: 'all', where: '' }, selfUs: 0, totalUs: 0, children: new Map() };
  // Sample i lasted until sample i+1 (timeDeltas[i+1] later).
  let t = profile.startTime;
  const stackCache = new Map<number, Frame[]>();
  const stackOf = (id: number): Frame[] => {
    let stack = stackCache.get(id);
    if (!stack) {
      stack = [];
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const node = byId.get(cur);
        if (node && node.callFrame.functionName !== '(root)') stack.push(frameOf(node));
      }
      stack.reverse();
      stackCache.set(id, stack);
    }
    return stack;
  };
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const interval = profile.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t >= toUs || interval <= 0) continue;
    const duration = weight === 'time' ? interval : 1;
    const stack = stackOf(profile.samples[i] as number);
    if (stack.length === 0 || IDLE.has((stack[stack.length - 1] as Frame).name)) continue;
    let node = root;
    node.totalUs += duration;
    for (const frame of stack) {
      const key = `${frame.name}\u0000${frame.where}`;
      let child = node.children.get(key);
      if (!child) node.children.set(key, (child = { frame, selfUs: 0, totalUs: 0, children: new Map() }));
      child.totalUs += duration;
      node = child;
    }
    node.selfUs += duration;
  }
  return root;
}

/** The parts of a request's cost a reader asks about, by where the code lives. */
const CATEGORIES: [string, RegExp][] = [
  ['logging (winston, logform, safe-stable-stringify)', /^(winston|winston-transport|logform|safe-stable-stringify|readable-stream|triple-beam|@colors\/colors|fecha|@dabh\/diagnostics|one-time|stack-trace|fn\.name)$/],
  ['Express (app, router, request/response helpers)', /^(express|router|body-parser|raw-body|iconv-lite|parseurl|type-is|content-type|media-typer|mime-types|mime-db|on-finished|finalhandler|path-to-regexp|encodeurl|escape-html|depd|vary|proxy-addr|forwarded|accepts|negotiator|fresh|range-parser|cookie|cookie-signature|statuses|http-errors|setprototypeof|qs|bytes|content-disposition|merge-descriptors|send|serve-static|etag|ee-first|unpipe|utils-merge|is-promise|debug|ms)$/],
  ['metrics (prom-client)', /^(prom-client|tdigest|bintrees)$/],
  ['validation (ajv)', /^(ajv|fast-deep-equal|json-schema-traverse|fast-uri|require-from-string)$/],
  ['Redis client (ioredis)', /^(ioredis|redis-parser|redis-errors|@ioredis\/.*|standard-as-callback|cluster-key-slot|denque|lodash\..*)$/],
  ['tracing API (@opentelemetry)', /^@opentelemetry\//],
  ['smart-router code (api/, core/, lua/, cli/)', /^(api|core|lua|cli|operator)\//],
  ['Node: HTTP, sockets, streams, timers', /^node:/],
];

/** Self time by {@link CATEGORIES}; socket writes (the syscalls) and the garbage collector on their own. */
export function categoryOf(frame: Frame): string {
  if (frame.where === '(v8)') {
    if (/^(writeUtf8String|writev|writeBuffer|writeLatin1String|writeAsciiString|writeString|writeUcs2String)\b/.test(frame.name)) return 'socket and stdout writes (syscalls)';
    if (frame.name.startsWith('(garbage collector)')) return 'garbage collector';
    return 'V8 and other native code';
  }
  for (const [name, owners] of CATEGORIES) if (owners.test(frame.where)) return name;
  return `other: ${frame.where}`;
}

/** Multiplies every figure of the tree by `factor` (e.g. from samples to µs of CPU). */
export function scaleTree(node: TreeNode, factor: number): void {
  node.selfUs *= factor;
  node.totalUs *= factor;
  for (const child of node.children.values()) scaleTree(child, factor);
}

export interface SelfTime {
  key: string;
  us: number;
}

/** Self time summed by `keyOf` over the whole tree, largest first. */
export function selfTimes(root: TreeNode, keyOf: (f: Frame) => string): SelfTime[] {
  const sums = new Map<string, number>();
  const walk = (n: TreeNode) => {
    if (n.selfUs > 0) sums.set(keyOf(n.frame), (sums.get(keyOf(n.frame)) ?? 0) + n.selfUs);
    for (const c of n.children.values()) walk(c);
  };
  walk(root);
  return [...sums].map(([key, us]) => ({ key, us })).sort((a, b) => b.us - a.us);
}

/**
 * Inclusive time of the first frame on each stack that belongs to one of
 * `owners` (e.g. everything winston does, wherever it was called from),
 * so a library's cost is counted once even when it calls itself.
 */
export function inclusiveByOwner(root: TreeNode, owners: readonly string[]): Map<string, number> {
  const sums = new Map<string, number>();
  const walk = (n: TreeNode) => {
    if (owners.includes(n.frame.where)) {
      sums.set(n.frame.where, (sums.get(n.frame.where) ?? 0) + n.totalUs);
      return;
    }
    for (const c of n.children.values()) walk(c);
  };
  walk(root);
  return sums;
}

/** Brendan Gregg's collapsed-stack format: `a;b;c <µs>` per distinct stack. */
export function collapsed(root: TreeNode): string {
  const lines: string[] = [];
  const walk = (n: TreeNode, path: string[]) => {
    if (n.selfUs > 0 && path.length) lines.push(`${path.join(';')} ${Math.round(n.selfUs)}`);
    for (const c of n.children.values()) walk(c, [...path, `${c.frame.name} [${c.frame.where}]`.replace(/;/g, ',')]);
  };
  walk(root, []);
  return lines.join('\n') + '\n';
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One colour family per kind of code (project, package, Node, V8), one hue per package within it. */
function colourOf(where: string): string {
  let h = 0;
  for (const ch of where) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  if (where.startsWith('node:')) return `hsl(${200 + (h % 30)},55%,70%)`;
  if (where.startsWith('(')) return 'hsl(0,0%,75%)';
  if (/^(api|core|lua|cli|operator|bench)\//.test(where)) return `hsl(${20 + (h % 25)},85%,60%)`;
  return `hsl(${90 + (h % 60)},50%,60%)`;
}

/**
 * A flame graph (root at the bottom) as a self-contained SVG. Frames
 * narrower than `minWidthPx` are left out, which keeps the file small; a
 * frame's tooltip gives its time per unit (`unitLabel`, e.g. µs per pair).
 */
export function flameGraphSvg(root: TreeNode, options: { title: string; perUnit: number; unitLabel: string; width?: number; minWidthPx?: number }): string {
  const width = options.width ?? 1200;
  const minWidth = options.minWidthPx ?? 0.5;
  const rowHeight = 16;
  const top = 40;
  const scale = (width - 20) / Math.max(1, root.totalUs);
  const rects: string[] = [];
  let depthMax = 0;
  const place = (n: TreeNode, x: number, depth: number) => {
    depthMax = Math.max(depthMax, depth);
    const w = n.totalUs * scale;
    rects.push(`${depth}|${x}|${w}|${n.frame.name}|${n.frame.where}|${n.totalUs}`);
    let cx = x;
    for (const c of [...n.children.values()].sort((a, b) => a.frame.name.localeCompare(b.frame.name))) {
      if (c.totalUs * scale >= minWidth) place(c, cx, depth + 1);
      cx += c.totalUs * scale;
    }
  };
  place(root, 10, 0);
  const height = top + (depthMax + 1) * rowHeight + 10;
  const body = rects.map((r) => {
    const [d, x, w, name, where, total] = r.split('|') as [string, string, string, string, string, string];
    const y = height - 10 - (Number(d) + 1) * rowHeight;
    const per = Number(total) / options.perUnit;
    const pct = (Number(total) / root.totalUs) * 100;
    const label = Number(w) > 30 ? escapeXml(name.slice(0, Math.floor(Number(w) / 7))) : '';
    const tip = `${escapeXml(name)} [${escapeXml(where)}]: ${per.toFixed(1)} ${options.unitLabel} (${pct.toFixed(1)}%)`;
    return `<g><title>${tip}</title><rect x="${Number(x).toFixed(1)}" y="${y}" width="${Number(w).toFixed(1)}" height="${rowHeight - 1}" fill="${colourOf(where)}"/>${label ? `<text x="${(Number(x) + 3).toFixed(1)}" y="${y + 11}">${label}</text>` : ''}</g>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fdfdf6"/>`,
    `<text x="10" y="20" font-size="14">${escapeXml(options.title)}</text>`,
    `<text x="10" y="34" fill="#555">width: share of the main thread's busy samples (${(root.totalUs / options.perUnit).toFixed(1)} ${escapeXml(options.unitLabel)} in all); hover a frame for its figure</text>`,
    ...body,
    '</svg>',
  ].join('\n');
}
