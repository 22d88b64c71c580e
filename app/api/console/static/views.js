// The console's pages. Each renders into `main` from the public API; filters live in the URL's hash.
import { api, ApiError, eventCatalogue, issuerIsOn, login, namesIn, namesOf, query, resourcesOf, setToken } from './api.js';
import { horizontalBars, PALETTE, sparkline, stackedBars, swatch, timeline } from './charts.js';

// --- small DOM helpers -----------------------------------------------------------------------------------
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const when = (iso) => h('time', { datetime: iso }, iso ? iso.replace('T', ' ') : '');
const number = (n) => Number(n).toLocaleString('en');
const hashOf = (path, params) => `#${path}${query(params)}`;
// A space or organization by its name, its guid on hover; by its guid where the user may not see its name.
const named = (names, guid) => (guid ? h('span', { title: guid }, names.get(guid) || guid) : '');

function heading(text) {
  return h('h1', { tabindex: '-1' }, text);
}

function table(caption, columns, rows, { id } = {}) {
  return h('div', { class: 'table-wrap' }, h('table', { id },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.length ? rows.map((cells) => h('tr', {}, cells.map((c, i) =>
      i === 0 ? h('th', { scope: 'row' }, c) : h('td', {}, c))))
      : h('tr', {}, h('td', { colspan: columns.length }, 'Nothing to show.')))));
}

function failure(error) {
  return h('p', { class: 'error', role: 'alert' }, error instanceof ApiError ? `The API answered: ${error.message}`
    : `Could not load: ${error.message}`);
}

function announce(text) {
  document.getElementById('status').textContent = text;
}

// Names or guids: an app (space, org) given by name is looked up in /v3/apps (spaces, organizations);
// a value no name matches is taken as a guid.
async function resolve(collection, value) {
  if (!value) return null;
  const found = await api(`/v3/${collection}${query({ names: value, per_page: 100 })}`).catch(() => null);
  const guids = found?.resources?.map((r) => r.guid) || [];
  return guids.length ? guids.join(',') : value;
}

const CRASH = 'app.crash';

// --- log in ------------------------------------------------------------------------------------------------
export async function loginView(main, params, done) {
  const issuer = await issuerIsOn();
  const message = h('p', { class: 'error', role: 'alert', hidden: true });
  const fail = (error) => { message.hidden = false; message.textContent = error.message; };
  const forms = [];
  if (issuer) {
    forms.push(h('form', { id: 'login', onsubmit: async (event) => {
      event.preventDefault();
      const data = new FormData(event.target);
      try { await login(data.get('username'), data.get('password')); done(); } catch (error) { fail(error); }
    } }, h('h2', {}, 'With a user of this service'),
    h('label', { for: 'username' }, 'User name'), h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true }),
    h('label', { for: 'password' }, 'Password'), h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    h('button', { type: 'submit' }, 'Log in')));
  }
  forms.push(h('form', { id: 'paste-token', onsubmit: async (event) => {
    event.preventDefault();
    setToken(new FormData(event.target).get('token'));
    try { await api('/v3/audit_events?per_page=1'); done(); } catch (error) { fail(error); }
  } }, h('h2', {}, issuer ? 'Or with a bearer token' : 'With a bearer token from your UAA'),
  h('label', { for: 'token' }, 'Access token (cf oauth-token prints one)'),
  h('textarea', { id: 'token', name: 'token', rows: 3, required: true, spellcheck: 'false' }),
  h('button', { type: 'submit' }, 'Use this token')));
  main.replaceChildren(heading('Log in to the cf-events console'), message, ...forms);
}

