// The built explorer in a real headless Chromium: URL state, numbers equal to `jauge size
// --json`, a selection change, the back button, a drawn chart, every published figure equal to
// `jauge show --json`, a malformed dropped dataset, a phone-width layout. Screenshots go to target/browser-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { serve, launch, jaugeSize, jaugeShow, jaugeBin, readFigures, readMetrics, root } from './harness.mjs';

const shots = join(root, 'target/browser-screenshots');
mkdirSync(shots, { recursive: true });
let site, browser, page;
const errors = [];

before(async () => {
  site = await serve();
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('pageerror', (e) => errors.push(String(e)));
});

after(async () => {
  await browser?.close();
  site?.stop();
});

const mixtral = ['--catalog-model', 'mixtral-8x7b-v0.1', '--gpu', 'a100-40gb', '--gpus', '2', '--quant', 'awq', '--max-model-len', '8192', '--context', '8192'];

function assertSameNumbers(shown, cli) {
  for (const field of ['fits', 'max_concurrency', 'kv_cache_tokens', 'kv_cache_blocks', 'weights_gib_per_gpu', 'kv_bytes_per_token']) {
    assert.equal(shown[field], JSON.stringify(cli[field]), field);
  }
}

test('a link with query state shows the numbers of jauge size --json', async () => {
  await page.goto(`${site.base}/?model=mixtral-8x7b-v0.1&gpu=a100-40gb&gpus=2&quant=awq`);
  await page.waitForSelector('[data-metric="max_concurrency"]');
  assertSameNumbers(await readMetrics(page), jaugeSize(mixtral));
  await page.screenshot({ path: join(shots, 'planner-mixtral-2xa100-awq.png'), fullPage: true });
});

test('changing a selection updates the numbers and the URL; back restores them', async () => {
  const before = await readMetrics(page);
  await page.selectOption('#gpu', 'h100-80gb');
  await page.waitForFunction(() => location.search.includes('gpu=h100-80gb'));
  await page.waitForFunction((old) => document.querySelector('[data-metric="max_concurrency"]').dataset.value !== old, before.max_concurrency);
  const h100 = mixtral.map((a) => (a === 'a100-40gb' ? 'h100-80gb' : a));
  assertSameNumbers(await readMetrics(page), jaugeSize(h100));
  await page.goBack();
  await page.waitForFunction(() => location.search.includes('gpu=a100-40gb'));
  await page.waitForFunction((old) => document.querySelector('[data-metric="max_concurrency"]').dataset.value === old, before.max_concurrency);
  assert.equal(await page.$eval('#gpu', (s) => s.value), 'a100-40gb');
});

test('the vLLM release selector sizes with that release\'s rules, as jauge size --engine does', async () => {
  await page.goto(`${site.base}/?model=mistral-7b-v0.1&gpu=a100-40gb&context=16384`);
  await page.waitForSelector('[data-metric="kv_cache_tokens"]');
  const today = await readMetrics(page);
  await page.selectOption('#vllm', '0.4.2');
  await page.waitForFunction(() => location.search.includes('vllm=0.4.2'));
  await page.waitForFunction((old) => document.querySelector('[data-metric="kv_cache_tokens"]').dataset.value !== old, today.kv_cache_tokens);
  const args = ['--catalog-model', 'mistral-7b-v0.1', '--gpu', 'a100-40gb', '--max-model-len', '16384', '--context', '16384'];
  assertSameNumbers(await readMetrics(page), jaugeSize([...args, '--engine', 'vllm@0.4.2']));
  assertSameNumbers(today, jaugeSize(args));
});

test('the engine selector sizes SGLang, TensorRT-LLM and llama.cpp as jauge size --engine does', async () => {
  await page.goto(`${site.base}/?model=llama-3-8b&gpu=h100-80gb&context=8192`);
  await page.waitForSelector('[data-metric="kv_cache_tokens"]');
  const args = ['--catalog-model', 'llama-3-8b', '--gpu', 'h100-80gb', '--max-model-len', '8192', '--context', '8192'];
  for (const [engine, extra] of [['sglang', []], ['trtllm', []], ['llama.cpp', ['--quant', 'gguf-q4_k_m']]]) {
    const old = (await readMetrics(page)).kv_cache_tokens;
    if (extra.length) await page.selectOption('#quant', extra[1]);
    await page.selectOption('#engine', engine);
    await page.waitForFunction((e) => location.search.includes(`engine=${e}`), engine);
    await page.waitForFunction((old) => {
      const shown = document.querySelector('[data-metric="kv_cache_tokens"]');
      return shown && shown.dataset.value !== old;
    }, old);
    const shown = await readMetrics(page);
    const cli = jaugeSize([...args, ...extra, '--engine', engine]);
    for (const field of ['fits', 'max_concurrency', 'kv_cache_tokens', 'weights_gib_per_gpu']) {
      // As numbers: the page writes 1.0 where JSON.stringify writes 1.
      assert.equal(JSON.stringify(JSON.parse(shown[field])), JSON.stringify(cli[field]), `${engine} ${field}`);
    }
  }
  assert.match(await page.textContent('.prediction'), /does not predict users for llama\.cpp/);
});

