/* account.js -- the page's side of accounts (README "Accounts"): its session
 * is an HttpOnly cookie the server sets (no credential is readable here or
 * kept in localStorage); the socket gets a short access token minted from
 * that cookie on every (re)connection. Signing in or up with a password,
 * claiming a name, a device code, and the devices dialog (list, sign one
 * out, sign out everywhere, link a device) live here; chat.js calls
 * window.chatAccount and listens for the `chat:signed-in` event. */
(() => {
  'use strict';

  // Before accounts, a name's credential was kept in localStorage under this
  // key: it is traded once for the cookie session, then deleted.
  const LEGACY_KEY = 'chat.credential:';
  const $ = (id) => document.getElementById(id);
  let session = ''; // the id of this browser's session, once known
  let spare = null; // the token resume() got, for the first connection: {name, token, wsToken, at}

  function legacy(name) {
    try {
      return localStorage.getItem(LEGACY_KEY + name) || '';
    } catch (e) {
      return '';
    }
  }

  function dropLegacy(name) {
    try {
      localStorage.removeItem(LEGACY_KEY + name);
    } catch (e) {
      /* private mode */
    }
  }

  /* One JSON call, same-origin (the cookie goes along); resolves to
   * {status, body}. */
  async function call(method, path, body, bearer) {
    const headers = { 'Content-Type': 'application/json' };
    if (bearer) headers.Authorization = 'Bearer ' + bearer;
    const init = { method, headers, credentials: 'same-origin' };
    if (method !== 'GET' && method !== 'DELETE') init.body = JSON.stringify(body || {});
    try {
      const res = await fetch(path, init);
      const text = await res.text();
      let data = {};
      try {
        data = text ? JSON.parse(text) : {};
      } catch (e) {
        data = { error: text };
      }
      return { status: res.status, body: data };
    } catch (e) {
      return { status: 0, body: { error: 'network error' } };
    }
  }

  /* A fresh access token of this browser's session ({name, token}), or null
   * when it has none. wsToken: a private workspace's token, folded in. */
  async function access(wsToken) {
    const r = await call('POST', '/api/sessions/access', wsToken ? { workspace_token: wsToken } : {});
    if (r.status !== 200 || !r.body.signed_in) return null;
    session = r.body.session;
    $('devices-open').hidden = false;
    return { name: r.body.name, token: r.body.access_token };
  }

  /* The name of this browser's session, or ''. */
  async function resume() {
    const a = await access('');
    if (a) spare = { name: a.name, token: a.token, wsToken: '', at: Date.now() };
    return a ? a.name : '';
  }

  /* The socket's auth, asked again on every (re)connection (socket.io-client
   * calls it), so a reconnection carries a live token. */
  async function auth(name, wsToken) {
    const fresh = spare && !wsToken && Date.now() - spare.at < 60000 ? spare : null;
    spare = null; // used once: later connections ask again
    const a = fresh || (await access(wsToken));
    if (a) return { name: a.name, token: a.token };
    const out = {};
    if (name) out.name = name;
    if (wsToken) out.token = wsToken;
    return out;
  }

  async function signOutCurrent() {
    if (session) await call('DELETE', '/api/sessions/' + session);
    session = '';
  }

  /* Takes name: with a password, signs in (or makes the account: a free
   * name, or one this browser held before accounts); without, claims the
   * name for this browser. Resolves to the server's form of the name;
   * rejects with an Error saying why. */
  async function enter(name, password, current) {
    if (current && current !== name) await signOutCurrent();
    const old = legacy(name);
    let r;
    if (password) {
      r = await call('POST', '/api/sessions', { name, password, cookie: true });
      if (r.status === 401) {
        r = await call('POST', '/api/accounts', { name, password, cookie: true }, old);
        if (r.status === 409 && /account/.test(r.body.error || '')) throw new Error('Wrong password for this name.');
      }
    } else {
      r = await call('POST', '/api/users', { name, cookie: true }, old);
    }
    if (r.status === 200 || r.status === 201) {
      dropLegacy(name);
      session = r.body.session || '';
      $('devices-open').hidden = false;
      return r.body.name;
    }
    throw new Error(r.body.error || 'Cannot sign in now; try again.');
  }

  function announce(name) {
    window.dispatchEvent(new CustomEvent('chat:signed-in', { detail: { name } }));
  }

  async function useCode(ev) {
    ev.preventDefault();
    const code = $('code').value.trim();
    const error = $('code-error');
    if (!code) return;
    const r = await call('POST', '/api/sessions', { code, cookie: true });
    if (r.status !== 200) {
      error.textContent = r.body.error || 'That code did not work.';
      error.hidden = false;
      return;
    }
    error.hidden = true;
    $('code').value = '';
    session = r.body.session;
    $('devices-open').hidden = false;
    announce(r.body.name);
  }

  function showError(message) {
    const e = $('devices-error');
    e.textContent = message || '';
    e.hidden = !message;
  }

  /* A device in a few words: its browser and system from the User-Agent. */
  function describe(s) {
    if (s.kind === 'claim') return 'A name claim (API token)';
    if (s.kind === 'api') return 'An API client' + (s.label ? ': ' + s.label.slice(0, 40) : '');
    const ua = s.label || '';
    const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'A browser';
    const system = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
    return browser + (system ? ' on ' + system : '');
  }

  function when(ms) {
    return ms ? new Date(ms).toLocaleString() : 'never';
  }

  async function renderDevices() {
    const list = $('device-list');
    const r = await call('GET', '/api/sessions');
    list.textContent = '';
    if (r.status !== 200) {
      showError(r.body.error || 'Cannot list your devices.');
      return;
    }
    showError('');
    r.body.sessions.forEach((s) => {
      const li = document.createElement('li');
      li.className = 'device' + (s.current ? ' current' : '');
      li.setAttribute('data-session', s.id);
      const what = document.createElement('span');
      what.className = 'device-label';
      what.textContent = describe(s) + (s.current ? ' (this browser)' : '');
      const since = document.createElement('span');
      since.className = 'device-since';
      since.textContent = 'since ' + when(s.created_at);
      const out = document.createElement('button');
      out.type = 'button';
      out.className = 'ghost device-out';
      out.textContent = 'Sign out';
      out.addEventListener('click', async () => {
        const d = await call('DELETE', '/api/sessions/' + s.id);
        if (d.status !== 204) return showError(d.body.error || 'Cannot sign it out.');
        if (s.current) return location.reload();
        renderDevices();
      });
      li.append(what, since, out);
      list.append(li);
    });
  }

  async function linkDevice() {
    const r = await call('POST', '/api/link-codes', {});
    const p = $('link-code');
    if (r.status !== 201) return showError(r.body.error || 'Cannot make a code now.');
    p.textContent = 'On your other device, choose "sign in with a code" and type ' + r.body.code + ' (valid ' + Math.round(r.body.expires_in / 60) + ' minutes, once).';
    p.setAttribute('data-code', r.body.code);
    p.hidden = false;
  }

  async function signOutAll() {
    const r = await call('DELETE', '/api/sessions');
    if (r.status !== 204) return showError(r.body.error || 'Cannot sign out now.');
    location.reload();
  }

  function openDevices() {
    $('link-code').hidden = true;
    $('devices').hidden = false;
    renderDevices();
    $('devices-close').focus();
  }

  function wire() {
    $('code-form').addEventListener('submit', useCode);
    $('devices-open').addEventListener('click', openDevices);
    $('devices-close').addEventListener('click', () => ($('devices').hidden = true));
    $('link-device').addEventListener('click', linkDevice);
    $('sign-out-all').addEventListener('click', signOutAll);
  }

  window.chatAccount = { resume, auth, enter };
  wire();
})();
