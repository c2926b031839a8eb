// The live connection the dashboard and the inspector share: /streaming/ws,
// reconnected with exponential backoff and full jitter (capped at 30 s), its
// state shown in #connection. An expired login cannot be read from the close
// event: the server refuses the handshake with HTTP 401, which a browser
// reports as 1006. So after a close the page asks the status route, and a 401
// there sends it to the login page instead of retrying for ever. A login that
// ends while connected (logout, revoked, role changed) is closed with 4401:
// straight to the login page.
window.TickStockLive = (() => {
  'use strict';

  const LOGIN_ENDED = 4401;

  function setConnection(text, className) {
    const element = document.getElementById('connection');
    element.textContent = text;
    element.className = `connection ${className}`;
  }

  async function signedOut() {
    try {
      const response = await fetch('/streaming/api/status', { cache: 'no-store' });
      return response.status === 401;
    } catch (error) {
      return false; // the server is away: keep trying
    }
  }

  // query(): the query string of the next connection (e.g. '?last_seq=5').
  // onMessage(message, socket): each message, batches unpacked, in order.
  // onState(open): after each open (true) and close (false); while open, the
  // caller may say more precisely how current the frames are (setConnection).
  function connect({ query, onMessage, onState }) {
    let attempt = 0;
    const open = () => {
      const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
      const socket = new WebSocket(`${scheme}${location.host}/streaming/ws${query()}`);
      socket.addEventListener('open', () => {
        attempt = 0;
        setConnection('live', 'live');
        if (onState) onState(true);
      });
      socket.addEventListener('message', (event) => {
        let parsed;
        try {
          parsed = JSON.parse(event.data);
        } catch (error) {
          return;
        }
        for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
          // A message may close the socket (a resync); the rest of its frame
          // is then stale: the reconnection brings a fresh snapshot.
          if (socket.readyState !== WebSocket.OPEN) break;
          onMessage(message, socket);
        }
      });
      socket.addEventListener('close', async (event) => {
        if (onState) onState(false);
        const toLogin = () => {
          location.href = `/login?next=${encodeURIComponent(location.pathname)}`;
        };
        if (event.code === LOGIN_ENDED) {
          setConnection('signed out', 'reconnecting');
          toLogin();
          return;
        }
        const why = event.code === 4008 ? ' (too slow)' : '';
        setConnection(`reconnecting${why}…`, 'reconnecting');
        if (await signedOut()) {
          toLogin();
          return;
        }
        const delay = Math.random() * Math.min(30000, 500 * 2 ** attempt);
        attempt += 1;
        setTimeout(open, delay);
      });
    };
    open();
  }

  return { connect, setConnection };
})();
