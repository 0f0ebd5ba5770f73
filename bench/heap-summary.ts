/**
 * Summarises a V8 .heapsnapshot: self size and count by constructor (node type and name), and for
 * the largest groups, who holds them (the constructor and edge name of their first retainer).
 *
 *   node --max-old-space-size=8192 --import tsx bench/heap-summary.ts FILE.heapsnapshot [top groups, default 40]
 *        [retainer groups, default 12] [group to show retainer chains of, e.g. object:Uint8Array] [chain depth, default 3]
 *        [constructors to show retained sizes of, comma-separated, e.g. DiscoveryImpl,Connection,SignedGossipMessage]
 *
 * A helper for bench/sim-memory.ts; reads the snapshot's JSON (nodes, edges, strings).
 */
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const file = process.argv[2];
if (file === undefined) throw new Error("usage: heap-summary.ts FILE.heapsnapshot [top] [retainer groups]");
const top = Number(process.argv[3] ?? "40");
const retainerGroups = Number(process.argv[4] ?? "12");
const s = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
const nf = s.snapshot.meta.node_fields;
const ef = s.snapshot.meta.edge_fields;
const nodeTypes = s.snapshot.meta.node_types[0];
const edgeTypes = s.snapshot.meta.edge_types[0];
const N = nf.length;
const E = ef.length;
const iType = nf.indexOf("type");
const iName = nf.indexOf("name");
const iSize = nf.indexOf("self_size");
const iEdges = nf.indexOf("edge_count");
const eType = ef.indexOf("type");
const eName = ef.indexOf("name_or_index");
const eTo = ef.indexOf("to_node");
const nodeCount = s.nodes.length / N;

function groupOf(n: number): string {
  const t = nodeTypes[s.nodes[n * N + iType]!]!;
  const name = s.strings[s.nodes[n * N + iName]!]!;
  if (t === "object" || t === "native" || t === "closure" || t === "hidden" || t === "array" || t === "code") return `${t}:${name.slice(0, 60)}`;
  return t;
}

const groups = new Map<string, { size: number; count: number }>();
for (let n = 0; n < nodeCount; n++) {
  const g = groupOf(n);
  const e = groups.get(g) ?? { size: 0, count: 0 };
  e.size += s.nodes[n * N + iSize]!;
  e.count++;
  groups.set(g, e);
}
let total = 0;
for (const v of groups.values()) total += v.size;
const sorted = [...groups.entries()].sort((a, b) => b[1].size - a[1].size).slice(0, top);
process.stdout.write(`total self size ${(total / 2 ** 20).toFixed(1)} MB in ${nodeCount} nodes\n`);
for (const [g, v] of sorted) process.stdout.write(`${(v.size / 2 ** 20).toFixed(1).padStart(8)} MB ${String(v.count).padStart(9)}  ${(v.size / v.count).toFixed(0).padStart(6)} B  ${g}\n`);

// First retainer of every node (the first edge found pointing at it, weak edges aside).
const firstRetainer = new Int32Array(nodeCount).fill(-1);
const retainerEdge = new Int32Array(nodeCount).fill(-1);
let edgeIndex = 0;
for (let n = 0; n < nodeCount; n++) {
  const count = s.nodes[n * N + iEdges]!;
  for (let k = 0; k < count; k++, edgeIndex++) {
    const t = edgeTypes[s.edges[edgeIndex * E + eType]!]!;
    if (t === "weak" || t === "shortcut") continue;
    const to = s.edges[edgeIndex * E + eTo]! / N;
    if (firstRetainer[to] === -1) {
      firstRetainer[to] = n;
      retainerEdge[to] = edgeIndex;
    }
  }
}
function edgeLabel(e: number): string {
  const t = edgeTypes[s.edges[e * E + eType]!]!;
  const v = s.edges[e * E + eName]!;
  return t === "element" || t === "hidden" ? `[${t}]` : (s.strings[v] ?? String(v));
}
for (const [g] of sorted.slice(0, retainerGroups)) {
  const by = new Map<string, number>();
  for (let n = 0; n < nodeCount; n++) {
    if (groupOf(n) !== g) continue;
    const r = firstRetainer[n]!;
    const key = r < 0 ? "(root)" : `${groupOf(r)} .${edgeLabel(retainerEdge[n]!)}`;
    by.set(key, (by.get(key) ?? 0) + s.nodes[n * N + iSize]!);
  }
  process.stdout.write(`\n${g} held by:\n`);
  for (const [k, v] of [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8)) process.stdout.write(`${(v / 2 ** 20).toFixed(1).padStart(8)} MB  ${k}\n`);
}

// Optional: retainer chains (3 levels) of one group, e.g. "object:Uint8Array".
const chainGroup = process.argv[5];
if (chainGroup !== undefined) {
  const depth = Number(process.argv[6] ?? "3");
  const by = new Map<string, { size: number; count: number }>();
  for (let n = 0; n < nodeCount; n++) {
    if (groupOf(n) !== chainGroup) continue;
    const parts: string[] = [];
    let cur = n;
    for (let d = 0; d < depth; d++) {
      const r = firstRetainer[cur]!;
      if (r < 0) break;
      parts.push(`.${edgeLabel(retainerEdge[cur]!)} <- ${groupOf(r)}`);
      cur = r;
    }
    const key = parts.join(" ");
    const e = by.get(key) ?? { size: 0, count: 0 };
    e.size += s.nodes[n * N + iSize]!;
    e.count++;
    by.set(key, e);
  }
  process.stdout.write(`\n${chainGroup} by retainer chain:\n`);
  for (const [k, v] of [...by.entries()].sort((a, b) => b[1].size - a[1].size).slice(0, 25)) process.stdout.write(`${(v.size / 2 ** 20).toFixed(2).padStart(8)} MB ${String(v.count).padStart(8)}  ${k}\n`);
}

