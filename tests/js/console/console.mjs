// End-to-end scenarios of the operator console in a real browser: Debian's headless Chromium driven by
// playwright-core (no browser download). Run by tests/test_console_e2e.py against a live server:
//
//   node console.mjs <scenario> <base url> <screenshot.png> '<json arguments>'
//
// Each scenario drives the console as a person would (logging in through its form, filling filters,
// clicking) and prints, as JSON on stdout, what the page showed; pytest compares that with the API's own
// answers. A failing scenario exits 1 after saving its screenshot, so the broken page can be looked at.
import { chromium } from 'playwright-core';

const [scenario, base, screenshot, rawArgs] = process.argv.slice(2);
const args = JSON.parse(rawArgs || '{}');
const TIMEOUT = 15000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
// A laptop's window, or a phone's (390×844, as an iPhone 12 to 15 shows pages).
const screen = args.phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }
  : { viewport: { width: 1280, height: 900 } };
const context = await browser.newContext({ acceptDownloads: true, ...screen });
const page = await context.newPage();
page.setDefaultTimeout(TIMEOUT);
// Everything must come from the service itself: any other request fails the scenario.
const foreign = [];
const consoleErrors = [];
page.on('request', (request) => { if (!request.url().startsWith(base) && !request.url().startsWith('blob:')) foreign.push(request.url()); });
page.on('pageerror', (error) => consoleErrors.push(String(error)));
page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });

async function logIn(username, password) {
  await page.goto(`${base}/console/${args.hash || ''}`);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#main[data-ready] h1').first().waitFor();
}

// The page is drawn once main carries data-ready for the current hash.
async function settled(hashPrefix) {
  await page.waitForFunction((prefix) => {
    const main = document.getElementById('main');
    return main.dataset.ready && main.dataset.ready.startsWith(prefix) && main.dataset.ready === (location.hash || '#/');
  }, hashPrefix);
}

const cells = (selector) => page.$$eval(`${selector} tbody tr`, (rows) => rows.map((row) =>
  [...row.children].map((cell) => cell.textContent.trim())));

// The event list's Space and Organization cells: the text shown, and the guid on hover.
const places = () => page.$$eval('#event-table tbody tr', (rows) => rows.map((row) => [4, 5].map((i) => ({
  text: row.children[i]?.textContent.trim() ?? null, title: row.children[i]?.querySelector('[title]')?.title ?? null }))));

// The texts of these SVGs that reach outside their viewBox, where the SVG cuts them off; and how many there are.
const chartTexts = (selector) => page.$$eval(`${selector} text`, (texts) => ({ count: texts.length,
  cut: texts.filter((text) => {
    const box = text.getBBox(), view = text.ownerSVGElement.viewBox.baseVal;
    return box.x < view.x || box.y < view.y || box.x + box.width > view.x + view.width || box.y + box.height > view.y + view.height;
  }).map((text) => text.textContent) }));

// The events filter form as laid out: how wide the type select is, and how wide it would be to show its
// chosen option and its longest one whole (copies sized by their content); each control's box.
const filterForm = () => page.evaluate(() => {
  const select = document.getElementById('f-type');
  const needs = (options) => {
    const copy = document.createElement('select');
    copy.append(...options.map((option) => new Option(option.textContent)));
    copy.style.cssText = 'position: absolute; visibility: hidden; width: auto; max-width: none';
    select.after(copy);
    const width = copy.getBoundingClientRect().width;
    copy.remove();
    return width;
  };
  const box = (element) => { const r = element.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom }; };
  return { select: select.getBoundingClientRect().width, chosen: needs([...select.selectedOptions]), longest: needs([...select.options]),
    controls: Object.fromEntries([...document.querySelectorAll('#event-filters :is(select, input, button, a)')]
      .map((control) => [control.id || control.textContent, box(control)])) };
});

