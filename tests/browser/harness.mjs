// Serves dist/ on loopback and opens Debian's Chromium through playwright-core (which brings
// no browser of its own). Shared by the test and the benchmark.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { execFileSync } from 'node:child_process';
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

/** `jauge size --json` for the planner's selection (context = max-model-len, as the planner sizes). */
export function jaugeSize(args) {
  const bin = process.env.JAUGE_BIN ?? join(root, 'target/debug/jauge');
  return JSON.parse(execFileSync(bin, ['size', ...args, '--json'], { encoding: 'utf8' }));
}

/** The planner's headline numbers as the page shows them (data-metric / data-value). */
export function readMetrics(page) {
  return page.$$eval('[data-metric]', (els) => Object.fromEntries(els.map((e) => [e.dataset.metric, e.dataset.value])));
}