// Optional: retained sizes (dominator tree, Cooper-Harvey-Kennedy) of every object of the named
// constructors, comma-separated in argument 7, e.g. "DiscoveryImpl,GossipChannelImpl,Connection".
const retainedNames = process.argv[7];
if (retainedNames !== undefined) {
  // Successor lists, skipping weak edges.
  const firstEdge = new Int32Array(nodeCount + 1);
  for (let n = 0, e = 0; n < nodeCount; n++) {
    firstEdge[n] = e;
    e += s.nodes[n * N + iEdges]!;
    firstEdge[n + 1] = e;
  }
  const succ = (n: number, f: (to: number) => void): void => {
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e++) {
      const t = edgeTypes[s.edges[e * E + eType]!]!;
      if (t === "weak") continue;
      f(s.edges[e * E + eTo]! / N);
    }
  };
  // Reverse postorder from the root (node 0), iteratively.
  const order = new Int32Array(nodeCount).fill(-1);
  const post: number[] = [];
  const visited = new Uint8Array(nodeCount);
  const stack: number[] = [0];
  const edgePos = new Int32Array(nodeCount);
  visited[0] = 1;
  edgePos[0] = firstEdge[0]!;
  while (stack.length > 0) {
    const n = stack[stack.length - 1]!;
    let pushed = false;
    while (edgePos[n]! < firstEdge[n + 1]!) {
      const e = edgePos[n]!;
      edgePos[n] = e + 1;
      if (edgeTypes[s.edges[e * E + eType]!]! === "weak") continue;
      const to = s.edges[e * E + eTo]! / N;
      if (visited[to] === 0) {
        visited[to] = 1;
        edgePos[to] = firstEdge[to]!;
        stack.push(to);
        pushed = true;
        break;
      }
    }
    if (!pushed) {
      stack.pop();
      order[n] = post.length;
      post.push(n);
    }
  }
  const preds: number[][] = Array.from({ length: nodeCount }, () => []);
  for (let n = 0; n < nodeCount; n++) if (visited[n] === 1) succ(n, (to) => preds[to]!.push(n));
  const idom = new Int32Array(nodeCount).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (order[a]! < order[b]!) a = idom[a]!;
      while (order[b]! < order[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = post.length - 2; i >= 0; i--) {
      const n = post[i]!;
      let d = -1;
      for (const p of preds[n]!) {
        if (idom[p] === -1) continue;
        d = d === -1 ? p : intersect(p, d);
      }
      if (d !== -1 && idom[n] !== d) {
        idom[n] = d;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(nodeCount);
  for (const n of post) retained[n]! += s.nodes[n * N + iSize]!;
  for (const n of post) if (n !== 0) retained[idom[n]!]! += retained[n]!;
  const wanted = new Set(retainedNames.split(","));
  const nameOf = (n: number): string => s.strings[s.nodes[n * N + iName]!]!;
  const isObj = (n: number): boolean => nodeTypes[s.nodes[n * N + iType]!] === "object";
  const by = new Map<string, { size: number; count: number }>();
  for (const n of post) {
    if (!isObj(n) || !wanted.has(nameOf(n))) continue;
    // Skip instances dominated by another wanted instance (counted there).
    let d = idom[n]!;
    let nested = false;
    while (d !== 0) {
      if (isObj(d) && wanted.has(nameOf(d))) {
        nested = true;
        break;
      }
      d = idom[d]!;
    }
    if (nested) continue;
    const e = by.get(nameOf(n)) ?? { size: 0, count: 0 };
    e.size += retained[n]!;
    e.count++;
    by.set(nameOf(n), e);
  }
  process.stdout.write(`\nretained (outermost of the named only), of ${(retained[0]! / 2 ** 20).toFixed(1)} MB reachable:\n`);
  for (const [k, v] of [...by.entries()].sort((a, b) => b[1].size - a[1].size)) process.stdout.write(`${(v.size / 2 ** 20).toFixed(2).padStart(8)} MB ${String(v.count).padStart(8)}  ${k}\n`);
  // What each named constructor's objects hold: self sizes of the nodes they dominate, by group
  // and by the field of their nearest named owner they hang from.
  const owner = new Int32Array(nodeCount).fill(-2);
  const ownerOf = (n: number): number => {
    const path: number[] = [];
    let cur = n;
    let found = -1;
    while (cur !== 0) {
      if (owner[cur] !== -2) {
        found = owner[cur]!;
        break;
      }
      path.push(cur);
      const d = idom[cur]!;
      if (d === -1) break;
      if (isObj(d) && wanted.has(nameOf(d))) {
        found = d;
        break;
      }
      cur = d;
    }
    for (const p of path) owner[p] = found;
    return found;
  };
  const detail = new Map<string, Map<string, number>>();
  for (const n of post) {
    if (n === 0) continue;
    const o = ownerOf(n);
    const k = o < 0 ? "(none of the named)" : nameOf(o);
    const m = detail.get(k) ?? new Map<string, number>();
    detail.set(k, m);
    const g = groupOf(n);
    m.set(g, (m.get(g) ?? 0) + s.nodes[n * N + iSize]!);
  }
  for (const [k, m] of detail) {
    process.stdout.write(`\n${k} holds:\n`);
    for (const [g, v] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)) process.stdout.write(`${(v / 2 ** 20).toFixed(2).padStart(8)} MB  ${g}\n`);
  }
}