test('a deployment that does not fit says by how much and what would fit', async () => {
  await page.goto(`${site.base}/?model=llama-3-70b&gpu=a100-40gb`);
  await page.waitForSelector('[data-metric="fits"]');
  const shown = await readMetrics(page);
  assert.equal(shown.fits, 'false');
  assert.match(await page.textContent('.verdict'), /GiB per GPU short/);
  assert.match(await page.textContent('.advice'), /--gpus 4/);
});

test('a published dataset is charted on a non-blank canvas', async () => {
  await page.goto(`${site.base}/`);
  await page.waitForSelector('.datasets input[type=checkbox]');
  await page.check('.datasets input[data-file^="simulated/"] >> nth=0');
  const canvas = await page.waitForSelector('.measurements [data-chart="output_tok_s"] canvas');
  await page.waitForTimeout(200);
  const inked = await canvas.evaluate((c) => {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let coloured = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200) coloured++;
    return coloured;
  });
  assert.ok(inked > 2000, `only ${inked} inked pixels`);
  assert.match(await page.textContent('.measurements .charts'), /simulated/i);
  await page.screenshot({ path: join(shots, 'measurements.png'), fullPage: true });
});

/** Every simulated dataset, and the first published dataset of each publisher family (vLLM's
 * own, other engines', blogs) of a catalogued model and GPU (so jauge predicts it) with an
 * output throughput to chart: the whole published corpus (2,600 steps) would take minutes. */
function datasetsToCompare() {
  const entries = JSON.parse(readFileSync(join(root, 'datasets/index.json'), 'utf8')).datasets;
  const picked = entries.filter((e) => e.source !== 'published').map((e) => e.file);
  for (const family of ['published/vllm-', 'published/eng-', 'published/blog-']) {
    const file = entries.map((e) => e.file).find((f) => {
      if (!f.startsWith(family)) return false;
      const { steps, deployment } = JSON.parse(readFileSync(join(root, 'datasets', f), 'utf8'));
      const charted = steps.some((s) => s.throughput?.output_tok_s != null);
      return deployment.model.catalogue_id && deployment.gpus.catalogue_id && charted;
    });
    assert.ok(file, `a ${family}* dataset to compare`);
    picked.push(file);
  }
  return picked;
}

test('published and simulated datasets\' figures on the Measurements page are jauge show --json\'s', async () => {
  const files = datasetsToCompare();
  await page.goto(`${site.base}/`);
  await page.waitForSelector('.datasets input[type=checkbox]');
  for (const file of files) {
    await page.check(`.datasets input[data-file="${file}"]`);
    await page.waitForSelector(`table.numbers [data-dataset="${file}"]`, { state: 'attached' });
  }
  const shown = await readFigures(page);
  // Beside each published dataset the page also lists jauge's prediction of its steps.
  const predicted = shown.filter((f) => f.dataset.endsWith(' (prediction)'));
  for (const file of files.filter((f) => f.startsWith('published/'))) {
    assert.ok(predicted.some((f) => f.dataset === `${file} (prediction)`), `${file}: its prediction is listed`);
  }
  const figures = shown.filter((f) => !f.dataset.endsWith(' (prediction)'));
  const cli = jaugeShow(files);
  const compared = new Map(files.map((f) => [f, 0]));
  for (const f of figures) {
    const where = `${f.dataset} prompt ${f.prompt} users ${f.users} rate ${f.rate} ${f.metric}`;
    const steps = cli.get(f.dataset);
    assert.ok(steps, `${where}: not a published dataset`);
    const step = steps.filter((s) => s.prompt_tokens === f.prompt && s.concurrency === f.users && (s.rate_rps ?? null) === f.rate);
    assert.equal(step.length, 1, `${where}: one step in jauge show`);
    assert.ok(f.metric in step[0].metrics, `${where}: a metric jauge show knows`);
    const expected = step[0].metrics[f.metric];
    assert.equal(f.value, expected, where);
    assert.equal(f.text, expected ?? '—', `${where}: printed`);
    if (f.value !== null) compared.set(f.dataset, compared.get(f.dataset) + 1);
  }
  for (const [file, n] of compared) assert.ok(n > 0, `${file}: no figure compared`);
  // Every step of every dataset, every metric: nothing left out.
  const cells = [...cli.values()].reduce((n, steps) => n + steps.reduce((m, s) => m + Object.keys(s.metrics).length, 0), 0);
  assert.equal(figures.length, cells);
});

