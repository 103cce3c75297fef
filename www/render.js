/* render.js -- how the chat page shows things: message text (links, `code`,
 * code blocks), day separators and times in the viewer's time zone, and the
 * collapsed join/leave line. Loaded before chat.js; exports `ChatRender`.
 *
 * No user string ever becomes HTML: every piece reaches the DOM through
 * createElement and textContent, and a link is made only from an http: or
 * https: URL that the URL parser accepts (never javascript:, data: or any
 * other scheme). */
(() => {
  'use strict';

  // --- message text ------------------------------------------------------------

  // A code block: ``` ... ``` (an optional language word on the opening line
  // is kept as text of the block, as plain chat clients do not highlight).
  const FENCE = /```\n?([\s\S]*?)```/g;
  // Inline code: `...` on one line.
  const INLINE_CODE = /`([^`\n]+)`/g;
  // A URL candidate: http:// or https:// up to whitespace or a character
  // that cannot end a URL in running text.
  const URL_CANDIDATE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  // Punctuation that ends a sentence rather than the URL ("see https://x.org.").
  const TRAILING = /[.,;:!?*_~'"»”’]+$/;

  /* Cuts a closing parenthesis off url when it has no opening one inside
   * ("(see https://example.org/a)"); keeps "https://en.wikipedia.org/wiki/C_(language)". */
  function trimUrl(raw) {
    let url = raw.replace(TRAILING, '');
    while (url.endsWith(')') && (url.match(/\(/g) || []).length < (url.match(/\)/g) || []).length) {
      url = url.slice(0, -1).replace(TRAILING, '');
    }
    return url;
  }

  /* The href of an http(s) URL, or null when it is not one. */
  function safeHref(text) {
    let u;
    try {
      u = new URL(text);
    } catch (e) {
      return null;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    if (!u.hostname) return null;
    return u.href;
  }

  /* Appends text to parent with its http(s) URLs as links. */
  function appendLinked(parent, text) {
    let last = 0;
    URL_CANDIDATE.lastIndex = 0;
    for (let m; (m = URL_CANDIDATE.exec(text)); ) {
      const url = trimUrl(m[0]);
      const href = safeHref(url);
      if (!href) continue;
      if (m.index > last) parent.append(text.slice(last, m.index));
      const a = document.createElement('a');
      a.href = href;
      a.textContent = url; // what the sender wrote, not the parser's form
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      a.className = 'message-link';
      parent.append(a);
      last = m.index + url.length;
      URL_CANDIDATE.lastIndex = last;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  /* Appends a run of text without code blocks: inline code, then links. */
  function appendInline(parent, text) {
    let last = 0;
    INLINE_CODE.lastIndex = 0;
    for (let m; (m = INLINE_CODE.exec(text)); ) {
      if (m.index > last) appendLinked(parent, text.slice(last, m.index));
      const code = document.createElement('code');
      code.className = 'inline-code';
      code.textContent = m[1];
      parent.append(code);
      last = m.index + m[0].length;
    }
    if (last < text.length) appendLinked(parent, text.slice(last));
  }

  /* Fills parent (the message's <p>, emptied first) with text as shown:
   * code blocks, inline code and links; everything else stays text. */
  function fillText(parent, text) {
    parent.replaceChildren();
    let last = 0;
    FENCE.lastIndex = 0;
    for (let m; (m = FENCE.exec(text)); ) {
      if (m.index > last) appendInline(parent, text.slice(last, m.index).replace(/\n$/, ''));
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      pre.className = 'code-block';
      code.textContent = m[1].replace(/\n$/, '');
      pre.append(code);
      parent.append(pre);
      last = m.index + m[0].length;
      if (text[last] === '\n') last++; // the block already ends the line
    }
    if (last < text.length) appendInline(parent, text.slice(last));
  }

  // --- times and days ----------------------------------------------------------

  /* The viewer's calendar day of ts (ms), as "YYYY-M-D" in their time zone. */
  function dayKey(ts) {
    const d = new Date(ts);
    return d.getFullYear() + '-' + (d.getMonth() + 1) + '-' + d.getDate();
  }

  /* "Today", "Yesterday", or the date ("Tuesday, December 1, 2026" in the
   * viewer's locale), relative to now (ms). */
  function dayLabel(ts, now) {
    const today = new Date(now === undefined ? Date.now() : now);
    const key = dayKey(ts);
    if (key === dayKey(today.getTime())) return 'Today';
    const y = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (key === dayKey(y.getTime())) return 'Yesterday';
    return new Date(ts).toLocaleDateString([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
  }

  /* The short time of a message (the day is on its separator). */
  function shortTime(ts) {
    return new Date(ts).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
  }

  /* The full date and time, for the tooltip of a message's time. */
  function fullTime(ts) {
    return new Date(ts).toLocaleString([], {
      weekday: 'long',
      year: 'numeric',
      month: 'long',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  }

  const isMessage = (node) => node && node.classList.contains('message');
  const isDay = (node) => node && node.classList.contains('day');

  function daySeparator(ts) {
    const li = document.createElement('li');
    li.className = 'day';
    li.setAttribute('role', 'separator');
    li.setAttribute('data-day', dayKey(ts));
    const label = document.createElement('span');
    label.textContent = dayLabel(ts);
    li.append(label);
    return li;
  }

  /* After a message li was placed in its list: the day separators between
   * the message before it and the one after it are made right again (one
   * above li when its day differs from the one before, one above the next
   * when that one's day differs from li's). Only the neighbourhood is
   * touched, so placing n messages costs O(n) in all. */
  function placeDays(li) {
    if (!isMessage(li) || !li.parentNode) return;
    let prev = li.previousElementSibling;
    while (prev && !isMessage(prev)) prev = prev.previousElementSibling;
    let next = li.nextElementSibling;
    while (next && !isMessage(next)) next = next.nextElementSibling;
    const stop = next || null;
    for (let n = prev ? prev.nextElementSibling : li.parentNode.firstElementChild; n && n !== stop; ) {
      const after = n.nextElementSibling;
      if (isDay(n)) n.remove();
      n = after;
    }
    const day = (node) => dayKey(Number(node.getAttribute('data-ts')));
    if (!prev || day(prev) !== day(li)) li.parentNode.insertBefore(daySeparator(Number(li.getAttribute('data-ts'))), li);
    if (next && day(next) !== day(li)) {
      // Above whatever leads into next (a "New messages" divider stays next to it).
      let at = next;
      while (at.previousElementSibling && at.previousElementSibling !== li && !isMessage(at.previousElementSibling)) {
        at = at.previousElementSibling;
      }
      li.parentNode.insertBefore(daySeparator(Number(next.getAttribute('data-ts'))), at);
    }
  }

  /* Removes day separators left with no message of their day after them
   * (a pending message that was dropped). */
  function tidyDays(list) {
    list.querySelectorAll('.day').forEach((sep) => {
      let n = sep.nextElementSibling;
      while (n && !isMessage(n) && !isDay(n)) n = n.nextElementSibling;
      if (!isMessage(n)) sep.remove();
    });
  }

  // --- join and leave, collapsed -----------------------------------------------

  const PRESENCE_NAMES = 4; // names spelled out in the collapsed line

  /* Records that user joined or left (kind: 'joined' | 'left') in list: one
   * line "alice joined", or, with more since the last message, "3 joined,
   * 1 left" followed by the names. Returns the line's <li>. */
  function presence(list, user, kind) {
    let li = list.lastElementChild;
    if (!li || !li.classList.contains('presence')) {
      li = document.createElement('li');
      li.className = 'notice presence';
      li.presence = { joined: [], left: [] };
      list.append(li);
    }
    const p = li.presence;
    const mine = kind === 'joined' ? p.joined : p.left;
    if (!mine.includes(user)) mine.push(user);
    const all = p.joined.length + p.left.length;
    let text;
    if (all === 1) text = (p.joined[0] || p.left[0]) + ' ' + (p.joined.length ? 'joined' : 'left');
    else {
      const counts = [];
      if (p.joined.length) counts.push(p.joined.length + ' joined');
      if (p.left.length) counts.push(p.left.length + ' left');
      const names = p.joined.concat(p.left.filter((n) => !p.joined.includes(n)));
      text = counts.join(', ') + ': ' + names.slice(0, PRESENCE_NAMES).join(', ') + (names.length > PRESENCE_NAMES ? ' and ' + (names.length - PRESENCE_NAMES) + ' more' : '');
    }
    li.textContent = text;
    li.title = (p.joined.length ? 'Joined: ' + p.joined.join(', ') : '') + (p.joined.length && p.left.length ? '\n' : '') + (p.left.length ? 'Left: ' + p.left.join(', ') : '');
    return li;
  }

  window.ChatRender = { fillText, safeHref, dayKey, dayLabel, shortTime, fullTime, placeDays, tidyDays, presence };
})();
