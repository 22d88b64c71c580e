// The router: the hash is the console's state (#/events?type=app.crash&page=2), so every view can be
// linked to, reloaded and shared. Nothing is fetched but this service's own files and its public API.
import { claims, clearToken, token } from './api.js';
import { appView, eventsView, eventView, h, loginView, overviewView, usageView } from './views.js';

const main = document.getElementById('main');
let leaving = [];
// Whether the last input was a key: browsers ring an element focused by a script unless the last input was
// a pointer, and so on a page just opened or reloaded, where it may well be a mouse's.
let byKeyboard = false;
window.addEventListener('keydown', () => { byKeyboard = true; }, true);
window.addEventListener('pointerdown', () => { byKeyboard = false; }, true);

function navigate(hash) {
  if (location.hash === hash) render(); else location.hash = hash;
}

function showUser() {
  const who = document.getElementById('who');
  const me = token() ? claims() : null;
  document.getElementById('logout').hidden = !me;
  who.textContent = me ? `${me.user_name || me.client_id || 'token'}` : '';
}

// Each render draws into a container of its own. A render still awaiting the API when the hash changes again
// finishes into its container, detached by then, and never over the page that followed it.
let rendering = 0;

async function render() {
  for (const stop of leaving) stop();
  leaving = [];
  const mine = ++rendering;
  const view = h('div', { class: 'view' });
  main.replaceChildren(view);
  const raw = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
  const [path, search = ''] = raw.split('?');
  const params = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  showUser();
  document.querySelectorAll('[data-nav]').forEach((link) => {
    const current = (parts[0] || 'overview') === link.dataset.nav || (parts[0] === 'apps' && link.dataset.nav === 'events');
    if (current) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  });
  try {
    if (!token()) {
      await loginView(view, params, () => render());
    } else if (parts[0] === 'events' && parts[1]) {
      await eventView(view, parts[1]);
    } else if (parts[0] === 'events') {
      await eventsView(view, params, navigate);
    } else if (parts[0] === 'apps' && parts[1]) {
      await appView(view, parts[1]);
    } else if (parts[0] === 'usage') {
      await usageView(view, params, navigate, (stop) => (mine === rendering ? leaving.push(stop) : stop()));
    } else {
      await overviewView(view);
    }
  } catch (error) {
    view.replaceChildren(h('h1', { tabindex: '-1' }, 'Something went wrong'),
      h('p', { class: 'error', role: 'alert' }, error.message));
  }
  if (mine !== rendering) return;
  document.title = `${main.querySelector('h1')?.textContent || 'Console'} · cf-events`;
  // A new page is announced by moving to its heading, as a page load would; its ring is for keyboard users.
  main.querySelector('h1')?.focus({ focusVisible: byKeyboard });
  main.dataset.ready = location.hash || '#/';
}

document.getElementById('logout').addEventListener('click', () => { clearToken(); navigate('#/'); });
document.querySelector('[data-skip]').addEventListener('click', (event) => { event.preventDefault(); main.focus(); });
window.addEventListener('console:logged-out', () => render());
window.addEventListener('hashchange', render);
render();
