// The Live Streaming view. Everything comes over /streaming/ws: a snapshot,
// then numbered messages. Event data is only ever inserted as text.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const MAX_PATTERNS = 50;
  const MAX_ALERTS = 50;
  const CHART_SECONDS = 600;

  const view = {
    lastSeq: null,
    status: null,
    patterns: [],
    indicators: new Map(),
    indicatorAlerts: [],
    criticalAlerts: [],
    tps: [],
  };

  const show = (element, value) => {
    element.textContent = value === null || value === undefined || value === '' ? '—' : String(value);
  };
  const number = (value, digits) =>
    typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : null;
  const time = (iso) => {
    if (!iso) return null;
    const t = new Date(iso);
    return Number.isNaN(t.getTime()) ? iso : t.toLocaleTimeString();
  };
  const duration = (seconds) => {
    if (!(seconds >= 0)) return null;
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = Math.floor(seconds % 60);
    return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
  };

  // A table row of plain text cells.
  const row = (cells, className) => {
    const tr = document.createElement('tr');
    if (className) tr.className = className;
    for (const cell of cells) {
      const td = document.createElement('td');
      show(td, cell);
      tr.appendChild(td);
    }
    return tr;
  };
  const fill = (tbody, rows) => {
    tbody.replaceChildren(...rows);
  };

  // --- banner and health ---------------------------------------------------

  function renderStatus() {
    const status = view.status || {};
    const state = status.status || 'unknown';
    const banner = $('banner');
    banner.className = `banner status-${state}`;
    show($('banner-status'), state.toUpperCase());
    const texts = {
      online: 'TickStockPL streaming online',
      idle: 'No streaming session',
      stale: 'Session active, but no health update recently',
      offline: 'Message bus unreachable',
    };
    show($('banner-text'), texts[state] || 'TickStockPL status');
    const session = status.session || {};
    show($('session-id'), session.session_id);
    show($('universe'), session.universe);
    show($('started-at'), session.started_at ? new Date(session.started_at).toLocaleString() : null);

    const health = status.health;
    const healthStatus = health ? String(health.status || 'unknown') : 'unknown';
    const pill = $('health-status');
    show(pill, healthStatus.toUpperCase());
    pill.className = `pill health-${healthStatus}`;
    show($('active-symbols'), health && health.active_symbols);
    show($('tps'), health && number(health.data_flow && health.data_flow.ticks_per_second, 1));
    show($('bars-per-minute'), health && number(health.data_flow && health.data_flow.bars_per_minute, 0));
    show($('lag'), health && number(health.data_flow && health.data_flow.processing_lag_ms, 0));
    show($('cpu'), health && number(health.cpu_percent, 1));
    show($('memory'), health && number(health.memory_usage_mb, 0));
    const issues = (health && Array.isArray(health.issues) ? health.issues : []).map((issue) => {
      const li = document.createElement('li');
      show(li, typeof issue === 'string' ? issue : JSON.stringify(issue));
      return li;
    });
    $('issues').replaceChildren(...issues);

    const feed = status.market_feed || {};
    show($('feed-source'), feed.source);
    show($('feed-state'), feed.state);
    show($('feed-forwarded'), feed.ticks_forwarded);
    show($('feed-dropped'), feed.ticks_dropped);
    renderClock();
  }

  // Ages and uptime move with the clock, between messages.
  function renderClock() {
    const status = view.status || {};
    const now = Date.now();
    const session = status.session;
    show($('uptime'), session && session.started_at ? duration((now - Date.parse(session.started_at)) / 1000) : null);
    const health = status.health;
    show($('health-age'), health && view.healthSeenAt ? `${duration(health.age_seconds + (now - view.healthSeenAt) / 1000)} ago` : null);
    show($('market'), marketOpen(new Date(now)) ? 'open (ET)' : 'closed (ET)');
  }

  // Regular hours, 9:30 to 16:00 Eastern, Monday to Friday (holidays not known here).
  function marketOpen(now) {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone: 'America/New_York', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
    }).formatToParts(now);
    const part = (type) => (parts.find((p) => p.type === type) || {}).value;
    if (['Sat', 'Sun'].includes(part('weekday'))) return false;
    const minutes = Number(part('hour')) * 60 + Number(part('minute'));
    return minutes >= 570 && minutes < 960;
  }

  function setStatus(status) {
    view.status = status;
    view.healthSeenAt = status && status.health ? Date.now() : null;
    if (status && status.health) recordTps(status.health);
    renderStatus();
  }

  // --- chart ---------------------------------------------------------------

  function recordTps(health) {
    const flow = health.data_flow || {};
    if (typeof flow.ticks_per_second !== 'number') return;
    const at = Date.parse(health.timestamp) || Date.now();
    const last = view.tps[view.tps.length - 1];
    if (last && last.at === at) return;
    view.tps.push({ at, value: flow.ticks_per_second });
    const horizon = Date.now() - CHART_SECONDS * 1000;
    while (view.tps.length && view.tps[0].at < horizon) view.tps.shift();
    drawChart();
  }

  function drawChart() {
    const canvas = $('tps-chart');
    const g = canvas.getContext('2d');
    if (!g) return;
    const { width, height } = canvas;
    g.clearRect(0, 0, width, height);
    g.strokeStyle = '#2a3441';
    g.beginPath();
    g.moveTo(0, height - 20.5);
    g.lineTo(width, height - 20.5);
    g.stroke();
    if (view.tps.length === 0) return;
    const end = Date.now();
    const start = end - CHART_SECONDS * 1000;
    const highest = Math.max(...view.tps.map((p) => p.value));
    const top = Math.max(1, highest) * 1.15;
    const x = (at) => ((at - start) / (end - start)) * width;
    const y = (v) => height - 20 - (v / top) * (height - 30);
    g.strokeStyle = '#3fb950';
    g.lineWidth = 2;
    g.beginPath();
    view.tps.forEach((p, i) => (i === 0 ? g.moveTo(x(p.at), y(p.value)) : g.lineTo(x(p.at), y(p.value))));
    g.stroke();
    g.fillStyle = '#3fb950';
    for (const p of view.tps) {
      g.beginPath();
      g.arc(x(p.at), y(p.value), 2.5, 0, 2 * Math.PI);
      g.fill();
    }
    g.fillStyle = '#8b98a5';
    g.font = '12px system-ui, sans-serif';
    g.fillText(`max ${highest.toFixed(1)}/s`, 6, 14);
    g.fillText('10 min', 6, height - 4);
  }

  // --- patterns, indicators, alerts ------------------------------------------

  const patternKey = (p) => (p.metadata && p.metadata.pattern_id) || `${p.symbol}|${p.pattern_type}|${p.timestamp}|${p.timeframe}`;

  function addPatterns(patterns) {
    const known = new Set(view.patterns.map(patternKey));
    for (const p of patterns) {
      if (!known.has(patternKey(p))) view.patterns.unshift(p);
    }
    view.patterns.length = Math.min(view.patterns.length, MAX_PATTERNS);
    renderPatterns();
  }

  function renderPatterns() {
    const filter = $('pattern-filter').value.trim().toUpperCase();
    const rows = view.patterns
      .filter((p) => !filter || String(p.symbol).includes(filter))
      .map((p) =>
        row(
          [time(p.timestamp), p.symbol, p.pattern_type, `${(p.confidence * 100).toFixed(0)}%${p.high_confidence ? ' ★' : ''}`],
          p.high_confidence ? 'high-confidence' : '',
        ),
      );
    fill($('patterns'), rows);
  }

  function addIndicator(indicator) {
    view.indicators.set(`${indicator.symbol}|${indicator.indicator}`, indicator);
    renderIndicators();
  }

  function indicatorValue(i) {
    if (typeof i.value === 'number') return i.value.toFixed(2);
    if (i.values && typeof i.values === 'object') {
      return Object.entries(i.values)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? v.toFixed(2) : v}`)
        .join(' · ');
    }
    return null;
  }

  function renderIndicators() {
    const rows = [...view.indicators.values()]
      .sort((a, b) => (a.symbol === b.symbol ? String(a.indicator).localeCompare(b.indicator) : String(a.symbol).localeCompare(b.symbol)))
      .map((i) => row([i.symbol, i.indicator, indicatorValue(i), time(i.timestamp)]));
    fill($('indicators'), rows);
  }

  function addAlert(alert) {
    if (alert.kind === 'critical_alert') {
      if (alert.recovery) {
        const open = view.criticalAlerts.find((a) => !a.recovery && !a.resolved_by && a.component === alert.component);
        if (open) open.resolved_by = { recovery: alert.recovery, timestamp: alert.timestamp };
      }
      view.criticalAlerts.unshift(alert);
      view.criticalAlerts.length = Math.min(view.criticalAlerts.length, MAX_ALERTS);
    } else {
      view.indicatorAlerts.unshift(alert);
      view.indicatorAlerts.length = Math.min(view.indicatorAlerts.length, MAX_ALERTS);
    }
    renderAlerts();
  }

  function renderAlerts() {
    fill(
      $('indicator-alerts'),
      view.indicatorAlerts.map((a) =>
        row([time(a.timestamp), a.symbol, a.alert_type, a.data && number(a.data.value, 2), a.severity], `severity-${a.severity}`),
      ),
    );
    fill(
      $('critical-alerts'),
      view.criticalAlerts.map((a) => {
        const recovery = a.recovery || (a.resolved_by ? `resolved: ${a.resolved_by.recovery}` : 'open');
        const cls = a.recovery ? 'recovery' : a.resolved_by ? 'resolved' : 'open';
        return row([time(a.timestamp), a.component, a.message, recovery], cls);
      }),
    );
  }

  // --- messages --------------------------------------------------------------

  function applySnapshot(data) {
    view.patterns = [];
    view.indicators.clear();
    view.indicatorAlerts = [];
    view.criticalAlerts = [];
    setStatus(data.status);
    addPatterns([...(data.patterns || [])].reverse());
    (data.indicators || []).forEach((i) => view.indicators.set(`${i.symbol}|${i.indicator}`, i));
    renderIndicators();
    [...(data.alerts || [])].reverse().forEach((a) => addAlert(a));
  }

  function dispatch(message, socket) {
    const data = message.data || {};
    switch (message.event) {
      case 'snapshot':
        return applySnapshot(data);
      case 'streaming_status':
        return setStatus(data);
      case 'streaming_session': {
        const status = view.status || {};
        if (data.state === 'started') {
          setStatus({ ...status, status: 'online', session: data.session });
        } else if (status.session && data.session && status.session.session_id === data.session.session_id) {
          setStatus({ ...status, status: 'idle', session: null, last_session: data.session });
        }
        return undefined;
      }
      case 'streaming_health': {
        const status = view.status || {};
        const next = { ...status, health: data.health };
        if (data.session) next.session = data.session;
        if (next.session && (status.status === 'stale' || status.status === 'idle')) next.status = 'online';
        return setStatus(next);
      }
      case 'streaming_pattern':
        return addPatterns([data]);
      case 'streaming_patterns_batch':
        return addPatterns(data.patterns || []);
      case 'streaming_indicator':
        return addIndicator(data);
      case 'indicator_alert':
      case 'critical_alert':
        return addAlert(data);
      case 'resync':
        view.lastSeq = null;
        return socket.close();
      default:
        return undefined;
    }
  }

  $('pattern-filter').addEventListener('input', renderPatterns);
  setInterval(() => {
    renderClock();
    drawChart();
  }, 1000);
  renderClock();
  TickStockLive.connect({
    query: () => (view.lastSeq === null ? '' : `?last_seq=${view.lastSeq}`),
    onMessage: (message, socket) => {
      if (typeof message.seq === 'number') view.lastSeq = message.seq;
      dispatch(message, socket);
    },
  });
})();
