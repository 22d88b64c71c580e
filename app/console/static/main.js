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

async function render() {
  for (const stop of leaving) stop();
  leaving = [];
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
      await loginView(main, params, () => render());
    } else if (parts[0] === 'events' && parts[1]) {
      await eventView(main, parts[1]);
    } else if (parts[0] === 'events') {
      await eventsView(main, params, navigate);
    } else if (parts[0] === 'apps' && parts[1]) {
      await appView(main, parts[1]);
    } else if (parts[0] === 'usage') {
      await usageView(main, params, navigate, (stop) => leaving.push(stop));
    } else {
      await overviewView(main);
    }
  } catch (error) {
    main.replaceChildren(h('h1', { tabindex: '-1' }, 'Something went wrong'),
      h('p', { class: 'error', role: 'alert' }, error.message));
  }
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
