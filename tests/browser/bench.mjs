// Benchmark (not a test) of the built explorer: the .wasm's gzip size, the time from
// navigation to the planner's first numbers, and the time to redraw after a selection
// change, as medians over several runs in Debian's headless Chromium.
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { serve, launch, root } from './harness.mjs';

const RUNS = 7;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const wasm = readdirSync(join(root, 'dist')).find((f) => f.endsWith('.wasm'));
const bytes = readFileSync(join(root, 'dist', wasm));
const gzip = gzipSync(bytes, { level: 9 }).length;

const site = await serve();
const browser = await launch();
const firstNumbers = [];
const wasmLoads = [];
const redraws = [];
for (let i = 0; i < RUNS; i++) {
  const page = await browser.newPage();
  // The browser's own record of when the planner's first number was painted, in ms after the
  // navigation started (Element Timing: `elementtiming="first-numbers"` on the page).
  await page.addInitScript(() => {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.identifier === 'first-numbers') window.firstNumbersMs ??= e.renderTime;
    }).observe({ type: 'element', buffered: true });
  });
  await page.goto(`${site.base}/?model=mixtral-8x7b-v0.1&gpu=a100-40gb&gpus=2&quant=awq`);
  await page.waitForFunction(() => window.firstNumbersMs !== undefined);
  firstNumbers.push(await page.evaluate(() => window.firstNumbersMs));
  wasmLoads.push(await page.evaluate(() => performance.getEntriesByType('resource').find((e) => e.name.endsWith('.wasm')).responseEnd));
  for (const gpu of ['h100-80gb', 'a100-40gb']) {
    const old = await page.$eval('[data-metric="max_concurrency"]', (e) => e.dataset.value);
    const t = await page.evaluate(async ([gpu, old]) => {
      const select = document.querySelector('#gpu');
      const t0 = performance.now();
      select.value = gpu;
      select.dispatchEvent(new Event('change', { bubbles: true }));
      while (document.querySelector('[data-metric="max_concurrency"]').dataset.value === old) {
        await new Promise((r) => requestAnimationFrame(r));
      }
      return performance.now() - t0;
    }, [gpu, old]);
    redraws.push(t);
  }
  await page.close();
}
const simPage = await browser.newPage();
await simPage.goto(`${site.base}/`);
await simPage.waitForFunction(() => window.wasmBindings && window.wasmBindings.bench_simulate_ms);
const simRuns = [];
for (let i = 0; i < 5; i++) simRuns.push(await simPage.evaluate(() => window.wasmBindings.bench_simulate_ms()));
await browser.close();
site.stop();

console.log(`wasm: ${(bytes.length / 1024).toFixed(0)} KiB, gzip -9: ${(gzip / 1024).toFixed(0)} KiB`);
console.log(`navigation → first planner numbers painted: median ${median(firstNumbers).toFixed(0)} ms over ${RUNS} loads (goal ≤ 150 ms; the wasm itself arrived after a median ${median(wasmLoads).toFixed(0)} ms)`);
console.log(`simulator in the browser, 10,000 requests at concurrency 256: median ${median(simRuns).toFixed(1)} ms (goal < 300 ms)`);
console.log(`selection change → new numbers (incl. the ranking of 48 configurations): median ${median(redraws).toFixed(1)} ms over ${redraws.length} changes`);
