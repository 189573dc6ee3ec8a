// Serves dist/ on loopback and opens Debian's Chromium through playwright-core (which brings
// no browser of its own). Shared by the test and the benchmark.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const root = new URL('../../', import.meta.url).pathname;
const dist = join(root, 'dist');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json' };

/** Starts a static server for dist/; resolves to its base URL and a stop function. */
export async function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dist, path.endsWith('/') ? join(path, 'index.html') : path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { base: `http://127.0.0.1:${server.address().port}`, stop: () => server.close() };
}

/** Headless Chromium with the flags this closed network needs. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** The jauge binary the page is compared with. */
export const jaugeBin = process.env.JAUGE_BIN ?? join(root, 'target/debug/jauge');

/** `jauge size --json` for the planner's selection (context = max-model-len, as the planner sizes). */
export function jaugeSize(args) {
  return JSON.parse(execFileSync(jaugeBin, ['size', ...args, '--json'], { encoding: 'utf8' }));
}

/** `jauge show --json` of published datasets (file names as datasets/index.json lists them):
 * a map from file name to its steps, each `{prompt_tokens, concurrency, rate_rps, metrics: {slug: text | null}}`. */
export function jaugeShow(files) {
  const out = execFileSync(jaugeBin, ['show', '--json', ...files.map((f) => join(root, 'datasets', f))], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const shown = out.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  assert.equal(shown.length, files.length, 'one object per file');
  return new Map(files.map((f, i) => [f, shown[i].steps]));
}

/** Every step figure in the Measurements page's numbers table, with the step it belongs to. */
export function readFigures(page) {
  return page.$$eval('table.numbers [data-metric][data-dataset]', (els) => els.map((e) => ({
    dataset: e.dataset.dataset, prompt: Number(e.dataset.promptTokens), users: Number(e.dataset.concurrency),
    rate: e.dataset.rateRps === undefined ? null : Number(e.dataset.rateRps),
    metric: e.dataset.metric, value: e.dataset.value ?? null, text: e.textContent,
  })));
}

/** The planner's headline numbers as the page shows them (data-metric / data-value). */
export function readMetrics(page) {
  return page.$$eval('[data-metric]', (els) => Object.fromEntries(els.map((e) => [e.dataset.metric, e.dataset.value])));
}
