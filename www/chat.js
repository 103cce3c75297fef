/* chat.js -- the chat page, live over Socket.IO (the official client, global
 * `io`, from /static/vendor/socket.io.min.js).
 *
 * History comes from the REST API (GET /api/rooms/{id}/messages); everything
 * live goes through one socket on the page's namespace ("/" or "/<workspace>"):
 * join/leave, chat message (client_id per message, socket.io-client's
 * retries + ackTimeout make sends at-least-once, the server stores each
 * client_id once), typing, read, rooms, create room, and the broadcasts.
 * Connection state recovery brings back what was missed during a short
 * disconnection; otherwise the rooms are joined again and the join acks'
 * `missed` plus a REST catch-up fill the gap. Every message is shown once:
 * they are de-duplicated by id everywhere.
 *
 * Every user string reaches the DOM through textContent, never as HTML. */
(() => {
  'use strict';

  const NAME_KEY = 'chat.name';
  const PAGE = 50; // messages per history page
  // The contract's limits, as the server renders them on <body> (fcgi/page.c
  // from common/contract.c's table): characters, as the server counts them.
  const limit = (name) => Number(document.body.getAttribute('data-' + name + '-max'));
  const NAME_MAX = limit('user-name');
  const HISTORY_MAX = limit('messages-page'); // most messages one history read returns
  const TYPING_EMIT_MS = 2000; // at most one `typing` per this interval
  const TYPING_SHOW_MS = 4000; // how long "X is typing…" lasts without news
  const ROOMS_REFRESH_MS = 20000; // room list (online counts) refresh
  const GROUP_MS = 5 * 60 * 1000; // consecutive messages of a user within this are grouped
  const CONNECTING_BANNER_MS = 1500; // "Connecting…" only when it takes longer
  const SOCKET_OPTIONS = {
    retries: 5, // at-least-once: a send is retried (same client_id) until acked
    ackTimeout: 10000,
    forceNew: true, // a new name gets a new socket and session
  };

  const render = window.ChatRender; // www/render.js
  const $ = (id) => document.getElementById(id);
  const el = {
    body: document.body,
    app: $('app'),
    banner: $('banner'),
    bannerText: $('banner-text'),
    bannerAction: $('banner-action'),
    sidebar: $('sidebar'),
    roomList: $('room-list'),
    roomForm: $('room-form'),
    roomName: $('room-name'),
    roomError: $('room-error'),
    meAvatar: $('me-avatar'),
    meName: $('me-name'),
    meState: $('me-state'),
    changeName: $('change-name'),
    title: $('room-title'),
    sub: $('room-sub'),
    status: $('status'),
    wrap: $('messages-wrap'),
    older: $('load-older'),
    messages: $('messages'),
    empty: $('empty'),
    members: $('members'),
    membersToggle: $('members-toggle'),
    membersClose: $('members-close'),
    jump: $('jump-latest'),
    jumpCount: $('jump-count'),
    membersTitle: $('members-title'),
    memberList: $('member-list'),
    typing: $('typing'),
    composer: $('composer'),
    text: $('text'),
    send: $('send'),
    menuOpen: $('menu-open'),
    menuClose: $('menu-close'),
    welcome: $('welcome'),
    nameForm: $('name-form'),
    name: $('name'),
    nameError: $('name-error'),
    gate: $('gate'),
    tokenForm: $('token-form'),
    token: $('token'),
    tokenError: $('token-error'),
  };

  /* The data the server rendered into <script type="application/json">. */
  function readBoot() {
    try {
      return JSON.parse($('chat-data').textContent) || {};
    } catch (e) {
      return {};
    }
  }

  const boot = readBoot();
  const namespace = boot.namespace || el.body.getAttribute('data-namespace') || '/';
  const TOKEN_KEY = 'chat.token:' + namespace;
  // The page lists one page of rooms (the server's first page, the size it
  // renders) and refreshes only that page.
  const ROOMS_SHOWN = Number(boot.rooms_page) > 0 ? Number(boot.rooms_page) : 100;

  const state = {
    me: '', // the display name
    token: '', // the access token of a private workspace
    isPrivate: !!boot.private,
    socket: null,
    connected: false,
    everConnected: false,
    rooms: new Map(), // id -> room {id, name, online, last_message_id, ...}
    byName: new Map(), // name -> id
    joined: new Set(), // names of the rooms this socket joined (kept for the session)
    joining: new Set(), // names with a join in flight
    track: new Map(), // room id -> {seen: Set of message ids, unread}
    members: new Map(), // room id -> Set of user names
    current: null, // id of the room shown
    view: null, // the shown room: {roomId, seen: Set, newest, oldest}
    pending: new Map(), // client_id -> {li, roomId, room, text}
    typing: new Map(), // user -> timer, for the shown room
    lastTypingEmit: 0,
    readSent: new Map(), // room id -> last id sent with `read`
    readTimer: 0,
    roomsTimer: 0,
    roomsAsked: 0, // refreshRooms calls made
    roomsApplied: 0, // the latest of them whose answer was applied
    connectingTimer: 0,
    unseenHidden: 0, // messages arrived while the tab was hidden
    newBelow: 0, // messages arrived below the view while scrolled up
    kicked: '', // the reason of a `kicked`, until the next connection
  };

  // --- small helpers -----------------------------------------------------------

  function loadLocal(key) {
    try {
      return localStorage.getItem(key) || '';
    } catch (e) {
      return '';
    }
  }

  function saveLocal(key, value) {
    try {
      if (value) localStorage.setItem(key, value);
      else localStorage.removeItem(key);
    } catch (e) {
      /* private mode: it lasts for this page only */
    }
  }

  function clientId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    return Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 14);
  }

  /* Why a display name is not acceptable, or '' when it is. */
  function nameProblem(name) {
    const n = Array.from(name.normalize('NFC')).length;
    if (n < 1) return 'Please enter a name.';
    if (n > NAME_MAX) return 'At most ' + NAME_MAX + ' characters.';
    if (/[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/.test(name))
      return 'No control, direction or invisible characters, please.';
    if (name.startsWith('~')) return 'Names cannot start with ~ (guests are shown that way).';
    return '';
  }

  /* One of 8 avatar colours, stable per name. */
  function colorClass(name) {
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return 'c' + (h % 8);
  }

  function initial(name) {
    const first = Array.from(name.trim())[0] || '?';
    return first.toUpperCase();
  }

  function avatar(name, extra) {
    const a = document.createElement('span');
    a.className = 'avatar ' + colorClass(name) + (extra ? ' ' + extra : '');
    a.setAttribute('aria-hidden', 'true');
    a.textContent = initial(name);
    return a;
  }

  /* A message's <time>: the hour (its day is on the day separator above),
   * the full date and time on hover. */
  function setTime(time, ts) {
    time.dateTime = new Date(ts).toISOString();
    time.textContent = render.shortTime(ts);
    time.title = render.fullTime(ts);
  }

  function track(roomId) {
    let t = state.track.get(roomId);
    if (!t) {
      t = { seen: new Set(), unread: 0 };
      state.track.set(roomId, t);
    }
    return t;
  }

  function roomIdOf(msg) {
    if (typeof msg.room_id === 'number' && state.rooms.has(msg.room_id)) return msg.room_id;
    return state.byName.get(msg.room) || msg.room_id || null;
  }

  // --- REST --------------------------------------------------------------------

  /* Calls the REST API; resolves to the parsed JSON, rejects with an Error
   * carrying the server's {"error"} and the HTTP status. */
  async function api(method, path, body) {
    const init = { method, headers: { Accept: 'application/json' } };
    if (state.token) init.headers.Authorization = 'Bearer ' + state.token;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let json = {};
    try {
      json = await res.json();
    } catch (e) {
      /* not JSON */
    }
    if (!res.ok) {
      const err = new Error(json.error || 'HTTP ' + res.status);
      err.status = res.status;
      throw err;
    }
    return json;
  }

  const rest = {
    rooms: () => api('GET', '/api/rooms?namespace=' + encodeURIComponent(namespace) + '&limit=' + ROOMS_SHOWN).then((r) => r.rooms),
    history: (roomId, opts) => {
      const q = ['limit=' + (opts.limit || PAGE)];
      if (opts.after) q.push('after=' + opts.after);
      if (opts.before) q.push('before=' + opts.before);
      return api('GET', '/api/rooms/' + roomId + '/messages?' + q.join('&')).then((r) => r.messages);
    },
  };

  // --- socket requests ---------------------------------------------------------

  /* Emits event with an ack; resolves to the ack's value, rejects on an
   * {error} ack or when every retry timed out. Queued while disconnected. */
  function request(event, ...args) {
    if (!state.socket) return Promise.reject(new Error('not connected'));
    return state.socket.emitWithAck(event, ...args).then((res) => {
      if (res && typeof res.error === 'string') throw new Error(res.error);
      return res;
    });
  }

  // --- banner and status -------------------------------------------------------

  let bannerHandler = null;

  /* Shows the connection banner with text (none: hides it), and an optional
   * action button. kind: 'warn' (default) or 'error'. */
  function setBanner(text, action, onAction, kind) {
    el.banner.hidden = !text;
    el.bannerText.textContent = text || '';
    el.banner.classList.toggle('error', kind === 'error');
    el.bannerAction.hidden = !action;
    el.bannerAction.textContent = action || '';
    bannerHandler = onAction || null;
  }

  function setStatus(text, isError) {
    el.status.textContent = text || '';
    el.status.classList.toggle('error', !!isError);
  }

  /* The connection state: shown under the name, and on <body
   * data-connection="connecting|online|offline">. */
  function setMeState(text, online) {
    el.meState.textContent = text;
    el.meState.classList.toggle('online', !!online);
    el.body.setAttribute('data-connection', online ? 'online' : text === 'connecting…' ? 'connecting' : 'offline');
  }

  function renderMe() {
    el.meName.textContent = state.me || 'no name yet';
    el.meAvatar.className = 'avatar ' + colorClass(state.me || '?');
    el.meAvatar.textContent = initial(state.me || '?');
  }

  function updateTitle() {
    const room = state.rooms.get(state.current);
    let unread = state.unseenHidden;
    state.track.forEach((t, id) => {
      if (id !== state.current) unread += t.unread;
    });
    const parts = [];
    if (room) parts.push('#' + room.name);
    if (namespace !== '/') parts.push(namespace.slice(1));
    parts.push('Chat');
    document.title = (unread ? '(' + unread + ') ' : '') + parts.join(' · ');
  }

  // --- rooms -------------------------------------------------------------------

  const roomItems = new Map(); // id -> <li>

  function roomItem(id) {
    let li = roomItems.get(id);
    if (li) return li;
    li = document.createElement('li');
    const a = document.createElement('a');
    const name = document.createElement('span');
    const unread = document.createElement('span');
    const online = document.createElement('span');
    a.className = 'room';
    a.href = '#room-' + id;
    a.setAttribute('data-room-id', String(id));
    name.className = 'room-name';
    unread.className = 'room-unread';
    online.className = 'room-online';
    unread.setAttribute('aria-hidden', 'true');
    online.setAttribute('aria-hidden', 'true');
    a.append(name, unread, online);
    li.append(a);
    roomItems.set(id, li);
    return li;
  }

  /* Updates the room list in place, so a focused link keeps its focus. */
  function renderRooms() {
    const ids = Array.from(state.rooms.keys()).sort((a, b) => a - b);
    ids.forEach((id) => {
      const room = state.rooms.get(id);
      const li = roomItem(id);
      const a = li.firstChild;
      const [name, unread, online] = a.children;
      const count = id === state.current ? 0 : track(id).unread;
      const people = room.online || 0;
      name.textContent = room.name;
      unread.textContent = count > 99 ? '99+' : String(count);
      unread.hidden = count === 0;
      online.textContent = String(people);
      online.title = people + ' online';
      online.classList.toggle('has-online', people > 0);
      a.classList.toggle('has-unread', count > 0);
      a.setAttribute(
        'aria-label',
        room.name + (count ? ', ' + count + ' unread' : '') + ', ' + people + ' online',
      );
      if (id === state.current) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    // Drop the items of rooms that are gone, then fix the order if needed.
    roomItems.forEach((li, id) => {
      if (!state.rooms.has(id)) {
        li.remove();
        roomItems.delete(id);
      }
    });
    const want = ids.map((id) => roomItems.get(id));
    const have = Array.from(el.roomList.children);
    if (want.length !== have.length || want.some((li, i) => li !== have[i])) {
      // Server-rendered items (no data in roomItems) are replaced once.
      have.forEach((li) => {
        if (!want.includes(li)) li.remove();
      });
      want.forEach((li, i) => {
        if (el.roomList.children[i] !== li) el.roomList.insertBefore(li, el.roomList.children[i] || null);
      });
    }
    updateTitle();
  }

  function indexRoom(room) {
    const old = state.rooms.get(room.id);
    state.rooms.set(room.id, Object.assign({}, old, room));
    state.byName.set(room.name, room.id);
  }

  /* Replaces the known rooms with list (from `rooms` or REST). */
  function setRooms(list) {
    const ids = new Set(list.map((r) => r.id));
    Array.from(state.rooms.keys()).forEach((id) => {
      if (!ids.has(id)) forgetRoom(id);
    });
    list.forEach((room) => {
      // Live member counts of joined rooms are fresher than the list's.
      const members = state.members.get(room.id);
      indexRoom(room);
      if (members && state.joined.has(room.name)) state.rooms.get(room.id).online = Math.max(room.online, members.size);
    });
    renderRooms();
    if (state.current === null) openInitialRoom();
  }

  function upsertRoom(room) {
    indexRoom(room);
    renderRooms();
  }

  /* A room that is gone (deleted). */
  function forgetRoom(id) {
    const room = state.rooms.get(id);
    if (!room) return;
    state.rooms.delete(id);
    state.byName.delete(room.name);
    state.joined.delete(room.name);
    state.members.delete(id);
    if (state.current === id) {
      notice('This room was deleted.', 'notice-warn');
      setComposer(false);
      el.title.textContent = '# ' + room.name + ' (deleted)';
    }
  }

  /* Reads the room list again: over the socket when connected, else over
   * REST (not for a private workspace: the socket checks its token first).
   * An answer older than one already applied is dropped. */
  /* The unread counts the server keeps (the read cursor of a named user,
   * `rooms` over the socket): the same on every device and after a reload.
   * The shown room has none. */
  function applyServerUnread(list) {
    let changed = false;
    list.forEach((room) => {
      if (typeof room.unread !== 'number' || room.id === state.current) return;
      const t = track(room.id);
      if (t.unread !== room.unread) {
        t.unread = room.unread;
        changed = true;
      }
    });
    if (changed) {
      renderRooms();
      updateTitle();
    }
  }

  function refreshRooms() {
    if (!state.connected && state.isPrivate) return Promise.resolve();
    const seq = ++state.roomsAsked;
    const p = state.connected ? request('rooms', { limit: ROOMS_SHOWN }).then((r) => r.rooms) : rest.rooms();
    return p
      .then((list) => {
        if (seq < state.roomsApplied) return;
        state.roomsApplied = seq;
        setRooms(list);
        applyServerUnread(list);
      })
      .catch(() => {
        /* the next refresh will tell */
      });
  }

  function scheduleRoomsRefresh(ms) {
    clearTimeout(state.roomsTimer);
    state.roomsTimer = setTimeout(refreshRooms, ms);
  }

  // --- members and typing ------------------------------------------------------

  function setMembers(roomId, list) {
    const set = new Set(Array.isArray(list) ? list : []);
    if (state.me) set.add(state.me);
    state.members.set(roomId, set);
    const room = state.rooms.get(roomId);
    if (room) room.online = set.size;
    if (roomId === state.current) renderMembers();
    renderRooms();
  }

  function renderMembers() {
    const set = state.members.get(state.current) || new Set();
    const names = Array.from(set).sort((a, b) => {
      if (a === state.me) return -1;
      if (b === state.me) return 1;
      return a.localeCompare(b);
    });
    el.memberList.replaceChildren(
      ...names.map((name) => {
        const li = document.createElement('li');
        const label = document.createElement('span');
        li.className = 'member';
        label.className = 'member-name';
        label.textContent = name;
        li.append(avatar(name, 'small'), label);
        if (name === state.me) {
          const you = document.createElement('span');
          you.className = 'member-you';
          you.textContent = '(you)';
          li.append(you);
        }
        return li;
      }),
    );
    el.membersTitle.textContent = 'Online — ' + names.length;
    el.membersToggle.textContent = names.length + ' online';
    if (!state.current) {
      el.sub.textContent = '';
      return;
    }
    const others = names.filter((n) => n !== state.me);
    let sub = names.length + ' online';
    if (others.length) sub += ' · ' + others.slice(0, 3).join(', ') + (others.length > 3 ? '…' : '');
    el.sub.textContent = sub;
  }

  function renderTyping() {
    const names = Array.from(state.typing.keys());
    let text = '';
    if (names.length === 1) text = names[0] + ' is typing…';
    else if (names.length === 2) text = names[0] + ' and ' + names[1] + ' are typing…';
    else if (names.length > 2) text = 'Several people are typing…';
    el.typing.textContent = text;
  }

  function clearTyping(user) {
    if (!user) {
      state.typing.forEach((timer) => clearTimeout(timer));
      state.typing.clear();
    } else if (state.typing.has(user)) {
      clearTimeout(state.typing.get(user));
      state.typing.delete(user);
    } else {
      return;
    }
    renderTyping();
  }

  function onTyping(ev) {
    if (!ev || ev.user === state.me) return;
    const room = state.rooms.get(state.current);
    if (!room || ev.room !== room.name) return;
    clearTimeout(state.typing.get(ev.user));
    state.typing.set(
      ev.user,
      setTimeout(() => clearTyping(ev.user), TYPING_SHOW_MS),
    );
    renderTyping();
  }

  function emitTyping() {
    const room = state.rooms.get(state.current);
    if (!room || !state.connected || !el.text.value) return;
    const now = Date.now();
    if (now - state.lastTypingEmit < TYPING_EMIT_MS) return;
    state.lastTypingEmit = now;
    state.socket.volatile.emit('typing', { room: room.name });
  }

  // --- the message view --------------------------------------------------------

  function nearBottom() {
    return el.wrap.scrollHeight - el.wrap.scrollTop - el.wrap.clientHeight < 120;
  }

  function scrollToBottom() {
    el.wrap.scrollTop = el.wrap.scrollHeight;
  }

  function setComposer(enabled) {
    el.text.disabled = !enabled;
    el.send.disabled = !enabled;
  }

  /* Builds the <li> of a message {id?, user, text, ts}. */
  function messageItem(msg) {
    const li = document.createElement('li');
    const body = document.createElement('div');
    const meta = document.createElement('div');
    const user = document.createElement('span');
    const time = document.createElement('time');
    const state_ = document.createElement('span');
    const text = document.createElement('div');
    const gutter = document.createElement('span');
    const ts = msg.ts || Date.now();
    li.className = 'message' + (msg.user === state.me ? ' own' : '');
    li.tabIndex = -1; // reachable with the arrow keys from the message list
    if (msg.id) li.setAttribute('data-id', String(msg.id));
    if (msg.edited_at) li.classList.add('edited');
    li.setAttribute('data-user', msg.user);
    li.setAttribute('data-ts', String(ts));
    body.className = 'message-body';
    meta.className = 'message-meta';
    user.className = 'message-user';
    user.textContent = msg.user;
    setTime(time, ts);
    state_.className = 'message-state';
    text.className = 'message-text';
    render.fillText(text, msg.text);
    // The time of a grouped message, beside it on hover or focus (its meta,
    // with the same time, stays for screen readers).
    gutter.className = 'gutter-time';
    gutter.setAttribute('aria-hidden', 'true');
    gutter.textContent = render.shortTime(ts);
    meta.append(user, time, state_);
    body.append(meta, text);
    li.append(avatar(msg.user), gutter, body);
    return li;
  }

  /* Marks li as a continuation when the message before it is by the same
   * user shortly before. */
  function regroup(li) {
    if (!li || !li.classList.contains('message')) return;
    render.placeDays(li); // a group does not go on across a day separator
    const prev = li.previousElementSibling;
    const same =
      prev &&
      prev.classList.contains('message') &&
      prev.getAttribute('data-user') === li.getAttribute('data-user') &&
      Number(li.getAttribute('data-ts')) - Number(prev.getAttribute('data-ts')) < GROUP_MS;
    li.classList.toggle('cont', !!same);
  }

  /* Inserts li at the place of message id (ascending ids; unconfirmed and
   * notices stay where they are). */
  function placeById(li, id) {
    let next = null;
    if (state.view && id < state.view.newest) {
      const items = el.messages.children;
      for (let i = 0; i < items.length; i++) {
        const other = Number(items[i].getAttribute('data-id'));
        if (other > id) {
          next = items[i];
          // Keep a "new messages" divider right above the message it marks.
          const prev = next.previousElementSibling;
          if (prev && prev.classList.contains('divider')) next = prev;
          break;
        }
      }
    }
    el.messages.insertBefore(li, next);
    regroup(li);
    let after = li.nextElementSibling;
    while (after && !after.classList.contains('message') && !after.classList.contains('divider')) after = after.nextElementSibling;
    regroup(after);
    return !next;
  }

  /* Shows a message of the shown room once. Returns its <li>, or null when
   * it is not for this view or already shown. */
  function showMessage(msg, opts) {
    const v = state.view;
    if (!v || roomIdOf(msg) !== v.roomId || v.seen.has(msg.id)) return null;
    const stick = nearBottom();
    const li = messageItem(msg);
    if (opts && opts.isNew) li.classList.add('is-new');
    v.seen.add(msg.id);
    track(v.roomId).seen.add(msg.id);
    const atEnd = placeById(li, msg.id);
    v.newest = Math.max(v.newest, msg.id);
    v.oldest = v.oldest ? Math.min(v.oldest, msg.id) : msg.id;
    el.empty.hidden = true;
    const room = state.rooms.get(v.roomId);
    if (room && msg.id > (room.last_message_id || 0)) room.last_message_id = msg.id;
    if (stick && atEnd) scrollToBottom();
    else if (atEnd && msg.user !== state.me) countNewBelow();
    return li;
  }

  function notice(text, extra) {
    const li = document.createElement('li');
    const stick = nearBottom();
    li.className = 'notice' + (extra ? ' ' + extra : '');
    li.textContent = text;
    el.messages.append(li);
    el.empty.hidden = true;
    if (stick) scrollToBottom();
    return li;
  }

  /* "alice joined", collapsed with the joins and leaves right before it. */
  function presenceNotice(user, kind) {
    const stick = nearBottom();
    render.presence(el.messages, user, kind);
    el.empty.hidden = true;
    if (stick) scrollToBottom();
  }

  /* One more message arrived below the view while the reader is scrolled
   * up: the jump-to-latest button says how many. */
  function countNewBelow() {
    state.newBelow++;
    el.jumpCount.textContent = state.newBelow > 99 ? '99+' : String(state.newBelow);
    el.jumpCount.hidden = false;
    el.jump.setAttribute('aria-label', 'Jump to the latest messages, ' + state.newBelow + ' new');
    el.jump.hidden = false;
  }

  /* The jump-to-latest button, after a scroll: shown while the view is away
   * from the bottom, its count cleared once the reader is back there. */
  function updateJump() {
    if (nearBottom()) {
      state.newBelow = 0;
      el.jumpCount.hidden = true;
      el.jump.setAttribute('aria-label', 'Jump to the latest messages');
      el.jump.hidden = true;
    } else if (el.jump.hidden && el.wrap.scrollHeight - el.wrap.scrollTop - el.wrap.clientHeight > el.wrap.clientHeight) {
      el.jump.hidden = false; // more than a screen up
    }
  }

  // Older history loads by itself when the reader scrolls this close to the top.
  const OLDER_MARGIN_PX = 300;

  function onMessagesScroll() {
    updateJump();
    if (el.wrap.scrollTop < OLDER_MARGIN_PX && !el.older.hidden && !el.older.disabled) loadOlder();
  }

  /* Up and Down move between messages (each shows its time when focused). */
  function onMessagesKey(ev) {
    if (ev.key !== 'ArrowUp' && ev.key !== 'ArrowDown') return;
    const items = Array.from(el.messages.querySelectorAll('.message'));
    if (!items.length) return;
    const at = items.indexOf(document.activeElement.closest ? document.activeElement.closest('.message') : null);
    let to;
    if (at < 0) to = ev.key === 'ArrowUp' ? items.length - 1 : -1;
    else to = at + (ev.key === 'ArrowUp' ? -1 : 1);
    if (to < 0 || to >= items.length) return;
    ev.preventDefault();
    items[to].focus();
  }

  /* The member list on a screen too narrow for its column: a panel. */
  function openMembers() {
    el.body.classList.add('show-members');
    el.membersToggle.setAttribute('aria-expanded', 'true');
    el.membersClose.focus();
  }

  function closeMembers(focusToggle) {
    if (!el.body.classList.contains('show-members')) return;
    el.body.classList.remove('show-members');
    el.membersToggle.setAttribute('aria-expanded', 'false');
    if (focusToggle) el.membersToggle.focus();
  }

  /* Puts the "New messages" divider above message id, unless there is one. */
  function placeDivider(id) {
    if (el.messages.querySelector('.divider')) return;
    const target = el.messages.querySelector('[data-id="' + id + '"]');
    if (!target) return;
    const div = document.createElement('li');
    div.className = 'divider';
    div.setAttribute('role', 'separator');
    div.textContent = 'New messages';
    el.messages.insertBefore(div, target);
    regroup(target); // a group does not go on across the divider
    if (el.wrap.scrollHeight > el.wrap.clientHeight) {
      const top = div.offsetTop - el.wrap.offsetTop - 16;
      if (top < el.wrap.scrollHeight - el.wrap.clientHeight) el.wrap.scrollTop = top;
    }
  }

  /* Shows the messages of a join ack's `missed` (or counts them as unread
   * when the room is not shown). Returns the ids newly shown. */
  function takeMissed(roomId, missed) {
    const fresh = [];
    const t = track(roomId);
    (missed || []).forEach((msg) => {
      if (roomId === state.current) {
        if (showMessage(msg, { isNew: true })) fresh.push(msg.id);
        else {
          const li = el.messages.querySelector('[data-id="' + msg.id + '"]');
          if (li) li.classList.add('is-new');
        }
      } else if (!t.seen.has(msg.id)) {
        t.seen.add(msg.id);
        if (msg.user !== state.me) t.unread++;
      }
    });
    if (roomId !== state.current) renderRooms();
    return fresh;
  }

  function scheduleRead() {
    clearTimeout(state.readTimer);
    state.readTimer = setTimeout(markRead, 400);
  }

  /* Tells the server the newest message shown in the visible room. */
  function markRead() {
    const v = state.view;
    if (!v || !v.newest || document.hidden || !state.socket) return;
    const room = state.rooms.get(v.roomId);
    if (!room || (state.readSent.get(room.id) || 0) >= v.newest) return;
    const id = v.newest;
    state.readSent.set(room.id, id);
    request('read', { room: room.name, id }).catch(() => {
      if (state.readSent.get(room.id) === id) state.readSent.delete(room.id);
    });
  }

  // --- joining and opening rooms -------------------------------------------------

  /* Joins room on the server (again); applies the ack's members and missed.
   * Resolves to the ack, or null when the join failed. */
  async function join(room) {
    if (!state.socket) return null;
    state.joining.add(room.name);
    try {
      // Joined before on this page (a reconnection that did not recover):
      // `missed` starts after the newest message we have of the room.
      const after = state.joined.has(room.name) ? newestKnown(room.id) : 0;
      const ack = await request('join', after ? { room: room.name, after } : room.name);
      state.joined.add(room.name);
      if (ack.room_id && !state.rooms.has(ack.room_id)) upsertRoom({ id: ack.room_id, name: ack.room, online: 0 });
      setMembers(room.id, ack.members);
      return ack;
    } catch (e) {
      if (room.id === state.current) setStatus('could not join: ' + e.message, true);
      return null;
    } finally {
      state.joining.delete(room.name);
    }
  }

  /* The newest message id the page has of room id (shown, or counted as
   * unread), 0 when none. */
  function newestKnown(roomId) {
    let newest = state.view && state.view.roomId === roomId ? state.view.newest : 0;
    track(roomId).seen.forEach((id) => {
      if (id > newest) newest = id;
    });
    return newest;
  }

  /* The rest of a join ack's `missed` (`more`): pages of the room's messages
   * after `after`, until a page is short, shown or counted as unread. */
  async function pageMissed(roomId, after) {
    for (;;) {
      const msgs = await rest.history(roomId, { after, limit: HISTORY_MAX });
      takeMissed(roomId, msgs);
      if (msgs.length < HISTORY_MAX) return;
      after = msgs[msgs.length - 1].id;
    }
  }

  /* After a reconnection that did not recover: the shown room's messages after
   * the newest one shown, page after page until done. */
  async function catchUp() {
    const v = state.view;
    if (!v || !v.newest) return;
    const id = v.roomId;
    try {
      let after = v.newest;
      for (;;) {
        const msgs = await rest.history(id, { after, limit: HISTORY_MAX });
        if (state.current !== id) return;
        msgs.forEach((m) => {
          track(id).seen.add(m.id);
          showMessage(m);
        });
        if (msgs.length < HISTORY_MAX) break;
        after = msgs[msgs.length - 1].id;
      }
      scheduleRead();
    } catch (e) {
      /* the live stream goes on */
    }
  }

  function openInitialRoom() {
    if (state.current !== null || state.rooms.size === 0) return;
    const m = /^#room-(\d+)$/.exec(location.hash);
    let id = m ? Number(m[1]) : null;
    if (!state.rooms.has(id)) id = state.byName.get('general') || Array.from(state.rooms.keys()).sort((a, b) => a - b)[0];
    openRoom(id);
  }

  /* Shows room id: history over REST, joined over the socket (kept joined
   * for unread counts when another room is shown). */
  async function openRoom(id, opts) {
    const room = state.rooms.get(id);
    if (!room) return;
    const focus = opts && opts.focus;
    state.current = id;
    state.view = { roomId: id, seen: new Set(), newest: 0, oldest: 0 };
    track(id).unread = 0;
    clearTyping();
    el.messages.replaceChildren();
    closeMembers(false);
    updateJump();
    el.title.textContent = '# ' + room.name;
    el.older.hidden = true;
    el.empty.hidden = true;
    closeSidebar(false);
    renderRooms();
    renderMembers();
    setComposer(true);
    if (location.hash !== '#room-' + id) history.replaceState(null, '', '#room-' + id);
    if (focus) el.text.focus();
    setStatus('loading…');
    el.messages.setAttribute('aria-busy', 'true'); // no reading out the whole history

    const joining = state.socket && !(state.joining.has(room.name)) ? join(room) : null;
    let msgs = [];
    try {
      msgs = await rest.history(id, { limit: PAGE });
      setStatus('');
    } catch (e) {
      setStatus(e.status === 401 || e.status === 403 ? 'access denied' : 'history unavailable: ' + e.message, true);
    }
    if (state.current !== id) return;
    msgs.forEach((m) => showMessage(m));
    el.older.hidden = msgs.length < PAGE || msgs.length === 0;
    // Our own messages still on their way to the server.
    state.pending.forEach((p) => {
      if (p.roomId === id && !p.li.isConnected) el.messages.append(p.li);
    });
    el.empty.hidden = el.messages.children.length > 0;
    el.messages.setAttribute('aria-busy', 'false');
    scrollToBottom();

    const ack = joining ? await joining : null;
    if (state.current !== id) return;
    if (ack) applyJoinAck(id, ack, true);
    scheduleRead();
  }

  /* Applies a join ack's missed to room id; first: the room was just opened
   * (the divider marks the first missed message even when history had it). */
  function applyJoinAck(id, ack, first) {
    const missed = Array.isArray(ack.missed) ? ack.missed : [];
    const fresh = takeMissed(id, missed);
    if (ack.more && missed.length) pageMissed(id, missed[missed.length - 1].id).catch(() => {});
    if (id !== state.current || !missed.length) return;
    if (first) placeDivider(missed[0].id);
    else if (fresh.length) placeDivider(Math.min(...fresh));
  }

  async function loadOlder() {
    const v = state.view;
    if (!v || !v.oldest) return;
    const id = v.roomId;
    const height = el.wrap.scrollHeight;
    el.older.disabled = true;
    el.messages.setAttribute('aria-busy', 'true');
    try {
      const msgs = await rest.history(id, { before: v.oldest, limit: PAGE });
      if (state.current !== id) return;
      msgs.forEach((m) => showMessage(m));
      el.older.hidden = msgs.length < PAGE;
      el.wrap.scrollTop += el.wrap.scrollHeight - height; // keep the view still
    } catch (e) {
      setStatus(e.message, true);
    } finally {
      el.older.disabled = false;
      el.messages.setAttribute('aria-busy', 'false');
    }
  }

  // --- sending -------------------------------------------------------------------

  function setPendingState(p, cls, label) {
    p.li.classList.remove('pending', 'failed');
    if (cls) p.li.classList.add(cls);
    const slot = p.li.querySelector('.message-state');
    slot.replaceChildren();
    if (label) slot.textContent = label;
    if (cls === 'failed') {
      const retry = document.createElement('button');
      retry.type = 'button';
      retry.className = 'retry';
      retry.textContent = 'Retry';
      retry.addEventListener('click', () => deliver(p.cid));
      slot.append(' ', retry);
    }
  }

  function deliver(cid) {
    const p = state.pending.get(cid);
    if (!p) return;
    setPendingState(p, 'pending', 'sending…');
    request('chat message', { room: p.room, text: p.text, client_id: cid })
      .then((ack) => confirmPending(cid, { id: ack.id, ts: ack.ts }))
      .catch(async (e) => {
        if (!state.pending.has(cid)) return;
        // A new session after a reconnection: the queued send can reach the
        // server before the rooms are joined again. Join, then send again
        // (the same client_id: stored once).
        const room = state.rooms.get(p.roomId);
        if (/join the room/.test(e.message) && room && !p.rejoined) {
          p.rejoined = true;
          if (await join(room)) return deliver(cid);
        }
        setPendingState(p, 'failed', 'Not sent: ' + e.message + '.');
        if (p.roomId !== state.current) setStatus('a message to #' + p.room + ' was not sent', true);
      });
  }

  /* Our message cid is stored as {id, ts}: the pending <li> becomes it. */
  function confirmPending(cid, msg) {
    const p = state.pending.get(cid);
    if (!p || !msg.id) return;
    state.pending.delete(cid);
    track(p.roomId).seen.add(msg.id);
    const v = state.view;
    if (!v || v.roomId !== p.roomId || !p.li.isConnected) return;
    if (v.seen.has(msg.id)) {
      p.li.remove(); // shown already (history or a duplicate)
      render.tidyDays(el.messages);
      return;
    }
    setPendingState(p, null, '');
    p.li.setAttribute('data-id', String(msg.id));
    if (msg.ts) {
      p.li.setAttribute('data-ts', String(msg.ts));
      const time = p.li.querySelector('time');
      setTime(time, msg.ts);
      p.li.querySelector('.gutter-time').textContent = render.shortTime(msg.ts);
    }
    v.seen.add(msg.id);
    p.li.remove();
    placeById(p.li, msg.id);
    v.newest = Math.max(v.newest, msg.id);
    v.oldest = v.oldest ? Math.min(v.oldest, msg.id) : msg.id;
    scheduleRead();
  }

  function sendMessage(ev) {
    if (ev) ev.preventDefault();
    const room = state.rooms.get(state.current);
    const text = el.text.value;
    if (!room || !text.trim() || el.text.disabled) return;
    const cid = clientId();
    const li = messageItem({ user: state.me, text, ts: Date.now() });
    li.setAttribute('data-client-id', cid);
    const p = { cid, li, roomId: room.id, room: room.name, text, rejoined: false };
    state.pending.set(cid, p);
    el.messages.append(li);
    regroup(li);
    el.empty.hidden = true;
    el.text.value = '';
    autosize();
    scrollToBottom();
    deliver(cid);
  }

  // --- live events -----------------------------------------------------------------

  function onChatMessage(msg) {
    if (!msg || typeof msg.id !== 'number') return;
    if (msg.client_id && state.pending.has(msg.client_id)) {
      confirmPending(msg.client_id, msg);
      return;
    }
    const roomId = roomIdOf(msg);
    if (!roomId) return;
    const t = track(roomId);
    const fresh = !t.seen.has(msg.id);
    t.seen.add(msg.id);
    const room = state.rooms.get(roomId);
    if (room && msg.id > (room.last_message_id || 0)) room.last_message_id = msg.id;
    if (roomId === state.current) {
      clearTyping(msg.user);
      if (showMessage(msg)) {
        scheduleRead();
        if (document.hidden && msg.user !== state.me) {
          state.unseenHidden++;
          updateTitle();
        }
      }
    } else if (fresh && msg.user !== state.me) {
      t.unread++;
      renderRooms();
    }
  }

  function onUserJoined(ev) {
    const id = state.byName.get(ev && ev.room);
    if (!id) return;
    const set = state.members.get(id) || new Set();
    const isNew = !set.has(ev.user);
    set.add(ev.user);
    state.members.set(id, set);
    const room = state.rooms.get(id);
    if (room) room.online = set.size;
    if (id === state.current) {
      renderMembers();
      if (isNew && ev.user !== state.me) presenceNotice(ev.user, 'joined');
    }
    renderRooms();
  }

  function onUserLeft(ev) {
    const id = state.byName.get(ev && ev.room);
    if (!id || ev.user === state.me) return;
    const set = state.members.get(id);
    const was = set && set.delete(ev.user);
    const room = state.rooms.get(id);
    if (room && set) room.online = set.size;
    if (id === state.current) {
      clearTyping(ev.user);
      renderMembers();
      if (was) presenceNotice(ev.user, 'left');
    }
    renderRooms();
  }

  function onAnnouncement(ev) {
    if (!ev || typeof ev.text !== 'string') return;
    if (state.view) notice('Announcement: ' + ev.text, 'announcement');
    else setStatus('Announcement: ' + ev.text);
  }

  // --- the connection ------------------------------------------------------------

  function connect() {
    if (typeof window.io !== 'function') {
      setBanner('The live connection is unavailable (the Socket.IO client did not load).', null, null, 'error');
      return;
    }
    const replacing = !!state.socket;
    if (state.socket) {
      // A new name: a new socket and session. The rooms of state.joined are
      // joined again on connect; joins and sends in flight on the old socket
      // never complete, so those are started again on the new one.
      state.socket.off();
      state.socket.disconnect();
    }
    state.connected = false;
    state.joining.clear();
    // The auth of every (re)connection: a fresh access token of this
    // browser's cookie session (with a private workspace's token folded in),
    // else the name and the workspace token (account.js).
    const auth = (cb) => window.chatAccount.auth(state.me, state.token).then(cb);
    const socket = window.io(namespace, Object.assign({ auth }, SOCKET_OPTIONS));
    state.socket = socket;
    // moderation.js (edit, delete, moderators' actions) listens on it too
    document.dispatchEvent(new CustomEvent('chat:socket', { detail: { socket } }));
    if (replacing) state.pending.forEach((p) => deliver(p.cid));
    setMeState('connecting…', false);
    clearTimeout(state.connectingTimer);
    state.connectingTimer = setTimeout(() => {
      if (!state.connected && socket === state.socket && socket.active) setBanner('Connecting…');
    }, CONNECTING_BANNER_MS);

    socket.on('connect', () => {
      const first = !state.everConnected;
      state.connected = true;
      state.everConnected = true;
      clearTimeout(state.connectingTimer);
      setBanner(null);
      setMeState('online', true);
      if (!socket.recovered) {
        // A new session: join every room of this session again; the acks'
        // `missed` and a REST catch-up bring what happened meanwhile.
        const names = new Set(state.joined);
        const shown = state.rooms.get(state.current);
        if (shown) names.add(shown.name);
        names.forEach((name) => {
          const id = state.byName.get(name);
          const room = state.rooms.get(id);
          if (!room || state.joining.has(name)) return;
          join(room).then((ack) => {
            if (ack) applyJoinAck(id, ack, false);
          });
        });
        if (!first) catchUp();
      } else {
        // Recovered: the rooms and the missed messages are back, but not who
        // came and went meanwhile; joining the shown room again says.
        const shown = state.rooms.get(state.current);
        if (shown && !state.joining.has(shown.name)) join(shown);
      }
      refreshRooms();
    });

    socket.on('disconnect', (reason) => {
      state.connected = false;
      clearTyping();
      setMeState('offline', false);
      if (reason === 'io client disconnect') return;
      if (reason === 'io server disconnect') {
        const why = state.kicked ? 'You were disconnected: ' + state.kicked : 'The server closed the connection.';
        setBanner(why, 'Reconnect', () => {
          state.kicked = '';
          setBanner('Connecting…');
          socket.connect();
        }, 'error');
        return;
      }
      setBanner('Reconnecting…');
    });

    socket.on('connect_error', (err) => {
      const msg = (err && err.message) || 'connection failed';
      if (socket.active) {
        // A transport error: socket.io-client tries again by itself.
        if (state.everConnected) setBanner('Reconnecting…');
        return;
      }
      clearTimeout(state.connectingTimer);
      setMeState('offline', false);
      if (msg === 'unauthorized') {
        setBanner(null);
        state.token = '';
        saveLocal(TOKEN_KEY, '');
        showGate(state.isPrivate || namespace !== '/' ? 'This workspace needs a valid access token.' : '');
        return;
      }
      if (/name/i.test(msg)) {
        setBanner(null);
        showWelcome(msg);
        return;
      }
      setBanner('Cannot connect: ' + msg, 'Retry', () => {
        setBanner('Connecting…');
        socket.connect();
      }, 'error');
    });

    socket.on('session', (info) => {
      if (info && typeof info.user === 'string' && info.user !== state.me) {
        state.me = info.user; // the server's form of the name (trimmed, NFC)
        if (!info.user.startsWith('~')) saveLocal(NAME_KEY, info.user);
        renderMe();
      }
      // info.token is not kept: the cookie session is this browser's
      // credential, and auth() mints a token for each reconnection.
    });
    socket.on('chat message', onChatMessage);
    socket.on('typing', onTyping);
    socket.on('user joined', onUserJoined);
    socket.on('user left', onUserLeft);
    socket.on('user connected', () => scheduleRoomsRefresh(1500));
    socket.on('user disconnected', () => scheduleRoomsRefresh(1500));
    socket.on('room created', (room) => {
      if (room && typeof room.id === 'number') upsertRoom(room);
    });
    socket.on('room deleted', (room) => {
      if (room && typeof room.id === 'number') {
        forgetRoom(room.id);
        renderRooms();
      }
    });
    socket.on('announcement', onAnnouncement);
    socket.on('kicked', (ev) => {
      state.kicked = (ev && ev.reason) || 'removed by an administrator';
    });
  }

  // --- dialogs ---------------------------------------------------------------------

  function openOverlay(overlay, input) {
    overlay.hidden = false;
    el.app.inert = true;
    el.banner.inert = true;
    input.focus();
    input.select();
  }

  function closeOverlay(overlay) {
    overlay.hidden = true;
    if (el.welcome.hidden && el.gate.hidden) {
      el.app.inert = false;
      el.banner.inert = false;
    }
  }

  function showWelcome(error) {
    el.name.value = state.me;
    el.nameError.textContent = error || '';
    el.nameError.hidden = !error;
    openOverlay(el.welcome, el.name);
  }

  function showGate(error) {
    el.token.value = '';
    el.tokenError.textContent = error || '';
    el.tokenError.hidden = !error;
    openOverlay(el.gate, el.token);
  }

  function onNameSubmit(ev) {
    ev.preventDefault();
    const name = el.name.value.trim();
    const problem = nameProblem(name);
    if (problem) {
      el.nameError.textContent = problem;
      el.nameError.hidden = false;
      el.name.focus();
      return;
    }
    const changed = name !== state.me || !state.socket;
    const password = $('password').value;
    $('password').value = '';
    if (!changed && !password) {
      closeOverlay(el.welcome);
      focusComposer();
      return;
    }
    window.chatAccount.enter(name, password, state.me).then(
      (taken) => signedIn(taken),
      (e) => {
        el.nameError.textContent = e.message;
        el.nameError.hidden = false;
        el.name.focus();
      },
    );
  }

  /* This browser holds a session for name now (account.js). */
  function signedIn(name) {
    const changed = name !== state.me || !state.socket;
    state.me = name;
    saveLocal(NAME_KEY, name);
    renderMe();
    closeOverlay(el.welcome);
    if (changed) begin();
    focusComposer();
  }

  function onTokenSubmit(ev) {
    ev.preventDefault();
    const token = el.token.value.trim();
    if (!token) return;
    state.token = token;
    saveLocal(TOKEN_KEY, token);
    closeOverlay(el.gate);
    begin();
  }

  /* Connects once the page has a name (and a token for a private workspace). */
  function begin() {
    if (!state.me) {
      showWelcome();
      return;
    }
    if (state.isPrivate && !state.token) {
      showGate();
      return;
    }
    connect();
    if (state.rooms.size === 0) refreshRooms();
    else if (state.current === null) openInitialRoom();
    else {
      const room = state.rooms.get(state.current);
      if (room && !state.joining.has(room.name)) join(room).then((ack) => ack && applyJoinAck(room.id, ack, true));
    }
  }

  // --- layout and keyboard -------------------------------------------------------------

  const narrow = window.matchMedia('(max-width: 720px)');

  function openSidebar() {
    el.body.classList.add('show-rooms');
    el.menuOpen.setAttribute('aria-expanded', 'true');
    const target = el.roomList.querySelector('[aria-current]') || el.roomList.querySelector('a');
    (target || el.roomName).focus();
  }

  function closeSidebar(focusMenu) {
    if (!el.body.classList.contains('show-rooms')) return;
    el.body.classList.remove('show-rooms');
    el.menuOpen.setAttribute('aria-expanded', 'false');
    if (focusMenu) el.menuOpen.focus();
  }

  function focusComposer() {
    if (!el.text.disabled && !(narrow.matches && el.body.classList.contains('show-rooms'))) el.text.focus();
  }

  function autosize() {
    el.text.style.height = 'auto'; // CSSOM, allowed under style-src 'self'
    el.text.style.height = Math.min(el.text.scrollHeight + 2, 160) + 'px';
  }

  async function createRoom(ev) {
    ev.preventDefault();
    const name = el.roomName.value.trim();
    if (!name) return;
    el.roomError.hidden = true;
    const button = el.roomForm.querySelector('button');
    button.disabled = true;
    try {
      const ack = await request('create room', { name });
      el.roomName.value = '';
      upsertRoom(ack.room);
      openRoom(ack.room.id, { focus: true });
    } catch (e) {
      const existing = state.byName.get(name);
      if (/exists/.test(e.message) && existing) {
        el.roomName.value = '';
        openRoom(existing, { focus: true });
      } else {
        el.roomError.textContent = e.message === 'not connected' ? 'Not connected yet.' : e.message;
        el.roomError.hidden = false;
      }
    } finally {
      button.disabled = false;
    }
  }

  function wire() {
    document.querySelector('.skip-link').addEventListener('click', (ev) => {
      ev.preventDefault();
      closeSidebar(false);
      if (!el.text.disabled) el.text.focus();
      else el.roomName.focus();
    });
    el.composer.addEventListener('submit', sendMessage);
    el.text.addEventListener('input', () => {
      autosize();
      emitTyping();
    });
    el.text.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) sendMessage(ev);
    });
    el.roomForm.addEventListener('submit', createRoom);
    el.older.addEventListener('click', loadOlder);
    el.wrap.addEventListener('scroll', onMessagesScroll, { passive: true });
    el.wrap.addEventListener('keydown', onMessagesKey);
    el.jump.addEventListener('click', () => {
      scrollToBottom();
      updateJump();
      focusComposer();
    });
    el.membersToggle.addEventListener('click', () => {
      if (el.body.classList.contains('show-members')) closeMembers(true);
      else openMembers();
    });
    el.membersClose.addEventListener('click', () => closeMembers(true));
    el.roomList.addEventListener('click', (ev) => {
      const a = ev.target.closest('a[data-room-id]');
      if (!a) return;
      ev.preventDefault();
      const id = Number(a.getAttribute('data-room-id'));
      if (id !== state.current) openRoom(id, { focus: true });
      else {
        closeSidebar(false);
        focusComposer();
      }
    });
    el.menuOpen.addEventListener('click', openSidebar);
    el.menuClose.addEventListener('click', () => closeSidebar(true));
    document.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Escape') return;
      if (!el.welcome.hidden && state.me && state.socket) {
        closeOverlay(el.welcome);
        focusComposer();
      } else if (narrow.matches && el.body.classList.contains('show-rooms')) {
        closeSidebar(true);
      } else if (el.body.classList.contains('show-members')) {
        closeMembers(true);
      }
    });
    el.changeName.addEventListener('click', () => showWelcome());
    el.nameForm.addEventListener('submit', onNameSubmit);
    el.tokenForm.addEventListener('submit', onTokenSubmit);
    el.bannerAction.addEventListener('click', () => {
      if (bannerHandler) bannerHandler();
    });
    window.addEventListener('hashchange', () => {
      const m = /^#room-(\d+)$/.exec(location.hash);
      const id = m ? Number(m[1]) : null;
      if (id && id !== state.current && state.rooms.has(id)) openRoom(id);
    });
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) return;
      state.unseenHidden = 0;
      updateTitle();
      markRead();
      refreshRooms();
    });
    setInterval(() => {
      if (!document.hidden) refreshRooms();
    }, ROOMS_REFRESH_MS);
  }

  async function start() {
    // The name is the cookie session's (HttpOnly: asked of the server).
    state.me = await window.chatAccount.resume();
    window.addEventListener('chat:signed-in', (ev) => signedIn(ev.detail.name));
    state.token = namespace !== '/' ? loadLocal(TOKEN_KEY) : '';
    renderMe();
    setMeState('offline', false);
    wire();
    (Array.isArray(boot.rooms) ? boot.rooms : []).forEach(indexRoom);
    renderRooms();
    if (boot.offline) setStatus('database unavailable', true);
    // Show the room behind the dialog, so the page is never empty.
    if (!state.isPrivate || state.token) openInitialRoom();
    begin();
  }

  start();
})();
