// The channel inspector. Everything comes over /streaming/ws?inspect=1: an
// inspector_snapshot, then channel_message and channel_stats. Message text
// (raw payloads included) is only ever inserted as text.
(() => {
  'use strict';

  const CHANNELS = 8;
  let keep = 20;
  // Per channel: messages newest first, and the counters as last received.
  const view = Array.from({ length: CHANNELS }, () => ({ messages: [], counters: null, countersAt: 0 }));
  const section = (i) => document.getElementById(`channel-${i}`);

  const element = (tag, className, text) => {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = String(text);
    return e;
  };

  const indexOf = (channel) => {
    for (let i = 0; i < CHANNELS; i += 1) {
      if (section(i).querySelector('h2').textContent === channel) return i;
    }
    return -1;
  };

  const age = (seconds) => {
    if (!(seconds >= 0)) return '—';
    if (seconds < 60) return `${seconds.toFixed(0)} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    return `${(seconds / 3600).toFixed(1)} h ago`;
  };

  const textBlock = (className, text) => {
    const pre = element('pre', className, text.text);
    if (text.truncated) pre.appendChild(document.createTextNode(`\n… (${text.bytes} bytes in all)`));
    return pre;
  };

  function renderMessage(m) {
    const li = element('li', 'message');
    li.dataset.id = m.id;
    const outcome = m.error ? 'decode error' : 'decoded';
    li.appendChild(element('div', 'meta', `${new Date(m.received_at).toLocaleTimeString()} · ${m.raw.bytes} bytes · ${outcome}`));
    const pair = element('div', 'pair');
    const raw = element('div', 'side');
    raw.appendChild(element('div', 'label', 'Raw, as received'));
    raw.appendChild(textBlock('raw', m.raw));
    const decoded = element('div', 'side');
    decoded.appendChild(element('div', 'label', 'Decoded by TickStock'));
    if (m.decoded) {
      decoded.appendChild(textBlock('decoded', m.decoded));
    } else if (m.error) {
      const field = m.error.field ? ` (field ${m.error.field})` : '';
      decoded.appendChild(element('p', 'decode-error', `${m.error.message}${field}`));
    }
    pair.append(raw, decoded);
    li.appendChild(pair);
    const marks = element('ul', 'marks');
    for (const fault of m.faults || []) {
      marks.appendChild(element('li', 'fault', `required by seed 004: ${fault.field} ${fault.problem}`));
    }
    for (const name of m.unrecognised || []) {
      marks.appendChild(element('li', 'unrecognised', `not recognised by TickStock: ${name}`));
    }
    if (marks.childElementCount > 0) li.appendChild(marks);
    return li;
  }

  function renderMessages(i) {
    section(i).querySelector('ol.recent').replaceChildren(...view[i].messages.map(renderMessage));
  }

  function renderCounters(i) {
    const c = view[i].counters;
    if (!c) return;
    const s = section(i);
    s.querySelector('.messages').textContent = String(c.messages);
    s.querySelector('.rate').textContent = Number(c.rate_per_second).toFixed(1);
    s.querySelector('.decode-errors').textContent = String(c.decode_errors);
    const seconds = c.age_seconds === null ? null : c.age_seconds + (Date.now() - view[i].countersAt) / 1000;
    s.querySelector('.age').textContent = seconds === null ? 'never' : age(seconds);
  }

  function setCounters(counters) {
    const i = indexOf(counters.channel);
    if (i < 0) return;
    view[i].counters = counters;
    view[i].countersAt = Date.now();
    renderCounters(i);
  }

  function addMessage(m) {
    const i = indexOf(m.channel);
    if (i < 0 || view[i].messages.some((known) => known.id === m.id)) return;
    view[i].messages.unshift(m);
    view[i].messages.sort((a, b) => b.id - a.id);
    view[i].messages.length = Math.min(view[i].messages.length, keep);
    renderMessages(i);
  }

  function applySnapshot(data) {
    keep = data.recent_per_channel || keep;
    (data.channels || []).forEach((channel) => {
      const i = indexOf(channel.counters.channel);
      if (i < 0) return;
      view[i].messages = channel.recent || [];
      renderMessages(i);
      setCounters(channel.counters);
    });
  }

  function dispatch(message) {
    const data = message.data || {};
    switch (message.event) {
      case 'inspector_snapshot':
        return applySnapshot(data);
      case 'channel_message':
        return addMessage(data);
      case 'channel_stats':
        return (data.channels || []).forEach(setCounters);
      default:
        return undefined; // the dashboard's own messages
    }
  }

  setInterval(() => {
    for (let i = 0; i < CHANNELS; i += 1) renderCounters(i);
  }, 1000);
  TickStockLive.connect({ query: () => '?inspect=1', onMessage: dispatch });
})();
