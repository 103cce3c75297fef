/* moderation.js -- on the chat page: edit and delete your own messages (Arrow-up
 * in an empty composer edits your last one), and the moderators' actions
 * (delete any message, mute, ban). It talks over chat.js's socket, which
 * chat.js announces with a `chat:socket` event on document, and keeps the
 * shown messages in step with `message edited` / `message deleted`.
 *
 * Every user string reaches the DOM through textContent, never as HTML. */
(() => {
  'use strict';

  const messages = document.getElementById('messages');
  const composer = document.getElementById('text');
  // The contract's edit window, as the server renders it on <body>.
  const EDIT_WINDOW_MS = Number(document.body.getAttribute('data-edit-window-max'));
  const MUTE_MINUTES = 10; // what the page's "Mute" gives

  let socket = null;
  let role = null; // 'member', 'moderator', 'owner' in this namespace; null for a guest

  const isModerator = () => role === 'moderator' || role === 'owner';
  const idOf = (li) => Number(li.getAttribute('data-id'));
  const own = (li) => li.classList.contains('own');
  const editable = (li) => own(li) && Date.now() - Number(li.getAttribute('data-ts')) <= EDIT_WINDOW_MS;

  function request(event, arg) {
    if (!socket || !socket.connected) return Promise.resolve({ error: 'not connected' });
    return socket
      .timeout(10000)
      .emitWithAck(event, arg)
      .catch(() => ({ error: 'no answer, try again' }));
  }

  /* A short line under a message: what an action did or why it failed. */
  function say(li, text, isError) {
    let p = li.querySelector('.moderation-note');
    if (!p) {
      p = document.createElement('p');
      p.className = 'moderation-note';
      p.setAttribute('role', 'status');
      li.querySelector('.message-body').append(p);
    }
    p.classList.toggle('error', !!isError);
    p.textContent = text;
  }

  function button(label, action, title) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'message-action';
    b.textContent = label;
    b.setAttribute('data-action', action);
    if (title) b.title = title;
    return b;
  }

  /* The actions a message offers this user, refreshed when the role is
   * known. Confirmed or history messages only (they have an id). */
  function decorate(li) {
    if (!li.classList || !li.classList.contains('message') || !li.getAttribute('data-id')) return;
    const old = li.querySelector('.message-actions');
    if (old) old.remove();
    const bar = document.createElement('div');
    bar.className = 'message-actions';
    if (own(li) && editable(li)) bar.append(button('Edit', 'edit'));
    if (own(li) || isModerator()) bar.append(button('Delete', 'delete'));
    if (!own(li) && isModerator() && !li.getAttribute('data-user').startsWith('~')) {
      bar.append(button('Mute', 'mute', `Mute for ${MUTE_MINUTES} minutes`), button('Ban', 'ban'));
    }
    if (bar.childElementCount) li.querySelector('.message-body').append(bar);
  }

  function decorateAll() {
    messages.querySelectorAll('.message[data-id]').forEach(decorate);
  }

  // --- editing ----------------------------------------------------------------------

  function startEdit(li) {
    if (li.querySelector('.message-edit')) return;
    const text = li.querySelector('.message-text');
    const form = document.createElement('form');
    const area = document.createElement('textarea');
    const save = document.createElement('button');
    const cancel = document.createElement('button');
    form.className = 'message-edit';
    area.className = 'message-edit-text';
    area.value = text.textContent;
    area.rows = Math.min(6, area.value.split('\n').length + 1);
    area.setAttribute('aria-label', 'Edit your message');
    save.type = 'submit';
    save.textContent = 'Save';
    cancel.type = 'button';
    cancel.textContent = 'Cancel';
    form.append(area, save, cancel);
    text.hidden = true;
    text.after(form);
    const done = () => {
      form.remove();
      text.hidden = false;
    };
    cancel.addEventListener('click', () => {
      done();
      composer.focus();
    });
    area.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        ev.stopPropagation();
        done();
        composer.focus();
      } else if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const value = area.value;
      if (!value.trim() || value === text.textContent) return done();
      save.disabled = true;
      const res = await request('edit message', { id: idOf(li), text: value });
      save.disabled = false;
      if (res && res.ok) {
        applyEdit({ id: idOf(li), text: value });
        done();
        composer.focus();
      } else {
        say(li, (res && res.error) || 'the edit failed', true);
      }
    });
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }

  function applyEdit(ev) {
    const li = messages.querySelector('.message[data-id="' + ev.id + '"]');
    if (!li) return;
    li.querySelector('.message-text').textContent = ev.text;
    li.classList.add('edited');
  }

  function applyDelete(ev) {
    const li = messages.querySelector('.message[data-id="' + ev.id + '"]');
    if (!li) return;
    const next = li.nextElementSibling;
    li.remove();
    // the next message of the same user is no longer a continuation
    if (next && next.classList.contains('cont')) next.classList.remove('cont');
  }

  // --- actions ----------------------------------------------------------------------

  async function act(li, action) {
    const user = li.getAttribute('data-user');
    if (action === 'edit') return startEdit(li);
    if (action === 'delete') {
      if (!window.confirm(own(li) ? 'Delete your message?' : `Delete this message by ${user}?`)) return;
      const res = await request('delete message', { id: idOf(li) });
      if (res && res.ok) applyDelete({ id: idOf(li) });
      else say(li, (res && res.error) || 'the deletion failed', true);
      return;
    }
    if (action === 'mute') {
      const res = await request('mute', { user, minutes: MUTE_MINUTES });
      say(li, res && res.ok ? `${user} is muted for ${MUTE_MINUTES} minutes` : (res && res.error) || 'failed', !(res && res.ok));
      return;
    }
    if (action === 'ban') {
      if (!window.confirm(`Ban ${user} from this workspace?`)) return;
      const res = await request('ban', { user });
      say(li, res && res.ok ? `${user} is banned` : (res && res.error) || 'failed', !(res && res.ok));
    }
  }

  messages.addEventListener('click', (ev) => {
    const b = ev.target.closest('button.message-action');
    if (!b) return;
    const li = b.closest('.message');
    if (li) act(li, b.getAttribute('data-action'));
  });

  // Arrow-up in the empty composer edits your last message (within the window).
  composer.addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowUp' || composer.value !== '' || ev.isComposing) return;
    const mine = Array.from(messages.querySelectorAll('.message.own[data-id]')).filter(editable);
    if (!mine.length) return;
    ev.preventDefault();
    startEdit(mine[mine.length - 1]);
  });

  // New messages get their actions as chat.js adds them.
  new MutationObserver((records) => {
    for (const r of records) r.addedNodes.forEach((n) => n.nodeType === 1 && decorate(n));
    // a pending message gets its id when confirmed
    for (const r of records) if (r.type === 'attributes' && r.attributeName === 'data-id') decorate(r.target);
  }).observe(messages, { childList: true, attributes: true, attributeFilter: ['data-id'], subtree: true });

  document.addEventListener('chat:socket', (ev) => {
    socket = ev.detail.socket;
    role = null;
    socket.on('connect', async () => {
      const res = await request('role', {});
      role = res && typeof res.role === 'string' ? res.role : null;
      decorateAll();
    });
    socket.on('message edited', (e) => e && typeof e.id === 'number' && applyEdit(e));
    socket.on('message deleted', (e) => e && typeof e.id === 'number' && applyDelete(e));
  });
})();