// --- overview ----------------------------------------------------------------------------------------------
export async function overviewView(main) {
  main.replaceChildren(heading('Overview: the last 30 days'), h('p', {}, 'Loading…'));
  const [daily, top, latest] = await Promise.all([
    api('/v3/audit_event_stats/daily?days=30'),
    api(`/v3/audit_event_stats/top_targets${query({ types: CRASH, days: 30, limit: 10 })}`),
    api(`/v3/audit_events${query({ types: CRASH, order_by: '-created_at', per_page: 10 })}`),
  ]);
  const present = daily.categories.filter((c) => daily.days.some((d) => d.by_category[c.id]));
  const series = present.map((c, i) => ({ ...c, colour: PALETTE[i % PALETTE.length] }));
  const total = daily.days.reduce((sum, d) => sum + d.total, 0);
  const totals = Object.fromEntries(series.map((s) => [s.id, daily.days.reduce((n, d) => n + (d.by_category[s.id] || 0), 0)]));
  const crashes = top.resources.reduce((n, t) => n + t.total, 0);
  // Apps of one name live in several spaces and organizations (an api-prod in each): each row says which.
  const apps = await resourcesOf('apps', top.resources.map((t) => t.guid));
  const spaceOf = (app) => apps.get(app)?.relationships.space.data?.guid;
  const spaces = await resourcesOf('spaces', top.resources.map((t) => spaceOf(t.guid)));
  const orgOf = (app) => spaces.get(spaceOf(app))?.relationships.organization.data?.guid;
  const spaceNames = namesIn(spaces);
  const orgs = await namesOf('organizations', top.resources.map((t) => orgOf(t.guid)));

  const legend = h('ul', { class: 'legend' }, series.map((s) => h('li', {},
    swatch(s.colour),
    h('a', { href: hashOf('/events', { category: s.id, since: daily.since }) }, s.name), ` ${number(totals[s.id])}`)));
  main.replaceChildren(
    heading('Overview: the last 30 days'),
    h('p', { class: 'figures' },
      h('span', {}, h('strong', { id: 'overview-total', 'data-value': total }, number(total)), ' events since ', when(daily.since)),
      h('span', {}, h('strong', { id: 'overview-crashes', 'data-value': latest.pagination.total_results },
        number(latest.pagination.total_results)), ' crashes ever')),
    h('section', { 'aria-labelledby': 'per-day' }, h('h2', { id: 'per-day' }, 'Events per day, by category'),
      stackedBars(daily.days, series, `Events per day over the last 30 days, ${number(total)} in all; the table below has every figure`),
      legend,
      h('details', {}, h('summary', {}, 'The figures as a table'),
        table('Events per day and category', ['Day', 'All', ...series.map((s) => s.name)],
          daily.days.map((d) => [d.date, number(d.total), ...series.map((s) => number(d.by_category[s.id] || 0))]),
          { id: 'daily-table' }))),
    h('section', { 'aria-labelledby': 'top-crashing' }, h('h2', { id: 'top-crashing' }, 'Apps with the most crashes'),
      table(`The 10 apps that crashed most in the period (${number(crashes)} of their crashes)`,
        ['App', 'Space', 'Organization', 'Crashes', 'Per day'],
        top.resources.map((t) => [h('a', { href: hashOf(`/apps/${encodeURIComponent(t.guid)}`, {}) }, t.name || t.guid),
          named(spaceNames, spaceOf(t.guid)), named(orgs, orgOf(t.guid)),
          number(t.total), sparkline(t.daily, `${t.total} crashes, at most ${Math.max(...t.daily)} a day`)]),
        { id: 'top-crashes' })),
    h('section', { 'aria-labelledby': 'latest-crashes' }, h('h2', { id: 'latest-crashes' }, 'Latest crashes'),
      table('The 10 latest crashes', ['When', 'App', 'Instance', 'Exit description', 'Reason'],
        latest.resources.map((e) => [h('a', { href: `#/events/${encodeURIComponent(e.guid)}` }, when(e.created_at)),
          h('a', { href: `#/apps/${encodeURIComponent(e.target.guid)}` }, e.target.name || e.target.guid),
          String(e.data?.index ?? ''), e.data?.exit_description || '', e.data?.reason || '']),
        { id: 'latest-crash-table' })),
  );
}