// The focused element and its outline, as drawn.
const focusRing = () => page.evaluate(() => {
  const style = getComputedStyle(document.activeElement);
  return { focused: document.activeElement.tagName, outline: style.outlineStyle === 'none' ? 'none' : `${style.outlineWidth} ${style.outlineStyle}` };
});

const scenarios = {
  async overview() {
    await logIn(args.username, args.password);
    await settled('#/');
    await page.locator('#overview-total').waitFor();
    return {
      heading: await page.locator('h1').textContent(),
      total: Number(await page.locator('#overview-total').getAttribute('data-value')),
      crashes: Number(await page.locator('#overview-crashes').getAttribute('data-value')),
      top: (await page.$$eval('#top-crashes tbody tr', (rows) => rows.map((row) => ({
        name: row.querySelector('th').textContent.trim(), href: row.querySelector('a')?.getAttribute('href'),
        ...Object.fromEntries([['space', 1], ['org', 2]].map(([key, i]) => [key,
          { text: row.children[i]?.textContent ?? null, title: row.children[i]?.querySelector('[title]')?.title ?? null }])),
        count: Number(row.children[3]?.textContent.replace(/,/g, '')),
        sparkline: row.querySelector('svg')?.getAttribute('aria-label') })))),
      latest: await cells('#latest-crash-table'),
      bars: await page.locator('svg.chart rect').count(),
      user: await page.locator('#who').textContent(),
    };
  },

  async events() {
    await logIn(args.username, args.password);
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await settled('#/events');
    await page.getByLabel('Type').selectOption(args.type);
    await page.getByLabel('App (name or guid)').fill(args.app);
    await page.getByRole('button', { name: 'Filter' }).click();
    await settled('#/events?');
    await page.locator('#event-table').waitFor();
    const first = { hash: await page.evaluate(() => location.hash), position: await page.locator('#page-position').first().textContent(),
      rows: await cells('#event-table') };
    await page.getByRole('link', { name: 'Older →' }).first().click();
    await settled('#/events?');
    await page.waitForFunction(() => document.querySelector('#page-position')?.textContent.startsWith('Page 2'));
    const second = { hash: await page.evaluate(() => location.hash), position: await page.locator('#page-position').first().textContent(),
      rows: await cells('#event-table') };
    // The filters live in the URL: a fresh tab given the link (and a login) shows the same page.
    await page.reload();
    await settled('#/events?');
    await page.locator('#event-table').waitFor();
    const reloaded = { rows: await cells('#event-table'), typeChosen: await page.getByLabel('Type').inputValue() };
    const form = await filterForm();
    // The heading a page moves to: ringed after a key, not on a page just opened, nor after a click.
    const rings = { opened: await focusRing() };
    await page.getByRole('link', { name: 'Overview', exact: true }).focus();
    await page.keyboard.press('Enter');
    await settled('#/');
    rings.keyboard = await focusRing();
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await settled('#/events');
    await page.locator('#event-table').waitFor();
    rings.mouse = await focusRing();
    // Back to the filtered list, for the screenshot.
    await page.evaluate((hash) => { location.hash = hash; }, second.hash);
    await settled('#/events?');
    await page.locator('#event-table').waitFor();
    return { first, second, reloaded, form, rings };
  },

  async event() {
    await logIn(args.username, args.password);
    await page.goto(`${base}/console/#/events?type=${args.type}`);
    await settled('#/events?');
    await page.locator('#event-table').waitFor();
    const listed = await places();
    // More guids than one request asks for (the list's own, and ones nobody knows): how namesOf batches them.
    const asked = [];
    const count = (request) => { if (request.url().includes('/v3/spaces?')) asked.push(new URL(request.url()).searchParams.get('guids').split(',').length); };
    page.on('request', count);
    const looked = await page.evaluate(async (guids) => Object.fromEntries(await (await import('/console/api.js')).namesOf('spaces', guids)),
      [...listed.map(([space]) => space.title), ...args.unknownGuids]);
    page.off('request', count);
    await page.locator('#event-table tbody a').first().click();
    await settled('#/events/');
    await page.locator('#event-metadata').waitFor();
    return {
      hash: await page.evaluate(() => location.hash),
      heading: await page.locator('h1').textContent(),
      metadata: JSON.parse(await page.locator('#event-metadata').textContent()),
      before: await cells('#before'), after: await cells('#after'), listed, asked, looked,
      details: await page.$$eval('.details dt', (terms) => Object.fromEntries(terms.map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))),
    };
  },

  async timeline() {
    await logIn(args.username, args.password);
    await page.goto(`${base}/console/#/apps/${args.app}`);
    await settled('#/apps/');
    await page.locator('svg.timeline').waitFor();
    const crashes = await page.$$eval('svg.timeline a.crash-mark', (links) => links.map((a) => ({
      label: a.getAttribute('aria-label'), href: a.getAttribute('href') })));
    const spans = await page.locator('svg.timeline rect.span').count();
    // The time axis: its labels side by side, none running into another, all inside the chart.
    const axis = await page.$$eval('svg.timeline text.axis', (texts) => texts.map((text) => {
      const box = text.getBoundingClientRect();
      return { text: text.textContent, left: box.left, right: box.right, top: box.top, bottom: box.bottom };
    }));
    const texts = await chartTexts('svg.timeline');
    // Keyboard: Tab reaches a crash mark, and Enter opens its event.
    await page.locator('svg.timeline a.crash-mark').first().focus();
    const focused = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
    await page.screenshot({ path: screenshot, fullPage: true });
    await page.keyboard.press('Enter');
    await settled('#/events/');
    await page.locator('#event-metadata').waitFor();
    return { heading: await page.locator('h1').first().textContent(), crashes, spans, focused, axis, texts,
      opened: await page.evaluate(() => location.hash) };
  },

  async usage() {
    await logIn(args.username, args.password);
    await page.getByRole('link', { name: 'Usage', exact: true }).click();
    await settled('#/usage');
    // The organization by its name, as an operator knows it.
    await page.getByLabel('Organization', { exact: true }).selectOption({ label: args.orgName });
    await page.getByLabel('Month').fill(args.month);
    await page.getByRole('button', { name: 'Show report' }).click();
    await page.locator('#usage-table').waitFor();
    const table = await cells('#usage-table');
    const summary = await page.locator('#report-summary').textContent();
    const charts = await chartTexts('#usage-report svg.chart');
    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: /CSV/ }).click();
    const download = await downloading;
    const path = await download.path();
    const csv = (await import('node:fs')).readFileSync(path, 'utf8');
    // The live stream: a usage event recorded now appears without a reload.
    await page.locator('#usage-stream tbody tr').first().waitFor();
    const head = await page.$$eval('#usage-stream tbody tr', (rows) => rows.map((row) => row.dataset.guid));
    const before = head.length;
    const status = await page.evaluate(async ({ event, token }) => (await fetch('/v2/app_usage_events', {
      method: 'POST', headers: { Authorization: `bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(event) })).status, { event: args.newEvent, token: args.writerToken });
    const added = page.locator(`#usage-stream tbody tr[data-guid="${args.newEvent.guid}"]`);
    await added.waitFor();
    const streamSpace = await added.locator('td').last().evaluate((td) => ({ text: td.textContent, title: td.querySelector('[title]')?.title ?? null }));
    const after = await page.locator('#usage-stream tbody tr').count();
    const top = await page.locator('#usage-stream tbody tr').first().getAttribute('data-guid');
    // Then one space of it, by name too.
    await page.getByLabel('Space', { exact: true }).selectOption({ label: args.spaceName });
    await page.getByRole('button', { name: 'Show report' }).click();
    await settled('#/usage?');
    await page.locator('#usage-table').waitFor();
    await page.locator('#usage-stream tbody tr').first().waitFor();
    return { table, summary, charts, csv, head, streamSpace, filename: download.suggestedFilename(), before, posted: status,
      after, top, spaceTable: await cells('#usage-table'), spaceSummary: await page.locator('#report-summary').textContent(),
      hash: await page.evaluate(() => location.hash) };
  },

  // Every page on a phone: what scrolls sideways, and a screenshot of each.
  async phone() {
    const pages = {};
    const look = async (name) => {
      pages[name] = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth,
        clientWidth: document.documentElement.clientWidth }));
      await page.screenshot({ path: screenshot.replace(/\.png$/, `-${name}.png`), fullPage: true });
    };
    await page.goto(`${base}/console/`);
    await page.getByLabel('User name').waitFor();
    await look('login');
    await page.getByLabel('User name').fill(args.username);
    await page.getByLabel('Password').fill(args.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await settled('#/');
    await page.locator('#top-crashes').waitFor();
    await look('overview');
    await page.goto(`${base}/console/#/events?type=app.crash`);
    await settled('#/events?');
    await page.locator('#event-table').waitFor();
    await look('events');
    await page.goto(`${base}/console/${await page.locator('#event-table tbody a').first().getAttribute('href')}`);
    await settled('#/events/');
    await page.locator('#event-metadata').waitFor();
    await look('event');
    await page.goto(`${base}/console/#/apps/${args.app}`);
    await settled('#/apps/');
    await page.locator('svg.timeline').waitFor();
    await look('timeline');
    await page.goto(`${base}/console/#/usage?org=${args.org}&month=${args.month}`);
    await settled('#/usage?');
    await page.locator('#usage-table').waitFor();
    await page.locator('#usage-stream tbody tr').first().waitFor();
    await look('usage');
    return { pages };
  },

  // A page left before its answers arrive: the overview's API answers are held back until the events page has
  // been drawn, then let through. The events page must stay, its form attached and working.
  async slowOverview() {
    const held = [];
    await page.route('**/v3/audit_event_stats/**', (route) => { held.push(route); });
    await page.goto(`${base}/console/`);
    await page.getByLabel('User name').fill(args.username);
    await page.getByLabel('Password').fill(args.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForFunction(() => document.querySelector('h1')?.textContent.startsWith('Overview'));
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await settled('#/events');
    await Promise.all(held.map((route) => route.continue()));
    await page.unroute('**/v3/audit_event_stats/**');
    await page.waitForLoadState('networkidle');
    const typeSelect = page.getByLabel('Type');
    await typeSelect.selectOption('app.crash', { timeout: 2000 });
    return { held: held.length, heading: await page.locator('h1').textContent(), hash: await page.evaluate(() => location.hash),
      selected: await typeSelect.inputValue(), overviewShown: await page.locator('#overview-total').count() };
  },

  async auditor() {
    await logIn(args.username, args.password);
    await settled('#/');
    await page.locator('#overview-total').waitFor();
    const total = Number(await page.locator('#overview-total').getAttribute('data-value'));
    const top = await cells('#top-crashes');
    await page.screenshot({ path: screenshot.replace(/\.png$/, '-overview.png'), fullPage: true });
    await page.goto(`${base}/console/#/events`);
    await settled('#/events');
    await page.locator('#event-table').waitFor();
    return { total, top, position: await page.locator('#page-position').first().textContent(),
      rows: await cells('#event-table'), usageStream: null };
  },
};

let result, failed;
try {
  result = await scenarios[scenario]();
  result.foreign = foreign;
  result.errors = consoleErrors;
} catch (error) {
  failed = error;
}
// The scenario's last page, for a person to look at (the timeline saved its own before leaving it).
if (scenario !== 'timeline' || failed) await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
await browser.close();
if (failed) {
  console.error(String(failed.stack || failed), '\nforeign requests:', foreign, '\npage errors:', consoleErrors);
  process.exit(1);
}
process.stdout.write(JSON.stringify(result));