test('the planner draws the published measurements of the deployment beside the prediction, with their source and the model\'s held-out error', async () => {
  await page.goto(`${site.base}/?model=mistral-7b-v0.1&gpu=a100-40gb&quant=awq`);
  await page.waitForSelector('.published .sources a[data-source]');
  const sources = await page.$$eval('.published .sources a[data-source]', (as) => as.map((a) => a.href));
  assert.ok(sources.some((u) => u.startsWith('https://github.com/ZJUICI/')), sources.join(' '));
  assert.ok(sources.some((u) => u.startsWith('https://github.com/France-Travail/')), sources.join(' '));
  const legend = await page.textContent('.published [data-chart="output_tok_s"] .legend');
  assert.match(legend, /\(published\)/);
  assert.match(legend, /\(simulated\)/);
  // The same sentence jauge simulate prints for this GPU and weight format.
  const simulated = execFileSync(jaugeBin, ['simulate', '--catalog-model', 'mistral-7b-v0.1', '--gpu', 'a100-40gb', '--quant', 'awq',
    '--concurrency', '1', '--requests', '4', '--prompt-tokens', '128', '--output-tokens', '16'], { encoding: 'utf8' });
  const line = simulated.split('\n').find((l) => l.includes('checked against'));
  assert.ok(line, `jauge simulate prints a checked line:\n${simulated}`);
  const checked = (await page.textContent('.published .checked')).replace(/^The prediction was /, '').replace(/\.$/, '');
  assert.ok(line.includes(checked), `site: ${checked}\ncli: ${line}`);
  assert.match(checked, /checked against \d+ real measurements from \d+ sources? \(.*\): median error \d+ %/);
  await page.screenshot({ path: join(shots, 'planner-published-awq.png'), fullPage: true });
});

test('a malformed dropped dataset shows its error with the JSON path', async () => {
  await page.setInputFiles('#own-dataset', { name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from('{"schema": "jauge.dataset/v1", "source": "measured"}') });
  await page.waitForFunction(() => document.querySelector('#dataset-error').textContent.length > 0);
  assert.match(await page.textContent('#dataset-error'), /bad\.json: .*missing field `provenance`/);
});

