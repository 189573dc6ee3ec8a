// What weighs in the explorer's WebAssembly: the code of the size-first build before wasm-opt
// (its function names are still there), summed by crate, and the largest functions.
// node wasm-parts.mjs [path.wasm]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './harness.mjs';

const path = process.argv[2] ?? join(root, 'target/wasm32-unknown-unknown/wasm-release/jauge_explorer.wasm');
const d = readFileSync(path);
let i = 8;
const leb = () => {
  let r = 0, s = 0, b;
  do { b = d[i++]; r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80);
  return r;
};
const sizes = [];
const names = new Map();
const sections = new Map();
let imported = 0;
while (i < d.length) {
  const id = d[i++];
  const len = leb();
  const end = i + len;
  let label = `section ${id}`;
  if (id === 2) {
    for (let n = leb(); n > 0; n--) {
      i += leb(); i += leb();
      const kind = d[i++];
      if (kind === 0) { leb(); imported++; }
      else if (kind === 1) { i++; const f = leb(); leb(); if (f & 1) leb(); }
      else if (kind === 2) { const f = leb(); leb(); if (f & 1) leb(); }
      else if (kind === 3) i += 2;
    }
  } else if (id === 10) {
    label = 'code';
    for (let n = leb(); n > 0; n--) { const s = leb(); sizes.push(s); i += s; }
  } else if (id === 11) {
    label = 'data';
  } else if (id === 0) {
    const l = leb();
    const name = d.subarray(i, i + l).toString();
    label = `custom ${name}`;
    i += l;
    if (name === 'name') {
      while (i < end) {
        const sub = d[i++];
        const sl = leb();
        const subEnd = i + sl;
        if (sub === 1) {
          for (let n = leb(); n > 0; n--) {
            const index = leb();
            const l2 = leb();
            names.set(index, d.subarray(i, i + l2).toString());
            i += l2;
          }
        }
        i = subEnd;
      }
    }
  }
  sections.set(label, (sections.get(label) ?? 0) + len);
  i = end;
}
const crates = ['serde_json', 'serde_path_to_error', 'serde_core', 'reactive_graph', 'tachys', 'leptos',
  'plotters', 'jauge_chart', 'jauge_explorer', 'jauge', 'wasm_bindgen', 'js_sys', 'web_sys', 'gloo',
  'hashbrown', 'dlmalloc', 'futures', 'alloc', 'core'];
const byCrate = new Map();
const fns = sizes.map((s, k) => [s, names.get(imported + k) ?? '?']);
for (const [s, n] of fns) {
  const c = crates.find((c) => n.includes(c)) ?? 'other';
  byCrate.set(c, (byCrate.get(c) ?? 0) + s);
}
const kib = (n) => `${(n / 1024).toFixed(0).padStart(6)} KiB`;
console.log(`${path}: ${kib(d.length)} before wasm-opt`);
for (const [k, v] of [...sections].sort((a, b) => b[1] - a[1]).slice(0, 4)) console.log(`  ${kib(v)}  ${k}`);
console.log('code by crate (a function counts for the first crate its name mentions):');
for (const [k, v] of [...byCrate].sort((a, b) => b[1] - a[1])) console.log(`  ${kib(v)}  ${k}`);
console.log('largest functions:');
for (const [s, n] of fns.sort((a, b) => b[0] - a[0]).slice(0, 12)) console.log(`  ${kib(s)}  ${n.slice(0, 110)}`);
