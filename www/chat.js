/* chat.js -- the chat page: rooms, history and the composer over REST, with a
 * transport slot for the live Socket.IO client. Every user string reaches the
 * DOM through textContent, never innerHTML. */
(function () {
  'use strict';

  var POLL_MS = 3000; // REST transport: how often the open room is re-read
  var ROOMS_MS = 15000; // how often the room list (online counts) is re-read
  var PAGE = 50; // messages per history page
  var NAME_KEY = 'chat.name';

  var $ = function (id) {
    return document.getElementById(id);
  };

  var el = {
    body: document.body,
    name: $('name'),
    nameForm: $('name-form'),
    roomList: $('room-list'),
    roomForm: $('room-form'),
    roomName: $('room-name'),
    roomError: $('room-error'),
    title: $('room-title'),
    status: $('status'),
    wrap: $('messages-wrap'),
    older: $('load-older'),
    messages: $('messages'),
    empty: $('empty'),
    typing: $('typing'),
    composer: $('composer'),
    text: $('text'),
    send: $('send'),
    menuOpen: $('menu-open'),
    menuClose: $('menu-close'),
  };

  /* The data the server rendered into <script type="application/json">. */
  function initialData() {
    var node = $('chat-data');
    try {
      return node ? JSON.parse(node.textContent) : {};
    } catch (e) {
      return {};
    }
  }

  var boot = initialData();
  var state = {
    namespace: boot.namespace || el.body.getAttribute('data-namespace') || '/',
    rooms: new Map(), // id -> room
    current: null, // id of the open room
    newest: 0, // highest message id shown
    oldest: 0, // lowest message id shown
    seen: new Set(), // message ids shown in the open room
    transport: null,
  };

  // --- storage ---------------------------------------------------------------

  function loadName() {
    try {
      return localStorage.getItem(NAME_KEY) || '';
    } catch (e) {
      return '';
    }
  }

  function saveName(name) {
    try {
      localStorage.setItem(NAME_KEY, name);
    } catch (e) {
      /* private mode: the name lasts for this page only */
    }
  }

  function userName() {
    return el.name.value.trim() || 'anonymous';
  }

  function clientId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    return Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 12);
  }

  // --- REST ------------------------------------------------------------------

  /* Calls the REST API; resolves to the parsed JSON, rejects with an Error
   * whose message is the server's {"error"} and whose status is the HTTP one. */
  function api(method, path, body) {
    var init = { method: method, headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      return res
        .json()
        .catch(function () {
          return {};
        })
        .then(function (json) {
          if (!res.ok) {
            var err = new Error(json.error || 'HTTP ' + res.status);
            err.status = res.status;
            throw err;
          }
          return json;
        });
    });
  }

  var rest = {
    rooms: function () {
      return api('GET', '/api/rooms?namespace=' + encodeURIComponent(state.namespace)).then(function (r) {
        return r.rooms;
      });
    },
    createRoom: function (name) {
      return api('POST', '/api/rooms', { name: name, namespace: state.namespace });
    },
    history: function (roomId, opts) {
      var q = ['limit=' + ((opts && opts.limit) || PAGE)];
      if (opts && opts.after) q.push('after=' + opts.after);
      if (opts && opts.before) q.push('before=' + opts.before);
      return api('GET', '/api/rooms/' + roomId + '/messages?' + q.join('&')).then(function (r) {
        return r.messages;
      });
    },
    send: function (roomId, user, text, cid) {
      return api('POST', '/api/rooms/' + roomId + '/messages', { user: user, text: text, client_id: cid });
    },
  };

  // --- rendering -------------------------------------------------------------

  function setStatus(text, isError) {
    el.status.textContent = text || '';
    el.status.classList.toggle('error', !!isError);
  }

  function roomItem(room) {
    var li = document.createElement('li');
    var a = document.createElement('a');
    var name = document.createElement('span');
    var online = document.createElement('span');
    a.className = 'room';
    a.href = '#room-' + room.id;
    a.setAttribute('data-room-id', String(room.id));
    if (room.id === state.current) a.setAttribute('aria-current', 'true');
    name.className = 'room-name';
    name.textContent = room.name;
    online.className = 'room-online' + (room.online > 0 ? ' has-online' : '');
    online.title = 'online';
    online.setAttribute('aria-label', room.online + ' online');
    online.textContent = String(room.online || 0);
    a.append(name, online);
    li.append(a);
    return li;
  }

  function renderRooms() {
    var items = [];
    state.rooms.forEach(function (room) {
      items.push(roomItem(room));
    });
    el.roomList.replaceChildren.apply(el.roomList, items);
  }

  function setRooms(list) {
    state.rooms.clear();
    list.forEach(function (room) {
      state.rooms.set(room.id, room);
    });
    renderRooms();
  }

  function upsertRoom(room) {
    state.rooms.set(room.id, Object.assign({}, state.rooms.get(room.id), room));
    renderRooms();
  }

  function formatTime(ts) {
    var d = new Date(ts);
    var now = new Date();
    var opts = { hour: '2-digit', minute: '2-digit' };
    if (d.toDateString() !== now.toDateString()) {
      opts.month = 'short';
      opts.day = 'numeric';
    }
    return d.toLocaleString([], opts);
  }

  /* Builds the <li> of one message {id, room_id, user, text, ts}. */
  function messageItem(msg) {
    var li = document.createElement('li');
    var meta = document.createElement('div');
    var user = document.createElement('span');
    var time = document.createElement('time');
    var text = document.createElement('p');
    li.className = 'message' + (msg.user === userName() ? ' own' : '');
    if (msg.id) li.setAttribute('data-id', String(msg.id));
    meta.className = 'message-meta';
    user.className = 'message-user';
    user.textContent = msg.user;
    time.dateTime = new Date(msg.ts || Date.now()).toISOString();
    time.textContent = formatTime(msg.ts || Date.now());
    text.className = 'message-text';
    text.textContent = msg.text;
    meta.append(user, time);
    li.append(meta, text);
    return li;
  }

  function nearBottom() {
    return el.wrap.scrollHeight - el.wrap.scrollTop - el.wrap.clientHeight < 80;
  }

  function scrollToBottom() {
    el.wrap.scrollTop = el.wrap.scrollHeight;
  }

  /* Shows a message of the open room once, in id order. Returns its <li>. */
  function renderMessage(msg) {
    if (msg.room_id !== state.current || state.seen.has(msg.id)) return null;
    var stick = nearBottom();
    var li = messageItem(msg);
    var next = null;
    state.seen.add(msg.id);
    if (msg.id < state.newest) {
      // Out of order (older page, or a late arrival): insert before the first larger id.
      var items = el.messages.children;
      for (var i = 0; i < items.length; i++) {
        if (Number(items[i].getAttribute('data-id')) > msg.id) {
          next = items[i];
          break;
        }
      }
    }
    el.messages.insertBefore(li, next);
    state.newest = Math.max(state.newest, msg.id);
    state.oldest = state.oldest ? Math.min(state.oldest, msg.id) : msg.id;
    el.empty.hidden = true;
    var room = state.rooms.get(msg.room_id);
    if (room && msg.id > (room.last_message_id || 0)) room.last_message_id = msg.id;
    if (stick && !next) scrollToBottom();
    return li;
  }

  function renderNotice(text) {
    var li = document.createElement('li');
    li.className = 'notice';
    li.textContent = text;
    el.messages.append(li);
  }

  // --- transports --------------------------------------------------------------

  /* The REST transport: sends with POST and re-reads the open room every few
   * seconds. A live transport (Socket.IO) offers the same three functions:
   *   join(roomId, onMessage), leave(roomId), send(roomId, user, text, cid) -> Promise<message>
   * and replaces this one through Chat.setTransport(). */
  function restTransport() {
    var timer = null;
    var polling = false;

    function poll(roomId, onMessage) {
      if (polling || document.hidden || roomId !== state.current) return;
      polling = true;
      rest
        .history(roomId, { after: state.newest || undefined, limit: 500 })
        .then(function (msgs) {
          msgs.forEach(onMessage);
          setStatus('');
        })
        .catch(function (e) {
          setStatus('offline: ' + e.message, true);
        })
        .then(function () {
          polling = false;
        });
    }

    return {
      name: 'rest',
      join: function (roomId, onMessage) {
        clearInterval(timer);
        timer = setInterval(function () {
          poll(roomId, onMessage);
        }, POLL_MS);
      },
      leave: function () {
        clearInterval(timer);
        timer = null;
      },
      send: function (roomId, user, text, cid) {
        return rest.send(roomId, user, text, cid);
      },
    };
  }

  function setTransport(t) {
    if (state.transport && state.current) state.transport.leave(state.current);
    state.transport = t;
    if (state.current) t.join(state.current, renderMessage);
  }

  // --- actions -----------------------------------------------------------------

  function roomFromHash() {
    var m = /^#room-(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : null;
  }

  function setComposer(enabled) {
    el.text.disabled = !enabled;
    el.send.disabled = !enabled;
  }

  function selectRoom(id) {
    var room = state.rooms.get(id);
    if (!room) return;
    if (state.current && state.transport) state.transport.leave(state.current);
    state.current = id;
    state.newest = 0;
    state.oldest = 0;
    state.seen = new Set();
    el.messages.replaceChildren();
    el.title.textContent = '# ' + room.name;
    document.title = room.name + ' · Chat';
    el.older.hidden = true;
    el.empty.hidden = true;
    el.body.classList.remove('show-rooms');
    renderRooms();
    setComposer(true);
    if (location.hash !== '#room-' + id) history.replaceState(null, '', '#room-' + id);
    setStatus('loading…');
    rest
      .history(id, { limit: PAGE })
      .then(function (msgs) {
        if (state.current !== id) return;
        msgs.forEach(renderMessage);
        el.empty.hidden = msgs.length > 0;
        el.older.hidden = msgs.length < PAGE;
        scrollToBottom();
        setStatus('');
        state.transport.join(id, renderMessage);
      })
      .catch(function (e) {
        setStatus(e.message, true);
      });
  }

  function loadOlder() {
    var id = state.current;
    if (!id || !state.oldest) return;
    var height = el.wrap.scrollHeight;
    el.older.disabled = true;
    rest
      .history(id, { before: state.oldest, limit: PAGE })
      .then(function (msgs) {
        if (state.current !== id) return;
        msgs.forEach(renderMessage);
        el.older.hidden = msgs.length < PAGE;
        el.wrap.scrollTop += el.wrap.scrollHeight - height; // keep the view still
      })
      .catch(function (e) {
        setStatus(e.message, true);
      })
      .then(function () {
        el.older.disabled = false;
      });
  }

  function sendMessage(ev) {
    ev.preventDefault();
    var text = el.text.value;
    var roomId = state.current;
    if (!roomId || !text.trim()) return;
    var pending = messageItem({ user: userName(), text: text, ts: Date.now(), room_id: roomId });
    pending.classList.add('pending');
    el.messages.append(pending);
    el.empty.hidden = true;
    scrollToBottom();
    el.text.value = '';
    autosize();
    state.transport
      .send(roomId, userName(), text, clientId())
      .then(function (msg) {
        pending.remove();
        renderMessage(msg);
        setStatus('');
      })
      .catch(function (e) {
        pending.classList.remove('pending');
        pending.classList.add('failed');
        pending.title = e.message;
        setStatus('not sent: ' + e.message, true);
        if (!el.text.value) el.text.value = text;
      });
  }

  function createRoom(ev) {
    ev.preventDefault();
    var name = el.roomName.value.trim();
    if (!name) return;
    el.roomError.hidden = true;
    rest
      .createRoom(name)
      .then(function (room) {
        el.roomName.value = '';
        upsertRoom(room);
        selectRoom(room.id);
      })
      .catch(function (e) {
        if (e.status === 409) {
          // It exists: open it.
          var found = null;
          state.rooms.forEach(function (r) {
            if (r.name === name) found = r;
          });
          if (found) {
            el.roomName.value = '';
            selectRoom(found.id);
            return;
          }
        }
        el.roomError.textContent = e.message;
        el.roomError.hidden = false;
      });
  }

  function refreshRooms() {
    if (document.hidden) return Promise.resolve();
    return rest
      .rooms()
      .then(setRooms)
      .catch(function (e) {
        setStatus('offline: ' + e.message, true);
      });
  }

  function autosize() {
    el.text.style.height = 'auto'; // CSSOM, allowed under style-src 'self'
    el.text.style.height = Math.min(el.text.scrollHeight + 2, 160) + 'px';
  }

  // --- wiring ------------------------------------------------------------------

  function start() {
    el.name.value = loadName();
    el.name.addEventListener('change', function () {
      el.name.value = el.name.value.trim().slice(0, 32);
      saveName(el.name.value);
    });
    el.nameForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      saveName(el.name.value.trim());
      el.text.focus();
    });
    el.roomForm.addEventListener('submit', createRoom);
    el.composer.addEventListener('submit', sendMessage);
    el.text.addEventListener('input', autosize);
    el.text.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) sendMessage(ev);
    });
    el.older.addEventListener('click', loadOlder);
    el.menuOpen.addEventListener('click', function () {
      el.body.classList.add('show-rooms');
    });
    el.menuClose.addEventListener('click', function () {
      el.body.classList.remove('show-rooms');
    });
    el.roomList.addEventListener('click', function (ev) {
      var a = ev.target.closest('a[data-room-id]');
      if (!a) return;
      ev.preventDefault();
      selectRoom(Number(a.getAttribute('data-room-id')));
    });
    window.addEventListener('hashchange', function () {
      var id = roomFromHash();
      if (id && id !== state.current) selectRoom(id);
    });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) refreshRooms();
    });

    setTransport(restTransport());
    setRooms(Array.isArray(boot.rooms) ? boot.rooms : []);
    if (boot.offline) setStatus('database unavailable', true);
    setInterval(refreshRooms, ROOMS_MS);

    var first = roomFromHash();
    if (!state.rooms.has(first)) first = state.rooms.size ? state.rooms.keys().next().value : null;
    if (first) selectRoom(first);
    else renderNotice('No room yet: create one.');
  }

  /* The page's parts, for the live transport to build on. */
  window.Chat = {
    state: state,
    api: api,
    rest: rest,
    render: { rooms: renderRooms, room: upsertRoom, message: renderMessage, notice: renderNotice, status: setStatus },
    selectRoom: selectRoom,
    setTransport: setTransport,
    userName: userName,
    clientId: clientId,
    socketAvailable: typeof window.io === 'function',
  };

  start();
})();