// --- events ------------------------------------------------------------------------------------------------
const PER_PAGE = 50;
const FILTERS = ['type', 'category', 'app', 'space', 'org', 'actor', 'since', 'until'];
const GUIDISH = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// datetime-local inputs are read as UTC, as the API's times are.
const toInput = (iso) => (iso ? iso.slice(0, 19) : '');
const fromInput = (value) => (value ? `${value.length === 16 ? value + ':00' : value.slice(0, 19)}Z` : '');

export async function eventsView(main, params, navigate) {
  const { types, categories } = await eventCatalogue();
  const page = Math.max(1, parseInt(params.get('page') || '1', 10) || 1);
  const chosen = Object.fromEntries(FILTERS.map((key) => [key, params.get(key) || '']));
  const typeSelect = h('select', { id: 'f-type', name: 'type' },
    h('option', { value: '' }, 'Any type'),
    categories.map((c) => h('optgroup', { label: c.display_name },
      h('option', { value: `category:${c.id}`, selected: chosen.category === c.id }, `All of ${c.display_name}`),
      [...types.values()].filter((t) => t.category_id === c.id).map((t) =>
        h('option', { value: t.id, selected: chosen.type === t.id }, `${t.display_name} (${t.id})`)))));
  const field = (key, labelText, attrs = {}) => [h('label', { for: `f-${key}` }, labelText),
    h('input', { id: `f-${key}`, name: key, value: attrs.value ?? chosen[key], ...attrs })];
  const form = h('form', { id: 'event-filters', class: 'filters', onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = {};
    const type = data.get('type');
    if (type.startsWith('category:')) next.category = type.slice(9); else if (type) next.type = type;
    for (const key of ['app', 'space', 'org', 'actor']) if (data.get(key).trim()) next[key] = data.get(key).trim();
    for (const key of ['since', 'until']) if (data.get(key)) next[key] = fromInput(data.get(key));
    navigate(hashOf('/events', next));
  } },
  h('div', { class: 'wide' }, h('label', { for: 'f-type' }, 'Type'), typeSelect),
  h('div', {}, field('app', 'App (name or guid)')), h('div', {}, field('space', 'Space (name or guid)')),
  h('div', {}, field('org', 'Organization (name or guid)')), h('div', {}, field('actor', 'Actor (name or guid)')),
  h('div', {}, field('since', 'From (UTC)', { type: 'datetime-local', step: 1, value: toInput(chosen.since) })),
  h('div', {}, field('until', 'Until (UTC)', { type: 'datetime-local', step: 1, value: toInput(chosen.until) })),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter'), h('a', { href: '#/events' }, 'Clear')));
  const results = h('div', { id: 'event-results', 'aria-live': 'polite' }, h('p', {}, 'Loading…'));
  main.replaceChildren(heading('Events'), form, results);

  const categoryTypes = chosen.category
    ? [...types.values()].filter((t) => t.category_id === chosen.category).map((t) => t.id).join(',') : '';
  const [app, space, org] = await Promise.all([resolve('apps', chosen.app), resolve('spaces', chosen.space),
    resolve('organizations', chosen.org)]);
  const request = {
    types: chosen.type || categoryTypes, target_guids: app, space_guids: space, organization_guids: org,
    [GUIDISH.test(chosen.actor) ? 'actor_guids' : 'actor_names']: chosen.actor,
    'created_ats[gte]': chosen.since, 'created_ats[lte]': chosen.until,
    order_by: '-created_at', page, per_page: PER_PAGE,
  };
  let body;
  try { body = await api(`/v3/audit_events${query(request)}`); } catch (error) { results.replaceChildren(failure(error)); return; }
  const [spaces, orgs] = await Promise.all([namesOf('spaces', body.resources.map((e) => e.space?.guid)),
    namesOf('organizations', body.resources.map((e) => e.organization?.guid))]);
  const { total_results: total, total_pages: pages } = body.pagination;
  const link = (n, text, rel) => h('a', { href: hashOf('/events', { ...Object.fromEntries(params), page: n }), rel }, text);
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of events' },
    page > 1 ? link(page - 1, '← Newer', 'prev') : null,
    h('span', { id: 'page-position' }, `Page ${page} of ${pages} · ${number(total)} events`),
    body.pagination.next ? link(page + 1, 'Older →', 'next') : null);
  results.replaceChildren(pager, table(`Events, newest first (page ${page})`, ['When', 'Type', 'Target', 'Actor', 'Space', 'Organization'],
    body.resources.map((e) => [h('a', { href: `#/events/${encodeURIComponent(e.guid)}` }, when(e.created_at)),
      h('span', { title: e.type }, types.get(e.type)?.display_name || e.type),
      e.target.type === 'app' ? h('a', { href: `#/apps/${encodeURIComponent(e.target.guid)}` }, e.target.name || e.target.guid)
        : `${e.target.name || e.target.guid} (${e.target.type})`,
      e.actor.name || e.actor.guid, named(spaces, e.space?.guid), named(orgs, e.organization?.guid)]), { id: 'event-table' }), pager.cloneNode(true));
  announce(`${number(total)} events, page ${page} of ${pages}`);
}

