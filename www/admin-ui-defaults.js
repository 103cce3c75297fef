/* admin-ui-defaults.js -- loaded first by the Socket.IO Admin UI page (its
 * index.html, rewritten by deploy/install-deps.sh): fills in what its login
 * form needs for this server when nothing was saved yet, so that only the
 * password (an admin token) is to be typed. The Admin UI keeps its settings
 * in localStorage under these keys; its own defaults are an empty server URL
 * and the namespace "/admin", which this server reserves for its own admin
 * protocol (ws/chat/admin_ui.h: the Admin UI's namespace is /socket.io-admin). */
(() => {
  'use strict';
  const defaults = {
    server_url: window.location.origin,
    namespace: '/socket.io-admin',
    path: '/socket.io',
  };
  try {
    for (const [key, value] of Object.entries(defaults)) {
      if (window.localStorage.getItem(key) === null) window.localStorage.setItem(key, value);
    }
  } catch (e) {
    /* storage disabled: the form starts empty, as the Admin UI's own */
  }
})();