test('a measured dataset is drawn with the prediction beside it', async () => {
  await page.goto(`${site.base}/`);
  await page.waitForSelector('#own-dataset');
  const measured = JSON.parse(readFileSync(join(root, 'datasets/simulated/mistral-7b-v0.3-a100-40gb.json'), 'utf8'));
  measured.source = 'measured'; // a stand-in: the page must draw a prediction beside measured points
  await page.setInputFiles('#own-dataset', { name: 'measured.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(measured)) });
  await page.waitForSelector('.measurements [data-chart="output_tok_s"] canvas');
  const legend = await page.textContent('.measurements [data-chart="output_tok_s"] .legend');
  assert.match(legend, /\(simulated\)/);
  assert.match(legend, /prompt 128(?! \(simulated\))/);
});

test('a pasted config.json is sized like jauge size --catalog-model config.json', async () => {
  const config = JSON.stringify({ architectures: ['LlamaForCausalLM'], hidden_size: 4096, num_hidden_layers: 32,
    num_attention_heads: 32, num_key_value_heads: 8, intermediate_size: 14336, vocab_size: 128256,
    max_position_embeddings: 8192, torch_dtype: 'bfloat16' });
  await page.goto(`${site.base}/?gpu=l40s`);
  await page.waitForSelector('[data-metric="max_concurrency"]');
  await page.click('details.custom summary');
  await page.fill('#config', config);
  await page.dispatchEvent('#config', 'change');
  await page.waitForFunction(() => location.search.includes('model=custom'));
  const shown = await readMetrics(page);
  const cli = jaugeSize(['--catalog-model', 'llama-3-8b', '--gpu', 'l40s', '--max-model-len', '8192', '--context', '8192']);
  for (const field of ['max_concurrency', 'kv_cache_tokens', 'weights_gib_per_gpu']) assert.equal(shown[field], JSON.stringify(cli[field]), field);
  await page.fill('#config', '{"architectures": ["FooForCausalLM"]}');
  await page.dispatchEvent('#config', 'change');
  await page.waitForFunction(() => document.querySelector('#config-error').textContent.includes('missing field'));
});

test('the prediction under load equals jauge limit --simulate', async () => {
  await page.goto(`${site.base}/?model=mistral-7b-v0.3&gpu=a100-40gb`);
  await page.waitForSelector('[data-metric="predicted_max_users"]');
  const shown = await readMetrics(page);
  const out = execFileSync(jaugeBin, ['limit', '--simulate', '--catalog-model', 'mistral-7b-v0.3',
    '--gpu', 'a100-40gb', '--max-model-len', '8192', '--slo-ttft-ms', '2000', '--slo-tpot-ms', '100', '--prompt-tokens', '1024', '--output-tokens', '256'], { encoding: 'utf8' });
  const row = out.split('\n').find((l) => l.trim().startsWith('1024'));
  assert.equal(shown.predicted_max_users, row.trim().split(/\s+/)[1]);
  assert.match(await page.textContent('.prediction'), /simulated/);
  await page.screenshot({ path: join(shots, 'prediction.png'), fullPage: true });
});

test('people served equal jauge people --json, with the workload and its assumptions editable', async () => {
  await page.goto(`${site.base}/?model=mistral-7b-v0.1&gpu=a100-40gb&workload=code&think=20`);
  await page.waitForSelector('[data-metric="people"]', { timeout: 60_000 });
  const shown = await readMetrics(page);
  const cli = JSON.parse(execFileSync(jaugeBin, ['people', '--catalog-model', 'mistral-7b-v0.1', '--gpu', 'a100-40gb',
    '--max-model-len', '8192', '--workload', 'code', '--think-s', '20', '--json'], { encoding: 'utf8' }));
  const code = cli.workloads[0];
  assert.equal(shown.people, String(code.people));
  assert.equal(Number(shown.people_in_flight), code.served.requests_in_flight);
  const text = await page.textContent('.people');
  assert.match(text, /simulated/);
  assert.match(text, /20 s between an answer and the next request/);
  // People outnumber the requests they keep in flight when they pause.
  assert.ok(Number(shown.people) > 2 * Number(shown.people_in_flight), text);
  // Choosing another workload recounts; the link keeps the edited pause (chat is the default
  // workload, which a link leaves out).
  await page.selectOption('#workload', 'chat');
  await page.waitForFunction(() => document.querySelector('.people').textContent.includes('chat workload'), null, { timeout: 60_000 });
  const query = new URL(page.url()).searchParams;
  assert.equal(query.get('workload'), null);
  assert.equal(query.get('think'), '20');
  await page.screenshot({ path: join(shots, 'people.png'), fullPage: true });
});

test('the Study page shows the five comparisons, predicted and measured side by side', async () => {
  const slug = 'mistral-7b-v0.1-1xa100-40gb-bf16';
  const seedFile = `simulated/seed/${slug}.json`;
  const predicted = JSON.parse(readFileSync(join(root, 'datasets', seedFile), 'utf8'));
  // A stand-in for a published measurement of the same deployment (none exists yet): the page
  // must put it beside the prediction.
  const index = JSON.parse(readFileSync(join(root, 'datasets/index.json'), 'utf8'));
  const standIn = { ...predicted, source: 'measured', limits: predicted.limits.map((l) => ({ ...l, max_concurrency_ok: 7 })) };
  index.datasets.push({ ...index.datasets.find((e) => e.file === seedFile), file: 'measured/stand-in.json', source: 'measured' });
  await page.route('**/datasets/index.json', (r) => r.fulfill({ json: index }));
  await page.route('**/datasets/measured/stand-in.json', (r) => r.fulfill({ json: standIn }));
  await page.goto(`${site.base}/#study-title`);
  await page.waitForSelector('[data-comparison="llama-3-70b-a100"] [data-deployment]');
  assert.equal(await page.$$eval('[data-comparison]', (els) => els.length), 5);
  const shown = await readMetrics(page);
  const users = (p) => predicted.limits.find((l) => l.prompt_tokens === p).max_concurrency_ok;
  assert.equal(Number(shown[`${slug}:users_512:predicted`]), users(512));
  assert.equal(Number(shown[`${slug}:users_2048:predicted`]), users(2048));
  assert.equal(Number(shown[`${slug}:users_2048:measured`]), 7);
  const context = predicted.context_limits.find((c) => c.concurrency === 1).max_context_tokens;
  assert.equal(Number(shown[`${slug}:context_1:predicted`]), context);
  assert.equal(Number(shown[`${slug}:weights_gib`]).toFixed(2), '13.50');
  assert.match(await page.textContent('[data-deployment="codestral-22b-v0.1-1xv100-16gb-awq"]'), /cannot run: .*compute capability 7\.5/);
  assert.match(await page.textContent('[data-deployment="mixtral-8x7b-v0.1-2xa100-40gb-bf16"]'), /cannot run: does not fit/);
  assert.match(await page.textContent('.study'), /simulated/);
  await page.locator('.study').screenshot({ path: join(shots, 'study.png') });
  await page.unrouteAll();
});

test('the page reads on a phone', async () => {
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await phone.goto(`${site.base}/?model=mistral-7b-v0.3&gpu=l4`);
  await phone.waitForSelector('[data-metric="max_concurrency"]');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the screen`);
  await phone.screenshot({ path: join(shots, 'phone.png'), fullPage: false });
  await phone.close();
  assert.deepEqual(errors, []);
});