// --- one event ---------------------------------------------------------------------------------------------
export async function eventView(main, guid) {
  const { types } = await eventCatalogue();
  let event;
  try { event = await api(`/v3/audit_events/${encodeURIComponent(guid)}`); } catch (error) {
    main.replaceChildren(heading('Event'), failure(error)); return;
  }
  const around = (operator, order) => api(`/v3/audit_events${query({ target_guids: event.target.guid,
    [`created_ats[${operator}]`]: event.created_at, order_by: order, per_page: 5 })}`).then((b) => b.resources, () => []);
  const [before, after, spaces, orgs] = await Promise.all([around('lt', '-created_at'), around('gt', 'created_at'),
    namesOf('spaces', [event.space?.guid]), namesOf('organizations', [event.organization?.guid])]);
  // The detail shows both: the name to read, the guid to copy.
  const place = (names, guid) => (!guid ? '—' : names.has(guid) ? `${names.get(guid)} (${guid})` : guid);
  const row = (e) => [h('a', { href: `#/events/${encodeURIComponent(e.guid)}` }, when(e.created_at)),
    types.get(e.type)?.display_name || e.type, e.actor.name || e.actor.guid];
  const details = [['Type', `${types.get(event.type)?.display_name || 'Unknown type'} (${event.type})`],
    ['When', when(event.created_at)], ['Actor', `${event.actor.name || ''} (${event.actor.type} ${event.actor.guid})`],
    ['Target', event.target.type === 'app'
      ? h('a', { href: `#/apps/${encodeURIComponent(event.target.guid)}` }, `${event.target.name || event.target.guid} (app ${event.target.guid})`)
      : `${event.target.name || ''} (${event.target.type} ${event.target.guid})`],
    ['Space', place(spaces, event.space?.guid)], ['Organization', place(orgs, event.organization?.guid)], ['Guid', event.guid]];
  main.replaceChildren(heading(types.get(event.type)?.display_name || event.type),
    h('dl', { class: 'details' }, details.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
    h('h2', {}, 'Metadata'), h('pre', { id: 'event-metadata', tabindex: '0' }, JSON.stringify(event.data, null, 2)),
    h('div', { class: 'columns' },
      h('section', {}, table(`The target's 5 events just before`, ['When', 'Type', 'Actor'], before.map(row), { id: 'before' })),
      h('section', {}, table(`The target's 5 events just after`, ['When', 'Type', 'Actor'], after.map(row), { id: 'after' }))));
}

// --- one app's timeline ------------------------------------------------------------------------------------
export async function appView(main, guid) {
  const { types } = await eventCatalogue();
  main.replaceChildren(heading('App timeline'), h('p', {}, 'Loading…'));
  const [events, usage] = await Promise.all([
    api(`/v3/audit_events${query({ target_guids: guid, order_by: '-created_at', per_page: 500 })}`),
    api(`/v3/app_usage_states/${encodeURIComponent(guid)}?per_page=500`).catch(() => ({ resources: [] })),
  ]);
  const list = events.resources.slice().reverse();
  const states = usage.resources.slice().reverse();
  const name = list.at(-1)?.target.name || states.at(-1)?.app.name || guid;
  const now = Date.now();
  const times = [...list.map((e) => Date.parse(e.created_at)), ...states.map((u) => Date.parse(u.created_at))];
  const from = times.length ? Math.min(...times) : now - 86400e3;
  const to = Math.max(now, ...times);
  const category = (e) => types.get(e.type)?.category_id;
  const mark = (e, shape, label) => ({ at: Date.parse(e.created_at), shape, href: `#/events/${encodeURIComponent(e.guid)}`,
    label: `${label}, ${e.created_at}`, className: e.type === CRASH ? 'crash-mark' : undefined });

  // Running spans: from the usage stream when this reader sees it, else from start and stop events.
  const spans = [];
  let started = null;
  const source = states.length ? states.map((u) => ({ at: Date.parse(u.created_at), on: u.state.current === 'STARTED',
    label: `${u.instance_count.current} × ${u.memory_in_mb_per_instance.current} MB` }))
    : list.filter((e) => e.type === 'audit.app.start' || e.type === 'audit.app.stop')
      .map((e) => ({ at: Date.parse(e.created_at), on: e.type === 'audit.app.start', label: 'started' }));
  for (const change of source) {
    if (started && (!change.on || change.label !== started.label)) {
      spans.push({ from: started.at, to: change.at, label: `Running ${started.label}` });
      started = null;
    }
    if (change.on && !started) started = change;
  }
  if (started) spans.push({ from: started.at, to, label: `Running ${started.label} (still)` });

  const isScale = (e) => e.type === 'audit.app.process.scale' || (e.type === 'audit.app.update'
    && (e.data?.request?.instances !== undefined || e.data?.request?.memory !== undefined));
  const lanes = [
    { name: 'Running', spans },
    { name: 'Scale', marks: list.filter(isScale).map((e) => mark(e, 'diamond', `Scaled: ${JSON.stringify(e.data?.request || {})}`)) },
    { name: 'Crashes', marks: list.filter((e) => e.type === CRASH).map((e) => mark(e, 'cross',
      `Crash of instance ${e.data?.index ?? '?'}: ${e.data?.exit_description || e.data?.reason || ''}`)) },
    { name: 'Deploys', marks: list.filter((e) => category(e) === 'deployment').map((e) => mark(e, 'triangle',
      types.get(e.type)?.display_name || e.type)) },
    { name: 'Other', marks: list.filter((e) => e.type !== CRASH && category(e) !== 'deployment' && !isScale(e))
      .map((e) => mark(e, 'dot', types.get(e.type)?.display_name || e.type)) },
  ];
  const crashes = lanes[2].marks.length;
  main.replaceChildren(heading(`App timeline: ${name}`),
    h('p', {}, `${number(events.pagination.total_results)} events of app ${guid}`,
      events.pagination.total_results > list.length ? ` (the latest ${list.length} are shown)` : '',
      `; ${crashes} crashes, ${spans.length} running spans`, states.length ? ` from ${states.length} usage events.` : '.',
      ' ', h('a', { href: hashOf('/events', { app: guid }) }, 'List them')),
    h('p', { class: 'hint' }, 'Crashes are crosses, deploys triangles, scale changes diamonds; Tab moves between them.'),
    h('div', { class: 'table-wrap' }, timeline(lanes, from, to, `Timeline of ${name}`)),
    h('details', {}, h('summary', {}, 'The same events as a table'),
      table('The same events in time order', ['When', 'Type', 'Actor', 'Detail'], list.map((e) => [
      h('a', { href: `#/events/${encodeURIComponent(e.guid)}` }, when(e.created_at)),
      types.get(e.type)?.display_name || e.type, e.actor.name || e.actor.guid,
      e.type === CRASH ? (e.data?.exit_description || e.data?.reason || '') : '']), { id: 'app-events' })));
}

// --- usage -------------------------------------------------------------------------------------------------
const POLL_MS = 2000;
const HEAD = 20;

function lastDay(month) {
  const [year, m] = month.split('-').map(Number);
  return new Date(Date.UTC(year, m, 0)).toISOString().slice(0, 10);
}

export async function usageView(main, params, navigate, onLeave) {
  const month = /^\d{4}-\d{2}$/.test(params.get('month') || '') ? params.get('month') : new Date().toISOString().slice(0, 7);
  const org = params.get('org') || '';
  const space = params.get('space') || '';
  // By name, as cf target -o and -s offer them; the reports take the organization's guid, which the URL keeps.
  const orgs = await api('/v3/organizations?per_page=5000&order_by=name').then((b) => b.resources, () => []);
  if (org && !orgs.some((o) => o.guid === org)) orgs.push({ guid: org, name: org });
  const orgSelect = h('select', { id: 'u-org', name: 'org', required: true, onchange: () => listSpaces(orgSelect.value) },
    h('option', { value: '' }, 'Choose one'),
    orgs.map((o) => h('option', { value: o.guid, title: o.guid, selected: o.guid === org }, o.name)));
  const spaceSelect = h('select', { id: 'u-space', name: 'space' });
  const listSpaces = async (orgGuid) => {
    const found = orgGuid ? await api(`/v3/spaces${query({ organization_guids: orgGuid, order_by: 'name', per_page: 5000 })}`)
      .then((b) => b.resources, () => []) : [];
    if (space && orgGuid === org && !found.some((s) => s.guid === space)) found.push({ guid: space, name: space });
    // An answer for an organization no longer chosen is dropped.
    if (orgSelect.value !== orgGuid) return;
    spaceSelect.replaceChildren(h('option', { value: '' }, 'All spaces'),
      ...found.map((s) => h('option', { value: s.guid, title: s.guid, selected: s.guid === space }, s.name)));
  };
  await listSpaces(org);
  const form = h('form', { id: 'usage-form', class: 'filters', onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(form);
    navigate(hashOf('/usage', { org: data.get('org'), space: data.get('space'), month: data.get('month') }));
  } },
  h('div', {}, h('label', { for: 'u-org' }, 'Organization'), orgSelect),
  h('div', {}, h('label', { for: 'u-space' }, 'Space'), spaceSelect),
  h('div', {}, h('label', { for: 'u-month' }, 'Month'), h('input', { id: 'u-month', name: 'month', type: 'month', value: month, required: true })),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Show report')));
  const report = h('section', { id: 'usage-report', 'aria-labelledby': 'report-heading' });
  const stream = h('section', { 'aria-labelledby': 'stream-heading' });
  main.replaceChildren(heading('Usage'), h('h2', { id: 'report-heading' }, 'An organization’s app usage'), form, report, stream);
  if (org) {
    const option = (select) => select.selectedOptions[0]?.textContent;
    loadReport(report, { org, orgName: option(orgSelect), space, spaceName: space && option(spaceSelect) }, month);
  }
  followStream(stream, onLeave);
}

async function loadReport(section, { org, orgName, space, spaceName }, month) {
  const period = query({ start: `${month}-01`, end: lastDay(month) });
  const path = `/organizations/${encodeURIComponent(org)}/app_usages${period}`;
  section.replaceChildren(h('p', {}, 'Loading…'));
  let body;
  try { body = await api(path); } catch (error) { section.replaceChildren(failure(error)); return; }
  // The reports are by organization; a space is its rows.
  const usages = body.app_usages.filter((row) => !space || row.space_guid === space);
  const spaces = new Map();
  for (const row of usages) {
    const one = spaces.get(row.space_guid) || { name: row.space_name || row.space_guid, apps: new Set(), instanceHours: 0, mbHours: 0 };
    const hours = row.instance_count * row.duration_in_seconds / 3600;
    one.apps.add(row.app_guid);
    one.instanceHours += hours;
    one.mbHours += hours * row.memory_in_mb_per_instance;
    spaces.set(row.space_guid, one);
  }
  const rows = [...spaces.values()];
  const download = h('button', { type: 'button', id: 'download-csv', onclick: async () => {
    const blob = await api(`${path}&format=csv`, { accept: 'text/csv' });
    const link = h('a', { href: URL.createObjectURL(blob), download: `app_usages-${org}-${month}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } }, 'Download the organization’s CSV (every app and process)');
  const where = `organization ${orgName || org}${space ? `, space ${spaceName || space}` : ''}`;
  section.replaceChildren(
    h('p', { id: 'report-summary' }, `${month} in ${where}: ${rows.length} spaces, ${usages.length} rows.`),
    horizontalBars(rows.map((s) => ({ label: s.name, value: s.instanceHours })), `Instance-hours by space in ${month}`, 'instance-hours'),
    horizontalBars(rows.map((s) => ({ label: s.name, value: s.mbHours })), `MB-hours by space in ${month}`, 'MB-hours'),
    table(`Usage by space, ${month}`, ['Space', 'Apps', 'Instance-hours', 'MB-hours'],
      rows.map((s) => [s.name, String(s.apps.size), s.instanceHours.toFixed(2), s.mbHours.toFixed(2)]), { id: 'usage-table' }),
    download);
}

// The head of the usage stream, then each event after it as it is recorded (after_guid, as collectors poll).
async function followStream(section, onLeave) {
  const rows = h('tbody', {});
  const note = h('p', { id: 'stream-note' }, 'Loading…');
  section.replaceChildren(h('h2', { id: 'stream-heading' }, 'The app usage stream, live'), note,
    h('div', { class: 'table-wrap' }, h('table', { id: 'usage-stream' }, h('caption', {}, 'The latest recorded first'),
      h('thead', {}, h('tr', {}, ['When', 'State', 'App', 'Instances', 'Memory (MB)', 'Space'].map((c) => h('th', { scope: 'col' }, c)))),
      rows)));
  const show = (events, atTop) => {
    const made = events.map((u) => h('tr', { 'data-guid': u.guid }, h('th', { scope: 'row' }, when(u.created_at)),
      h('td', {}, u.state.current), h('td', {}, u.app.guid ? h('a', { href: `#/apps/${encodeURIComponent(u.app.guid)}` }, u.app.name || u.app.guid) : ''),
      h('td', {}, String(u.instance_count.current ?? '')), h('td', {}, String(u.memory_in_mb_per_instance.current ?? '')),
      h('td', {}, u.space.guid ? h('span', { title: u.space.guid }, u.space.name || u.space.guid) : '')));
    if (atTop) rows.prepend(...made.reverse()); else rows.append(...made);
  };
  let total, head;
  try {
    // The head in the stream's own (cursor) order, the order after_guid follows: order_by=created_at sorts by
    // the events' own times, and an imported event may be recorded long after its time. So the total, then
    // the last two pages of HEAD (the last alone may be short).
    total = (await api('/v3/app_usage_events?per_page=1')).pagination.total_results;
    const lastPage = Math.ceil(total / HEAD);
    const pages = await Promise.all([lastPage - 1, lastPage].filter((page) => page >= 1)
      .map((page) => api(`/v3/app_usage_events${query({ page, per_page: HEAD })}`)));
    head = pages.flatMap((page) => page.resources).slice(-HEAD).reverse();
  } catch (error) { note.replaceChildren(failure(error)); return; }
  show(head, false);
  let last = head[0]?.guid;
  note.textContent = head.length ? `Following: ${number(total)} events; new ones appear at the top.`
    : 'No usage events are visible to you (only platform-wide readers see the usage stream).';
  let stopped = false;
  onLeave(() => { stopped = true; });
  const poll = async () => {
    if (stopped) return;
    try {
      // Without a last one, the whole stream is new: from its start.
      const page = await api(`/v3/app_usage_events${query({ after_guid: last, per_page: 100 })}`);
      if (page.resources.length) {
        show(page.resources, true);
        last = page.resources.at(-1).guid;
        announce(`${page.resources.length} new usage events`);
      }
    } catch { /* a failed poll is retried at the next tick */ }
    if (!stopped) setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}
