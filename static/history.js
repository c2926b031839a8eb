// The history page: one page of rows at a time from the history API, newest
// first. "Older" follows the page's next_cursor, "Newer" goes back; the CSV
// link is the API URL of exactly the page shown. Filters come from the form,
// or preset from the page's own query (?kind=&symbol=&type=&hours=).
// Every value is shown as text (textContent), never as HTML.
'use strict';

(function () {
  const PAGE_ROWS = 100;
  const KINDS = {
    patterns: {
      url: '/streaming/api/patterns', rows: 'patterns', type: 'pattern_type', symbol: true,
      columns: ['detected_at', 'symbol', 'pattern_type', 'confidence', 'timeframe', 'bar_close', 'session_id'],
    },
    alerts: {
      url: '/streaming/api/alerts', rows: 'alerts', type: 'alert_type', symbol: true,
      columns: ['triggered_at', 'kind', 'symbol', 'alert_type', 'severity', 'component', 'message'],
    },
    health: {
      url: '/streaming/api/health/history', rows: 'health', type: 'status', symbol: false,
      columns: ['measured_at', 'status', 'active_symbols', 'ticks_per_second', 'processing_lag_ms',
        'cpu_percent', 'memory_mb'],
    },
    sessions: {
      url: '/streaming/api/sessions', rows: 'sessions', type: null, symbol: false,
      columns: ['started_at', 'stopped_at', 'session_id', 'universe', 'symbol_count', 'total_patterns',
        'final_status'],
    },
  };

  const form = document.getElementById('history-filters');
  const kindInput = document.getElementById('filter-kind');
  const symbolInput = document.getElementById('filter-symbol');
  const typeInput = document.getElementById('filter-type');
  const hoursInput = document.getElementById('filter-hours');
  const statusLine = document.getElementById('history-status');
  const head = document.getElementById('history-head');
  const body = document.getElementById('history-rows');
  const newer = document.getElementById('history-newer');
  const older = document.getElementById('history-older');
  const csvLink = document.getElementById('history-csv');

  // The cursor each page shown so far started after (null: the first page).
  let cursors = [null];
  let nextCursor = null;
  let filters = null;
  let loading = 0;

  function readQuery() {
    const query = new URLSearchParams(window.location.search);
    const kind = query.get('kind');
    if (kind && KINDS[kind] && [...kindInput.options].some((o) => o.value === kind)) {
      kindInput.value = kind;
    }
    symbolInput.value = query.get('symbol') || '';
    typeInput.value = query.get('type') || '';
    const hours = query.get('hours') || '';
    if ([...hoursInput.options].some((o) => o.value === hours)) hoursInput.value = hours;
  }

  function readForm() {
    const kind = KINDS[kindInput.value] ? kindInput.value : 'patterns';
    const spec = KINDS[kind];
    symbolInput.disabled = !spec.symbol;
    typeInput.disabled = !spec.type;
    return {
      kind,
      symbol: spec.symbol ? symbolInput.value.trim().toUpperCase() : '',
      type: spec.type ? typeInput.value.trim() : '',
      hours: hoursInput.value,
    };
  }

  function apiUrl(before, format) {
    const spec = KINDS[filters.kind];
    const query = new URLSearchParams();
    if (filters.symbol) query.set('symbol', filters.symbol);
    if (filters.type) query.set(spec.type, filters.type);
    if (filters.hours) query.set('hours', filters.hours);
    query.set('limit', String(PAGE_ROWS));
    if (before) query.set('before', before);
    if (format) query.set('format', format);
    return spec.url + '?' + query.toString();
  }

  function pageUrl() {
    const query = new URLSearchParams({ kind: filters.kind });
    if (filters.symbol) query.set('symbol', filters.symbol);
    if (filters.type) query.set('type', filters.type);
    if (filters.hours) query.set('hours', filters.hours);
    return '/history?' + query.toString();
  }

  function text(value) {
    if (value === null || value === undefined) return '—';
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  function render(spec, rows) {
    const headRow = document.createDocumentFragment();
    for (const column of spec.columns) {
      const th = document.createElement('th');
      th.textContent = column;
      headRow.appendChild(th);
    }
    const rowsFragment = document.createDocumentFragment();
    for (const row of rows) {
      const tr = document.createElement('tr');
      for (const column of spec.columns) {
        const td = document.createElement('td');
        td.textContent = text(row[column]);
        tr.appendChild(td);
      }
      rowsFragment.appendChild(tr);
    }
    // One paint for the whole page of rows.
    window.requestAnimationFrame(() => {
      head.replaceChildren(headRow);
      body.replaceChildren(rowsFragment);
    });
  }

  async function load() {
    const ticket = ++loading;
    const before = cursors[cursors.length - 1];
    const spec = KINDS[filters.kind];
    newer.disabled = true;
    older.disabled = true;
    csvLink.href = apiUrl(before, 'csv');
    statusLine.textContent = 'Loading…';
    let answer;
    try {
      const response = await fetch(apiUrl(before, null), {
        credentials: 'same-origin',
        headers: { accept: 'application/json' },
      });
      if (response.status === 401) {
        window.location.assign('/login?next=' + encodeURIComponent(pageUrl()));
        return;
      }
      answer = await response.json();
      if (!response.ok) throw new Error(answer.error || ('HTTP ' + response.status));
    } catch (error) {
      if (ticket !== loading) return;
      statusLine.textContent = 'Cannot load the history: ' + error.message;
      render(spec, []);
      return;
    }
    if (ticket !== loading) return;
    const rows = Array.isArray(answer[spec.rows]) ? answer[spec.rows] : [];
    nextCursor = answer.next_cursor || null;
    render(spec, rows);
    const first = (cursors.length - 1) * PAGE_ROWS;
    if (rows.length === 0) {
      statusLine.textContent = cursors.length === 1
        ? 'Nothing matched these filters.'
        : 'No more rows.';
    } else {
      const last = nextCursor ? '' : ' (the last)';
      statusLine.textContent = `Rows ${first + 1}–${first + rows.length}${last}`;
    }
    newer.disabled = cursors.length === 1;
    older.disabled = !nextCursor;
  }

  function apply() {
    filters = readForm();
    cursors = [null];
    nextCursor = null;
    window.history.replaceState(null, '', pageUrl());
    load();
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    apply();
  });
  kindInput.addEventListener('change', apply);
  hoursInput.addEventListener('change', apply);
  older.addEventListener('click', () => {
    if (!nextCursor) return;
    cursors.push(nextCursor);
    load();
  });
  newer.addEventListener('click', () => {
    if (cursors.length === 1) return;
    cursors.pop();
    load();
  });

  readQuery();
  apply();
})();
