// The Live Streaming view. Everything comes over /streaming/ws: a snapshot,
// then numbered messages (src/dashboard/mod.rs). A message only updates the
// models below, which are bounded; what changed is drawn once per animation
// frame, long lists drawing only the rows on screen. Event data is only
// ever inserted as text.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const F = window.TickStockFormat;
  const Settings = window.TickStockSettings;
  const SymbolView = window.TickStockSymbolView;

  const LIMITS = {
    patterns: 1000, // kept in memory, newest last
    patternRows: 50, // shown
    alerts: 300,
    alertRows: 50,
    critical: 100,
    symbols: 3000,
    columns: 60, // indicator values in the grid
    health: 2000,
    spark: 36, // 10-s closes: the last 6 minutes
    acknowledged: 200,
  };
  const SPARK_SECONDS = 10;
  // Frames (streaming_status) come every 2 s: beyond this the page is not live.
  const SILENT_MS = 6000;
  const BEHIND_MS = 3000;
  // Server timestamps further than this from now are replays, not the clock.
  const CLOCK_WINDOW_MS = 10 * 60 * 1000;

  // --- models ---------------------------------------------------------------

  // A bounded list, newest last; trimming is amortised.
  class Ring {
    constructor(capacity, onEvict) {
      this.capacity = capacity;
      this.items = [];
      this.onEvict = onEvict;
    }
    push(item) {
      this.items.push(item);
      if (this.items.length > this.capacity * 1.25) {
        const gone = this.items.splice(0, this.items.length - this.capacity);
        if (this.onEvict) gone.forEach(this.onEvict);
      }
    }
    clear() {
      this.items = [];
    }
    // The newest `n` items that `keep` accepts, newest first.
    newest(n, keep) {
      const out = [];
      for (let i = this.items.length - 1; i >= 0 && out.length < n; i -= 1) {
        if (!keep || keep(this.items[i])) out.push(this.items[i]);
      }
      return out;
    }
  }

  const patternKey = (p) => (p.metadata && p.metadata.pattern_id) || `${p.symbol}|${p.pattern_type}|${p.timestamp}|${p.timeframe}`;
  const patternKeys = new Set();

  const model = {
    lastSeq: null,
    status: null,
    marketSession: null,
    // Bumped when rows come or go (watch/gridVersion), or values change (watch/gridValues).
    watchVersion: 0,
    watchValues: 0,
    gridVersion: 0,
    gridValues: 0,
    healthSeenAt: null,
    statusSeenAt: 0,
    socketOpen: false,
    lastFrameAt: 0,
    skewMs: 0, // browser clock minus server clock
    lag: null, // {ms, at}
    patterns: new Ring(LIMITS.patterns, (p) => patternKeys.delete(patternKey(p))),
    patternsUnseen: 0,
    serverPatterns: { query: '', rows: [], state: 'idle' },
    indicators: new Map(), // symbol -> Map(indicator name -> INDICATOR)
    columns: new Map(), // column key -> {name, field}
    alerts: new Ring(LIMITS.alerts),
    alertsUnseen: 0,
    critical: new Ring(LIMITS.critical),
    acknowledged: new Set(readAcknowledged()),
    hiddenArrivals: 0,
    symbols: new Map(), // symbol -> SYMBOL row (the watchlist's)
    health: [], // {at, tps, lag, cpu, memory}, oldest first
  };

  function readAcknowledged() {
    try {
      const stored = JSON.parse(localStorage.getItem('tickstock.acknowledged') || '[]');
      return Array.isArray(stored) ? stored.slice(-LIMITS.acknowledged) : [];
    } catch (error) {
      return [];
    }
  }
  function saveAcknowledged() {
    try {
      localStorage.setItem('tickstock.acknowledged', JSON.stringify([...model.acknowledged].slice(-LIMITS.acknowledged)));
    } catch (error) {
      // Storage refused: acknowledged for this page only.
    }
  }

  const currentSession = () => (model.status && model.status.session && model.status.session.session_id) || null;
  const finite = (v) => typeof v === 'number' && Number.isFinite(v);

  // The watchlist's row of `symbol`, created on first sight (bounded).
  function symbolRow(symbol) {
    let row = model.symbols.get(symbol);
    if (!row) {
      if (typeof symbol !== 'string' || model.symbols.size >= LIMITS.symbols) return null;
      row = { symbol, price: null, change: null, change_pct: null, volume: null, ticks_per_min: null, at: null, spark: [], sparkVersion: 0, pattern: null, rsi: null, rsiLow: 30, rsiHigh: 70 };
      model.symbols.set(symbol, row);
      model.watchVersion += 1;
      mark('watchlist');
    }
    return row;
  }

  // --- the render loop ------------------------------------------------------

  const dirty = new Set();
  let frame = 0;
  const renderers = {};
  function mark(...parts) {
    parts.forEach((part) => dirty.add(part));
    if (!frame) frame = requestAnimationFrame(renderFrame);
  }
  // Lists rebuilt whole (at most 50 rows) are drawn a few times a second at most.
  const THROTTLE_MS = { patterns: 250, alerts: 250, critical: 250, healthChart: 250 };
  const renderedAt = {};
  const deferred = new Set();
  function renderFrame(now) {
    frame = 0;
    const parts = [...dirty];
    dirty.clear();
    for (const part of parts) {
      const wait = (THROTTLE_MS[part] || 0) - (now - (renderedAt[part] || -Infinity));
      if (wait > 0) {
        if (!deferred.has(part)) {
          deferred.add(part);
          setTimeout(() => {
            deferred.delete(part);
            mark(part);
          }, wait);
        }
      } else {
        renderedAt[part] = now;
        renderers[part]();
      }
    }
  }

  // Text of an element, written only when it changed.
  function show(element, value) {
    const text = value === null || value === undefined || value === '' ? '—' : String(value);
    if (element.textContent !== text) element.textContent = text;
  }
  // A label that may be empty (no dash for nothing).
  function label(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }
  function setClass(element, className) {
    if (element.className !== className) element.className = className;
  }
  const cell = (tag, text, className) => {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) show(e, text);
    return e;
  };
  const row = (cells, className) => {
    const tr = document.createElement('tr');
    if (className) tr.className = className;
    cells.forEach((c) => tr.appendChild(cell('td', c)));
    return tr;
  };

  // --- a virtual table: only the rows on screen are in the DOM ---------------

  function virtualTable({ scroller, tbody, columns, part }) {
    const top = document.createElement('tr');
    const bottom = document.createElement('tr');
    top.className = 'spacer';
    bottom.className = 'spacer';
    tbody.replaceChildren(top, bottom);
    const pool = [];
    let rowHeight = 0;
    scroller.addEventListener('scroll', () => mark(part), { passive: true });
    return {
      // rows: the sorted, filtered models; fill(tr, model, cells) writes a row.
      render(rows, fill) {
        const height = rowHeight || 30;
        const viewport = scroller.clientHeight || 600;
        const first = Math.max(0, Math.floor(scroller.scrollTop / height) - 4);
        const count = Math.min(rows.length - first, Math.ceil(viewport / height) + 8);
        while (pool.length < count) {
          const tr = document.createElement('tr');
          const cells = columns().map(() => tr.appendChild(document.createElement('td')));
          pool.push({ tr, cells, bound: null });
        }
        for (let i = 0; i < pool.length; i += 1) {
          const slot = pool[i];
          if (i < count) {
            if (!slot.tr.isConnected) tbody.insertBefore(slot.tr, bottom);
            fill(slot, rows[first + i]);
          } else if (slot.tr.isConnected) {
            slot.tr.remove();
          }
        }
        top.style.height = `${first * height}px`;
        bottom.style.height = `${Math.max(0, rows.length - first - Math.max(count, 0)) * height}px`;
        if (!rowHeight && count > 0) rowHeight = pool[0].tr.getBoundingClientRect().height || 30;
      },
      // After the columns change, rows are rebuilt.
      reset() {
        pool.forEach((slot) => slot.tr.remove());
        pool.length = 0;
      },
    };
  }

  // A sortable header: clicking a th[data-sort] sorts by it, again reverses.
  function sortable(head, sort, part) {
    head.addEventListener('click', (event) => {
      const th = event.target.closest('th[data-sort]');
      if (!th) return;
      const key = th.dataset.sort;
      sort.dir = sort.key === key ? -sort.dir : key === 'symbol' || key === 'pattern' ? 1 : -1;
      sort.key = key;
      head.querySelectorAll('th[data-sort]').forEach((h) => {
        h.setAttribute('aria-sort', h.dataset.sort === key ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none');
      });
      mark(part);
    });
  }
  // Numbers as numbers, text naturally (SMA_50 before SMA_200); blanks last.
  // Tickers compare as plain strings: much faster, the same order.
  const natural = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
  const plain = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const bySymbol = (a, b) => plain(a.symbol, b.symbol);
  function compare(a, b, dir, text = natural.compare) {
    const blankA = a === null || a === undefined;
    const blankB = b === null || b === undefined;
    if (blankA || blankB) return blankA === blankB ? 0 : blankA ? 1 : -1;
    if (typeof a === 'number' && typeof b === 'number') return (a - b) * dir;
    return text(String(a), String(b)) * dir;
  }

  // A table's rows in order: sorted again when the rows, the filter or the
  // sort changed, and (at most once a second, so that rows do not jump on
  // every tick) when the values sorted or filtered on changed.
  const RESORT_MS = 1000;
  function ordered(cache, signature, valuesVersion, byValue, build) {
    const now = performance.now();
    const stale = cache.signature !== signature || (byValue && cache.values !== valuesVersion && now - cache.sortedAt >= RESORT_MS);
    if (stale) {
      cache.rows = build();
      cache.signature = signature;
      cache.values = valuesVersion;
      cache.sortedAt = now;
    } else if (byValue && cache.values !== valuesVersion && !cache.timer) {
      // Sort again once the second is up, even if nothing else changes.
      cache.timer = setTimeout(() => {
        cache.timer = 0;
        cache.redraw();
      }, RESORT_MS - (now - cache.sortedAt));
    }
    return cache.rows;
  }

  // --- colours read from the theme ------------------------------------------

  let colours = {};
  function readColours() {
    const css = getComputedStyle(document.documentElement);
    const v = (name) => css.getPropertyValue(name).trim();
    colours = { up: v('--up'), down: v('--down'), muted: v('--muted'), line: v('--line'), text: v('--text'), accent: v('--accent'), warn: v('--warn'), bad: v('--bad'), info: v('--info') };
  }

  // --- watchlist --------------------------------------------------------------

  const watchSort = { key: 'symbol', dir: 1 };
  const WATCH_COLUMNS = ['symbol', 'price', 'change', 'change_pct', 'volume', 'ticks_per_min', 'spark', 'pattern', 'rsi'];
  const watch = virtualTable({ scroller: $('watch-scroller'), tbody: $('watch-rows'), columns: () => WATCH_COLUMNS, part: 'watchlist' });
  sortable($('watchlist').tHead, watchSort, 'watchlist');

  const rsiClass = (value, low, high) => (!finite(value) ? '' : value < low ? 'lo' : value > high ? 'hi' : 'mid');
  const moveClass = (value) => (!finite(value) || value === 0 ? '' : value > 0 ? 'up' : 'down');

  // The size canvas.spark has in the style sheet: read from there, it would
  // cost a layout per row.
  const SPARK_WIDTH = 80;
  const SPARK_HEIGHT = 20;
  function drawSpark(canvas, points) {
    const dpr = window.devicePixelRatio || 1;
    const width = SPARK_WIDTH;
    const height = SPARK_HEIGHT;
    if (canvas.width !== Math.round(width * dpr)) canvas.width = Math.round(width * dpr);
    if (canvas.height !== Math.round(height * dpr)) canvas.height = Math.round(height * dpr);
    const g = canvas.getContext('2d');
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, height);
    if (points.length < 2) return;
    let low = Infinity;
    let high = -Infinity;
    points.forEach((p) => {
      low = Math.min(low, p);
      high = Math.max(high, p);
    });
    const span = high - low || 1;
    g.strokeStyle = points[points.length - 1] >= points[0] ? colours.up : colours.down;
    g.lineWidth = 1.25;
    g.beginPath();
    points.forEach((p, i) => {
      const x = (i / (LIMITS.spark - 1)) * (width - 2) + 1 + (LIMITS.spark - points.length) * ((width - 2) / (LIMITS.spark - 1));
      const y = height - 2 - ((p - low) / span) * (height - 4);
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.stroke();
  }

  const watchOrder = { redraw: () => mark('watchlist') };
  function watchRows() {
    const filter = $('watch-filter').value.trim().toUpperCase();
    const signature = `${filter}|${watchSort.key}|${watchSort.dir}|${model.watchVersion}`;
    const rows = ordered(watchOrder, signature, model.watchValues, watchSort.key !== 'symbol' || filter !== '', () => {
      const out = [];
      for (const r of model.symbols.values()) {
        if (!filter || r.symbol.toUpperCase().includes(filter) || (r.pattern && String(r.pattern.pattern_type).toUpperCase().includes(filter))) out.push(r);
      }
      const key = watchSort.key;
      if (key === 'symbol') return out.sort((a, b) => bySymbol(a, b) * watchSort.dir);
      const value = (r) => (key === 'pattern' ? r.pattern && r.pattern.pattern_type : r[key]);
      return out.sort((a, b) => compare(value(a), value(b), watchSort.dir) || bySymbol(a, b));
    });
    return { rows, filter };
  }

  renderers.watchlist = () => {
    const { rows, filter } = watchRows();
    watch.render(rows, (slot, r) => {
      const [symbol, price, change, pct, volume, tpm, spark, pattern, rsi] = slot.cells;
      if (slot.bound !== r) {
        slot.bound = r;
        slot.sparkVersion = -1;
        slot.tr.dataset.symbol = r.symbol;
      }
      show(symbol, r.symbol);
      show(price, F.number(r.price, 2));
      show(change, F.signed(r.change, 2));
      show(pct, r.change_pct === null ? null : `${F.signed(r.change_pct, 2)}%`);
      show(volume, F.integer(r.volume));
      show(tpm, F.integer(r.ticks_per_min));
      show(pattern, r.pattern ? `${r.pattern.pattern_type} ${Math.round(r.pattern.confidence * 100)}%` : null);
      show(rsi, F.number(r.rsi, 1));
      setClass(symbol, 'sym');
      setClass(price, 'num');
      setClass(change, `num ${moveClass(r.change)}`);
      setClass(pct, `num ${moveClass(r.change)}`);
      setClass(volume, 'num');
      setClass(tpm, 'num');
      setClass(rsi, `num badge-cell rsi-${rsiClass(r.rsi, r.rsiLow, r.rsiHigh)}`);
      if (slot.sparkVersion !== r.sparkVersion) {
        let canvas = spark.firstChild;
        if (!canvas) {
          canvas = spark.appendChild(document.createElement('canvas'));
          canvas.className = 'spark';
        }
        drawSpark(canvas, r.spark);
        slot.sparkVersion = r.sparkVersion;
      }
    });
    const count = $('watch-count');
    show(count, filter ? `${rows.length} of ${model.symbols.size}` : `${model.symbols.size} symbols`);
    const empty = $('watch-empty');
    empty.hidden = rows.length > 0;
    if (!empty.hidden) show(empty, filter ? `No symbol or pattern matches “${filter}”.` : awaited('prices'));
  };

  $('watch-filter').addEventListener('input', () => mark('watchlist'));
  $('watch-rows').addEventListener('click', (event) => {
    const tr = event.target.closest('tr[data-symbol]');
    if (tr) openSymbol(tr.dataset.symbol);
  });

  // The market book's session: a new one starts from no prices.
  function marketSession(sessionId) {
    if (!sessionId || sessionId === model.marketSession) return;
    if (model.marketSession) {
      model.symbols.forEach((r) => {
        Object.assign(r, { price: null, change: null, change_pct: null, volume: null, ticks_per_min: null, at: null, spark: [] });
        r.sparkVersion += 1;
      });
      model.watchValues += 1;
      mark('watchlist');
    }
    model.marketSession = sessionId;
  }

  // One market symbol's figures, from the snapshot or a `market` message.
  function applyMarket(m, withSpark) {
    if (!m || typeof m.symbol !== 'string') return;
    const r = symbolRow(m.symbol);
    if (!r) return;
    for (const key of ['price', 'change', 'change_pct', 'volume', 'ticks_per_min']) {
      if (finite(m[key])) r[key] = m[key];
    }
    r.at = m.at || r.at;
    if (withSpark && Array.isArray(m.spark)) {
      r.spark = m.spark.filter(finite).slice(-LIMITS.spark);
      r.sparkBucket = Math.floor((Date.parse(m.at) || Date.now()) / 1000 / SPARK_SECONDS);
    } else if (finite(m.price)) {
      const bucket = Math.floor((Date.parse(m.at) || Date.now()) / 1000 / SPARK_SECONDS);
      if (r.sparkBucket === bucket && r.spark.length) r.spark[r.spark.length - 1] = m.price;
      else {
        r.spark.push(m.price);
        if (r.spark.length > LIMITS.spark) r.spark.shift();
        r.sparkBucket = bucket;
      }
    }
    r.sparkVersion += 1;
    model.watchValues += 1;
    if (SymbolView && SymbolView.current() === m.symbol) SymbolView.onMarket(m, r);
  }

  // --- indicator grid -----------------------------------------------------------

  const indicatorSort = { key: 'symbol', dir: 1 };
  const gridOrder = { redraw: () => mark('indicators') };
  const FIELD_ORDER = ['upper', 'middle', 'lower', 'macd', 'signal', 'histogram'];
  let columnList = [];
  let columnsChanged = true;
  const grid = virtualTable({ scroller: $('indicator-scroller'), tbody: $('indicators'), columns: () => ['symbol', ...columnList], part: 'indicators' });
  sortable($('indicator-head'), indicatorSort, 'indicators');

  function addIndicator(i, live) {
    if (!i || typeof i.symbol !== 'string' || typeof i.indicator !== 'string') return;
    const fields = i.values && typeof i.values === 'object' ? Object.keys(i.values).filter((k) => finite(i.values[k])) : [];
    const keys = fields.length ? fields.map((f) => [`${i.indicator}.${f}`, f]) : [[i.indicator, null]];
    let shown = false;
    for (const [key, field] of keys) {
      if (!model.columns.has(key) && model.columns.size < LIMITS.columns) {
        model.columns.set(key, { name: i.indicator, field });
        columnsChanged = true;
      }
      shown = shown || model.columns.has(key);
    }
    // Beyond the grid's columns an indicator is not kept (nothing would show it).
    if (!shown) return;
    let bySymbol = model.indicators.get(i.symbol);
    if (!bySymbol) {
      if (model.indicators.size >= LIMITS.symbols) return;
      bySymbol = new Map();
      model.indicators.set(i.symbol, bySymbol);
      model.gridVersion += 1;
    }
    bySymbol.set(i.indicator, i);
    model.gridValues += 1;
    if (i.indicator.toUpperCase().startsWith('RSI') && finite(i.value)) {
      const r = symbolRow(i.symbol);
      if (r) {
        r.rsi = i.value;
        const meta = i.metadata || {};
        if (finite(meta.oversold_threshold)) r.rsiLow = meta.oversold_threshold;
        if (finite(meta.overbought_threshold)) r.rsiHigh = meta.overbought_threshold;
        model.watchValues += 1;
        mark('watchlist');
      }
    } else {
      symbolRow(i.symbol);
    }
    if (live && SymbolView && SymbolView.current() === i.symbol) SymbolView.onIndicator(i);
    mark('indicators');
  }

  const columnValue = (bySymbol, key) => {
    const col = model.columns.get(key);
    const i = bySymbol && bySymbol.get(col.name);
    if (!i) return null;
    const v = col.field ? i.values && i.values[col.field] : i.value;
    return finite(v) ? v : null;
  };

  function rebuildColumns() {
    columnList = [...model.columns.keys()].sort((a, b) => {
      const ca = model.columns.get(a);
      const cb = model.columns.get(b);
      if (ca.name !== cb.name) return natural.compare(ca.name, cb.name);
      return FIELD_ORDER.indexOf(ca.field) - FIELD_ORDER.indexOf(cb.field) || natural.compare(String(ca.field), String(cb.field));
    });
    const head = $('indicator-head');
    const ths = [cell('th', 'Symbol')];
    ths[0].dataset.sort = 'symbol';
    for (const key of columnList) {
      const col = model.columns.get(key);
      const th = cell('th', col.field ? `${col.name} ${col.field}` : col.name, 'num');
      th.dataset.sort = key;
      ths.push(th);
    }
    head.replaceChildren(...ths);
    grid.reset();
    columnsChanged = false;
  }

  // How a value compares with its threshold: lo / hi / up / down / ''.
  function valueClass(col, value, bySymbol, symbol) {
    if (!finite(value)) return '';
    const name = col.name.toUpperCase();
    const price = (model.symbols.get(symbol) || {}).price;
    if (name.startsWith('RSI')) {
      const meta = (bySymbol.get(col.name) || {}).metadata || {};
      return rsiClass(value, finite(meta.oversold_threshold) ? meta.oversold_threshold : 30, finite(meta.overbought_threshold) ? meta.overbought_threshold : 70);
    }
    if (name.startsWith('MACD')) {
      if (col.field === 'histogram') return moveClass(value);
      if (col.field === 'macd') {
        const signal = columnValue(bySymbol, `${col.name}.signal`);
        return finite(signal) ? moveClass(value - signal) : '';
      }
      return '';
    }
    if (!finite(price)) return '';
    if (name.startsWith('BB') || name.startsWith('BOLL')) {
      if (col.field === 'upper') return price > value ? 'hi' : '';
      if (col.field === 'lower') return price < value ? 'lo' : '';
      return '';
    }
    if (name.startsWith('SMA') || name.startsWith('EMA')) return moveClass(price - value);
    return '';
  }

  renderers.indicators = () => {
    if (columnsChanged) rebuildColumns();
    const filter = $('indicator-filter').value.trim().toUpperCase();
    const key = indicatorSort.key;
    const signature = `${filter}|${key}|${indicatorSort.dir}|${model.gridVersion}`;
    const rows = ordered(gridOrder, signature, model.gridValues, key !== 'symbol', () => {
      const out = [];
      for (const [symbol, values] of model.indicators) {
        if (!filter || symbol.toUpperCase().includes(filter)) out.push({ symbol, bySymbol: values });
      }
      if (key === 'symbol') return out.sort((a, b) => bySymbol(a, b) * indicatorSort.dir);
      const sortValue = (r) => (model.columns.has(key) ? columnValue(r.bySymbol, key) : null);
      return out.sort((a, b) => compare(sortValue(a), sortValue(b), indicatorSort.dir) || bySymbol(a, b));
    });
    grid.render(rows, (slot, r) => {
      slot.tr.dataset.symbol = r.symbol;
      show(slot.cells[0], r.symbol);
      setClass(slot.cells[0], 'sym');
      columnList.forEach((k, index) => {
        const col = model.columns.get(k);
        const value = columnValue(r.bySymbol, k);
        const td = slot.cells[index + 1];
        show(td, F.number(value, Math.abs(value) >= 1000 ? 0 : 2));
        setClass(td, `num ind-${valueClass(col, value, r.bySymbol, r.symbol)}`);
      });
    });
    show($('indicator-count'), filter ? `${rows.length} of ${model.indicators.size} symbols` : `${model.indicators.size} symbols`);
    const empty = $('indicator-empty');
    empty.hidden = rows.length > 0;
    if (!empty.hidden) show(empty, filter ? `No symbol matches “${filter}”.` : awaited('indicators'));
  };
  $('indicator-filter').addEventListener('input', () => mark('indicators'));
  $('indicators').addEventListener('click', (event) => {
    const tr = event.target.closest('tr[data-symbol]');
    if (tr) openSymbol(tr.dataset.symbol);
  });

  // --- patterns ---------------------------------------------------------------

  function addPattern(p, live) {
    if (!p || typeof p.symbol !== 'string') return false;
    const key = patternKey(p);
    if (patternKeys.has(key)) return false;
    patternKeys.add(key);
    model.patterns.push(p);
    const r = symbolRow(p.symbol);
    if (r && (!r.pattern || Date.parse(p.timestamp) >= Date.parse(r.pattern.timestamp))) {
      r.pattern = p;
      model.watchValues += 1;
      mark('watchlist');
    }
    if (live) {
      if (Settings.get('pause')) model.patternsUnseen += 1;
      if (p.high_confidence) attention.pattern(p);
      if (SymbolView && SymbolView.current() === p.symbol) SymbolView.onPattern(p);
    }
    mark('patterns');
    return true;
  }

  const patternMatches = (filter) => (p) =>
    !filter || String(p.symbol).toUpperCase().includes(filter) || String(p.pattern_type).toUpperCase().includes(filter);

  // The server's history answers a filter that is a ticker (more than the rows kept here).
  let historyTimer = 0;
  function askPatternHistory() {
    clearTimeout(historyTimer);
    const query = $('pattern-filter').value.trim().toUpperCase();
    model.serverPatterns = { query, rows: [], state: 'idle' };
    if (!/^[A-Z0-9.\-_]{1,10}$/.test(query)) return;
    model.serverPatterns.state = 'loading';
    historyTimer = setTimeout(async () => {
      try {
        const response = await fetch(`/streaming/api/patterns/${encodeURIComponent(query)}?limit=100`, { cache: 'no-store' });
        const body = response.ok ? await response.json() : null;
        if (model.serverPatterns.query !== query) return;
        const rows = body && Array.isArray(body.patterns) ? body.patterns : [];
        model.serverPatterns = {
          query,
          state: response.ok ? 'done' : 'failed',
          rows: rows.map((r) => ({ symbol: r.symbol, pattern_type: r.pattern_type, confidence: r.confidence, timestamp: r.detected_at, timeframe: r.timeframe, high_confidence: r.confidence >= 0.8, metadata: r.metadata || {} })),
        };
      } catch (error) {
        if (model.serverPatterns.query === query) model.serverPatterns.state = 'failed';
      }
      mark('patterns');
    }, 250);
  }

  renderers.patterns = () => {
    const paused = Settings.get('pause');
    label($('patterns-paused'), paused ? `paused${model.patternsUnseen ? ` · ${model.patternsUnseen} new` : ''}` : '');
    if (paused && $('patterns').childElementCount > 0) return;
    const filter = $('pattern-filter').value.trim().toUpperCase();
    let shown = model.patterns.newest(LIMITS.patternRows, patternMatches(filter));
    if (filter && model.serverPatterns.query === filter && model.serverPatterns.rows.length) {
      const seen = new Set(shown.map(patternKey));
      const merged = shown.concat(model.serverPatterns.rows.filter((p) => !seen.has(patternKey(p))));
      merged.sort((a, b) => (Date.parse(b.timestamp) || 0) - (Date.parse(a.timestamp) || 0));
      shown = merged.slice(0, LIMITS.patternRows);
    }
    $('patterns').replaceChildren(
      ...shown.map((p) => {
        const confidence = finite(p.confidence) ? `${(p.confidence * 100).toFixed(0)}%${p.high_confidence ? ' ★' : ''}` : null;
        const tr = row([F.time(p.timestamp), p.symbol, p.pattern_type, confidence], p.high_confidence ? 'high-confidence' : '');
        tr.dataset.symbol = p.symbol;
        return tr;
      }),
    );
    const empty = $('patterns-empty');
    empty.hidden = shown.length > 0;
    if (!empty.hidden) {
      const searching = filter && model.serverPatterns.query === filter && model.serverPatterns.state === 'loading';
      show(empty, filter ? (searching ? `Searching the history for “${filter}”…` : `No pattern matches “${filter}”, here or in the history.`) : awaited('patterns'));
    }
  };
  $('pattern-filter').addEventListener('input', () => {
    askPatternHistory();
    mark('patterns');
  });
  $('patterns').addEventListener('click', (event) => {
    const tr = event.target.closest('tr[data-symbol]');
    if (tr) openSymbol(tr.dataset.symbol);
  });

  // --- alerts and attention -------------------------------------------------------

  const criticalKey = (a) => `${a.component}|${a.timestamp}|${a.message}`;
  const raisesBanner = (a) => !a.recovery && !a.resolved_by && ['critical', 'error', undefined, null].includes(a.severity);

  function addAlert(a, live) {
    if (!a || typeof a !== 'object') return;
    if (a.kind === 'critical_alert') {
      if (a.recovery) {
        model.critical.items.forEach((open) => {
          if (!open.recovery && !open.resolved_by && open.component === a.component) open.resolved_by = { recovery: a.recovery, timestamp: a.timestamp };
        });
      }
      model.critical.push(a);
      mark('critical', 'attention');
      if (live && raisesBanner(a)) attention.critical(a);
    } else {
      model.alerts.push(a);
      if (live) {
        if (Settings.get('pause')) model.alertsUnseen += 1;
        if (document.hidden) model.hiddenArrivals += 1;
        if (a.symbol && SymbolView && SymbolView.current() === a.symbol) SymbolView.onAlert(a);
      }
      mark('alerts');
    }
    updateTitle();
  }

  const openCritical = () => model.critical.items.filter((a) => raisesBanner(a) && !model.acknowledged.has(criticalKey(a)));

  renderers.alerts = () => {
    const paused = Settings.get('pause');
    label($('alerts-paused'), paused ? `paused${model.alertsUnseen ? ` · ${model.alertsUnseen} new` : ''}` : '');
    if (paused && $('indicator-alerts').childElementCount > 0) return;
    const shown = model.alerts.newest(LIMITS.alertRows);
    $('indicator-alerts').replaceChildren(
      ...shown.map((a) => row([F.time(a.timestamp), a.symbol, a.alert_type, a.data && F.number(a.data.value, 2), a.severity], `severity-${a.severity || 'unknown'}`)),
    );
    const empty = $('alerts-empty');
    empty.hidden = shown.length > 0;
    if (!empty.hidden) show(empty, awaited('indicator alerts'));
  };

  renderers.critical = () => {
    const shown = model.critical.newest(LIMITS.alertRows);
    $('critical-alerts').replaceChildren(
      ...shown.map((a) => {
        const recovery = a.recovery || (a.resolved_by ? `resolved: ${a.resolved_by.recovery}` : 'open');
        const state = a.recovery ? 'recovery' : a.resolved_by ? 'resolved' : 'open';
        return row([F.time(a.timestamp), a.component, a.message, recovery], `${state} severity-${a.severity || 'unknown'}`);
      }),
    );
    const empty = $('critical-empty');
    empty.hidden = shown.length > 0;
    if (!empty.hidden) show(empty, 'No critical alert.');
  };

  renderers.attention = () => {
    const open = openCritical();
    const banner = $('attention');
    banner.hidden = open.length === 0;
    if (!open.length) return;
    const a = open[open.length - 1];
    show($('attention-title'), `${String(a.severity || 'critical').toUpperCase()}${a.component ? ` · ${a.component}` : ''}`);
    show($('attention-message'), a.message);
    const more = open.length > 1 ? ` · ${open.length - 1} more open` : '';
    show($('attention-meta'), `${F.time(a.timestamp)} ${F.zoneLabel()}${a.action_required ? ` · ${a.action_required}` : ''}${more}`);
  };
  $('attention-ack').addEventListener('click', () => {
    openCritical().forEach((a) => model.acknowledged.add(criticalKey(a)));
    if (model.acknowledged.size > LIMITS.acknowledged) model.acknowledged = new Set([...model.acknowledged].slice(-LIMITS.acknowledged));
    saveAcknowledged();
    mark('attention');
    updateTitle();
  });

  const baseTitle = document.title;
  function updateTitle() {
    const unseen = openCritical().length + model.hiddenArrivals;
    const title = unseen > 0 ? `(${unseen > 99 ? '99+' : unseen}) ${baseTitle}` : baseTitle;
    if (document.title !== title) document.title = title;
  }
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) {
      model.hiddenArrivals = 0;
      updateTitle();
    }
  });

  // Sound and notifications, on the user's opt-in, at most one of each per few seconds.
  const attention = (() => {
    let audio = null;
    let lastBeep = 0;
    let lastNotice = 0;
    let pending = 0;
    // Critical alerts beep at most every 2 s, patterns every 10 s.
    function beep(high) {
      if (!Settings.get('sound') || !audio) return;
      const now = Date.now();
      if (now - lastBeep < (high ? 2000 : 10000)) return;
      lastBeep = now;
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.frequency.value = high ? 880 : 660;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start();
      oscillator.stop(audio.currentTime + 0.25);
    }
    function notify(title, body, force) {
      if (!Settings.get('notify') || !('Notification' in window) || Notification.permission !== 'granted') return;
      const now = Date.now();
      pending += 1;
      if (!force && now - lastNotice < 10000) return;
      lastNotice = now;
      const text = pending > 1 ? `${body} (and ${pending - 1} more)` : body;
      pending = 0;
      try {
        new Notification(title, { body: text, tag: force ? undefined : 'tickstock-pattern' });
      } catch (error) {
        // Notifications refused by this browser: the page still shows everything.
      }
    }
    return {
      enableSound() {
        const Context = window.AudioContext || window.webkitAudioContext;
        if (!audio && Context) audio = new Context();
        if (audio && audio.state === 'suspended') audio.resume();
      },
      critical(a) {
        beep(true);
        notify(`TickStock: ${a.severity || 'critical'} alert`, `${a.component ? `${a.component}: ` : ''}${a.message}`, true);
      },
      pattern(p) {
        beep(false);
        notify('TickStock: high-confidence pattern', `${p.symbol} ${p.pattern_type} ${Math.round(p.confidence * 100)}%`, false);
      },
    };
  })();

  // --- settings -----------------------------------------------------------------

  function bindSettings() {
    const zone = $('setting-zone');
    const theme = $('setting-theme');
    const sound = $('setting-sound');
    const notify = $('setting-notify');
    const pause = $('setting-pause');
    const sync = () => {
      zone.value = Settings.get('zone');
      theme.value = Settings.get('theme');
      sound.checked = Boolean(Settings.get('sound'));
      notify.checked = Boolean(Settings.get('notify'));
      pause.checked = Boolean(Settings.get('pause'));
    };
    sync();
    zone.addEventListener('change', () => Settings.set('zone', zone.value));
    theme.addEventListener('change', () => Settings.set('theme', theme.value));
    sound.addEventListener('change', () => {
      if (sound.checked) attention.enableSound();
      Settings.set('sound', sound.checked);
    });
    notify.addEventListener('change', async () => {
      if (notify.checked && 'Notification' in window && Notification.permission !== 'granted') {
        const answer = await Notification.requestPermission();
        if (answer !== 'granted') notify.checked = false;
      }
      Settings.set('notify', notify.checked);
    });
    pause.addEventListener('change', () => Settings.set('pause', pause.checked));
    document.addEventListener('click', () => {
      if (Settings.get('sound')) attention.enableSound();
    }, { once: true });
    Settings.onChange((name) => {
      sync();
      if (name === 'theme') {
        readColours();
        model.symbols.forEach((r) => {
          r.sparkVersion += 1;
        });
        if (SymbolView) SymbolView.restyle();
      }
      if (name === 'pause' && !Settings.get('pause')) {
        model.patternsUnseen = 0;
        model.alertsUnseen = 0;
      }
      mark('status', 'watchlist', 'indicators', 'patterns', 'alerts', 'critical', 'attention', 'healthChart');
    });
  }

  // --- status, health, feed ---------------------------------------------------------

  const MARKET_PHASES = { pre_market: 'pre-market', open: 'open', after_hours: 'after hours', closed: 'closed' };

  // What an empty list waits for.
  function awaited(what) {
    const status = model.status || {};
    if (status.session) return `No ${what} yet in this session.`;
    const market = status.market;
    if (market && market.phase !== 'open' && market.next_open) {
      const holiday = market.holiday && market.phase === 'closed' ? ` (${market.holiday})` : '';
      return `Waiting for TickStockPL's session — the market opens at ${F.clock(market.next_open, F.ET)} ET${holiday}.`;
    }
    return `Waiting for TickStockPL's session${market && market.phase === 'open' ? ' — the market is open' : ''}.`;
  }

  function marketText(market) {
    if (!market || !market.phase) return fallbackMarket(new Date());
    const phase = MARKET_PHASES[market.phase] || String(market.phase);
    const parts = [phase];
    if (market.holiday) parts.push(String(market.holiday));
    if (market.calendar_known === false) parts.push('holidays unknown this year');
    if (market.phase === 'open' && market.next_close) parts.push(`${market.early_close ? 'early close' : 'closes'} ${F.clock(market.next_close, F.ET)} ET`);
    else if (market.next_open) parts.push(`opens ${F.clock(market.next_open, F.ET)} ET`);
    return parts.join(' · ');
  }

  // Without the server's calendar: regular hours, 9:30 to 16:00 ET, weekdays.
  function fallbackMarket(now) {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: F.ET, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
    const part = (type) => (parts.find((p) => p.type === type) || {}).value;
    const minutes = Number(part('hour')) * 60 + Number(part('minute'));
    const open = !['Sat', 'Sun'].includes(part('weekday')) && minutes >= 570 && minutes < 960;
    return open ? 'open (ET)' : 'closed (ET)';
  }

  renderers.status = () => {
    const status = model.status || {};
    const state = status.status || 'unknown';
    setClass($('banner'), `banner status-${state}`);
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
    show($('started-at'), session.started_at ? `${F.time(session.started_at)} ${F.zoneLabel()}` : null);

    const health = status.health;
    const healthStatus = health ? String(health.status || 'unknown') : 'unknown';
    const pill = $('health-status');
    show(pill, healthStatus.toUpperCase());
    setClass(pill, `pill health-${healthStatus.replace(/[^a-z_-]/gi, '')}`);
    const flow = (health && health.data_flow) || {};
    show($('active-symbols'), health && health.active_symbols);
    show($('tps'), F.number(finite(flow.ticks_per_second) ? flow.ticks_per_second : health && health.ticks_per_second, 1));
    show($('bars-per-minute'), F.number(flow.bars_per_minute, 0));
    show($('lag'), F.number(flow.processing_lag_ms, 0));
    show($('cpu'), health && F.number(health.cpu_percent, 1));
    show($('memory'), health && F.number(health.memory_usage_mb, 0));
    const issues = health && Array.isArray(health.issues) ? health.issues : [];
    const items = issues.map((issue) => cell('li', typeof issue === 'string' ? issue : JSON.stringify(issue)));
    if (health && !items.length && healthStatus !== 'healthy' && healthStatus !== 'unknown') {
      const figures = [
        finite(flow.processing_lag_ms) && `processing lag ${F.number(flow.processing_lag_ms, 0)} ms`,
        finite(health.cpu_percent) && `CPU ${F.number(health.cpu_percent, 0)} %`,
        finite(health.errors_count) && `${health.errors_count} errors`,
        health.connection_status && `connection ${health.connection_status}`,
      ].filter(Boolean);
      items.push(cell('li', `TickStockPL reported ${healthStatus.toUpperCase()} without listing its issues${figures.length ? `; ${figures.join(', ')}` : ''}.`));
    }
    $('issues').replaceChildren(...items);

    // What is not current says so: greyed, with the time it is from.
    const notCurrent = state === 'offline' || state === 'stale' || !model.socketOpen;
    $('health-card').classList.toggle('not-current', Boolean(health) && notCurrent);
    const healthAsOf = $('health-asof');
    healthAsOf.hidden = !(health && notCurrent);
    if (!healthAsOf.hidden) show(healthAsOf, `Not current: as of ${F.time(health.timestamp)} ${F.zoneLabel()}${state === 'offline' ? ' (message bus unreachable)' : ''}`);
    const feed = status.market_feed || {};
    show($('feed-source'), feed.source);
    show($('feed-state'), feed.state);
    show($('feed-forwarded'), F.integer(feed.ticks_forwarded));
    show($('feed-dropped'), F.integer(feed.ticks_dropped));
    const feedStale = !model.socketOpen || state === 'offline';
    $('feed-card').classList.toggle('not-current', feedStale && model.statusSeenAt > 0);
    const feedAsOf = $('feed-asof');
    feedAsOf.hidden = !(feedStale && model.statusSeenAt > 0);
    if (!feedAsOf.hidden) show(feedAsOf, `Not current: as of ${F.time(new Date(model.statusSeenAt))} ${F.zoneLabel()}${state === 'offline' ? ' (message bus unreachable)' : ''}`);
    renderClock();
  };

  // Ages, uptime and the connection label move with the clock.
  function renderClock() {
    const status = model.status || {};
    const now = Date.now();
    const session = status.session;
    show($('uptime'), session && session.started_at ? F.duration((now - Date.parse(session.started_at)) / 1000) : null);
    const health = status.health;
    show($('health-age'), health && model.healthSeenAt ? `${F.duration(health.age_seconds + (now - model.healthSeenAt) / 1000)} ago` : null);
    show($('market'), marketText(status.market));
    if (!model.socketOpen) return;
    const silent = now - model.lastFrameAt;
    const lag = model.lag && now - model.lag.at < 10000 ? model.lag.ms : 0;
    if (silent > SILENT_MS) TickStockLive.setConnection(`no data for ${Math.round(silent / 1000)} s`, 'behind');
    else if (lag >= BEHIND_MS) TickStockLive.setConnection(`behind by ${Math.round(lag / 1000)} s`, 'behind');
    else TickStockLive.setConnection('live', 'live');
  }

  // The server's clock as a message just received gives it (the status's
  // `market.at`; tick and health times are the exchange's and TickStockPL's
  // clocks): how far the page lags the server.
  function noteServerTime(iso) {
    const at = Date.parse(iso);
    if (!finite(at)) return;
    const now = Date.now();
    const lag = now - model.skewMs - at;
    if (Math.abs(lag) > CLOCK_WINDOW_MS) return;
    if (!model.lag || now - model.lag.at > 1000 || lag < model.lag.ms) model.lag = { ms: Math.max(0, lag), at: now };
  }

  async function measureSkew() {
    try {
      const sent = Date.now();
      const response = await fetch('/streaming/api/status', { cache: 'no-store' });
      const date = Date.parse(response.headers.get('date'));
      // The Date header is whole seconds: its middle is the best guess.
      if (finite(date)) model.skewMs = (sent + Date.now()) / 2 - (date + 500);
    } catch (error) {
      model.skewMs = 0;
    }
  }

  function setStatus(status, fromStatusMessage) {
    const previous = currentSession();
    model.status = status || {};
    if (fromStatusMessage) model.statusSeenAt = Date.now();
    model.healthSeenAt = model.status.health ? Date.now() : null;
    const health = model.status.health;
    if (health) recordHealth(health);
    // The status says when the server wrote it (its market clock's `at`).
    if (fromStatusMessage && model.status.market) noteServerTime(model.status.market.at);
    const next = currentSession();
    if (previous && next && previous !== next) startSession();
    // Empty lists say what they wait for, which this may have changed.
    const market = model.status.market || {};
    const waitingFor = `${next}|${market.phase}|${market.next_open}`;
    if (waitingFor !== model.waitingFor) {
      model.waitingFor = waitingFor;
      mark('watchlist', 'indicators', 'patterns', 'alerts');
    }
    mark('status');
  }

  // A new session: the lists start again (prices are the market's, they stay).
  function startSession() {
    model.patterns.clear();
    patternKeys.clear();
    model.alerts.clear();
    model.indicators.clear();
    model.columns.clear();
    columnsChanged = true;
    model.symbols.forEach((r) => {
      r.pattern = null;
      r.rsi = null;
    });
    model.gridVersion += 1;
    model.watchValues += 1;
    mark('patterns', 'alerts', 'indicators', 'watchlist');
  }

  // --- health over time -------------------------------------------------------------

  const HEALTH_SERIES = [
    { key: 'tps', label: 'Ticks', unit: '/s', digits: 1 },
    { key: 'lag', label: 'Lag', unit: 'ms', digits: 0 },
    { key: 'cpu', label: 'CPU', unit: '%', digits: 1 },
    { key: 'memory', label: 'Memory', unit: 'MB', digits: 0 },
  ];
  let hoverIndex = null;

  function recordHealth(h, at) {
    const flow = h.data_flow || {};
    const point = {
      at: at || Date.parse(h.timestamp) || Date.now(),
      tps: finite(flow.ticks_per_second) ? flow.ticks_per_second : finite(h.ticks_per_second) ? h.ticks_per_second : null,
      lag: finite(flow.processing_lag_ms) ? flow.processing_lag_ms : finite(h.processing_lag_ms) ? h.processing_lag_ms : null,
      cpu: finite(h.cpu_percent) ? h.cpu_percent : null,
      memory: finite(h.memory_usage_mb) ? h.memory_usage_mb : finite(h.memory_mb) ? h.memory_mb : null,
    };
    const series = model.health;
    const last = series[series.length - 1];
    if (last && last.at === point.at) return;
    if (last && point.at < last.at) {
      // From the history, older than what is shown: put it in its place.
      const index = series.findIndex((p) => p.at >= point.at);
      if (series[index] && series[index].at === point.at) return;
      series.splice(index, 0, point);
    } else {
      series.push(point);
    }
    if (series.length > LIMITS.health * 1.25) series.splice(0, series.length - LIMITS.health);
    mark('healthChart');
  }

  async function loadHealthHistory() {
    try {
      const response = await fetch('/streaming/api/health/history?limit=1000', { cache: 'no-store' });
      if (!response.ok) return;
      const body = await response.json();
      const rows = Array.isArray(body.health) ? body.health : [];
      const session = currentSession();
      rows
        .filter((r) => !session || !r.session_id || r.session_id === session)
        .forEach((r) => recordHealth({ ...r, timestamp: r.measured_at, data_flow: { ticks_per_second: r.ticks_per_second, processing_lag_ms: r.processing_lag_ms }, memory_usage_mb: r.memory_mb }));
    } catch (error) {
      // No history (database down): the chart fills from now.
    }
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    const step = [1, 2, 2.5, 5, 10].find((s) => s * power >= value);
    return step * power;
  }

  renderers.healthChart = () => {
    const canvas = $('health-chart');
    const dpr = window.devicePixelRatio || 1;
    const width = healthChartWidth;
    const panel = 70;
    const points = model.health;
    const height = points.length ? panel * HEALTH_SERIES.length + 24 : 40;
    canvas.style.height = `${height}px`;
    if (canvas.width !== Math.round(width * dpr)) canvas.width = Math.round(width * dpr);
    if (canvas.height !== Math.round(height * dpr)) canvas.height = Math.round(height * dpr);
    const g = canvas.getContext('2d');
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, height);
    const left = 56;
    const right = width - 8;
    g.font = '11px system-ui, sans-serif';
    g.textBaseline = 'middle';
    if (!points.length) {
      g.fillStyle = colours.muted;
      g.fillText('No health report yet.', left, height / 2);
      return;
    }
    const start = points[0].at;
    const end = Math.max(points[points.length - 1].at, start + 60000);
    const x = (at) => left + ((at - start) / (end - start)) * (right - left);
    HEALTH_SERIES.forEach((s, index) => {
      const top = index * panel + 6;
      const bottom = top + panel - 16;
      const values = points.map((p) => p[s.key]).filter(finite);
      const max = niceMax(Math.max(0, ...values));
      const y = (v) => bottom - (v / max) * (bottom - top);
      g.strokeStyle = colours.line;
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(left, Math.round(bottom) + 0.5);
      g.lineTo(right, Math.round(bottom) + 0.5);
      g.moveTo(left, Math.round(top) + 0.5);
      g.lineTo(right, Math.round(top) + 0.5);
      g.stroke();
      g.fillStyle = colours.muted;
      g.textAlign = 'right';
      g.fillText(`${F.number(max, max < 10 ? 1 : 0)} ${s.unit}`, left - 6, top + 2);
      g.fillText('0', left - 6, bottom);
      g.textAlign = 'left';
      g.fillText(s.label, left + 4, top + 9);
      g.strokeStyle = [colours.accent, colours.warn, colours.info, colours.text][index];
      g.lineWidth = 1.5;
      g.beginPath();
      let started = false;
      points.forEach((p) => {
        const v = p[s.key];
        if (!finite(v)) return;
        if (started) g.lineTo(x(p.at), y(v));
        else g.moveTo(x(p.at), y(v));
        started = true;
      });
      g.stroke();
      // Few reports: each one a dot, so that a single one shows.
      if (points.length < 60) {
        g.fillStyle = g.strokeStyle;
        points.forEach((p) => {
          if (!finite(p[s.key])) return;
          g.beginPath();
          g.arc(x(p.at), y(p[s.key]), 2, 0, 2 * Math.PI);
          g.fill();
        });
      }
    });
    // The time axis.
    g.fillStyle = colours.muted;
    g.textAlign = 'left';
    g.fillText(`${F.time(new Date(start))} ${F.zoneLabel()}`, left, height - 8);
    g.textAlign = 'right';
    g.fillText(F.time(new Date(end)), right, height - 8);
    const hover = $('health-hover');
    if (hoverIndex !== null && points[hoverIndex]) {
      const p = points[hoverIndex];
      g.strokeStyle = colours.muted;
      g.beginPath();
      g.moveTo(Math.round(x(p.at)) + 0.5, 0);
      g.lineTo(Math.round(x(p.at)) + 0.5, height - 18);
      g.stroke();
      show(hover, `${F.time(new Date(p.at))} ${F.zoneLabel()} · ${HEALTH_SERIES.map((s) => `${s.label} ${F.number(p[s.key], s.digits) ?? '—'} ${s.unit}`).join(' · ')}`);
    } else {
      show(hover, `${points.length} reports`);
    }
  };

  // Its width, kept by an observer rather than read (a layout) at each draw.
  let healthChartWidth = $('health-chart').clientWidth || 600;
  new ResizeObserver((entries) => {
    healthChartWidth = Math.round(entries[0].contentRect.width) || healthChartWidth;
    mark('healthChart');
  }).observe($('health-chart'));

  $('health-chart').addEventListener('mousemove', (event) => {
    const points = model.health;
    if (!points.length) return;
    const canvas = event.currentTarget;
    const bounds = canvas.getBoundingClientRect();
    const left = 56;
    const right = bounds.width - 8;
    const start = points[0].at;
    const end = Math.max(points[points.length - 1].at, start + 60000);
    const at = start + ((event.clientX - bounds.left - left) / (right - left)) * (end - start);
    let best = 0;
    points.forEach((p, i) => {
      if (Math.abs(p.at - at) < Math.abs(points[best].at - at)) best = i;
    });
    hoverIndex = best;
    mark('healthChart');
  });
  $('health-chart').addEventListener('mouseleave', () => {
    hoverIndex = null;
    mark('healthChart');
  });
  window.addEventListener('resize', () => mark('healthChart', 'watchlist', 'indicators'));

  // --- the symbol view ------------------------------------------------------------------

  function openSymbol(symbol) {
    if (!SymbolView || typeof symbol !== 'string') return;
    if (location.hash !== `#symbol=${encodeURIComponent(symbol)}`) history.replaceState(null, '', `#symbol=${encodeURIComponent(symbol)}`);
    const patterns = model.patterns.items.filter((p) => p.symbol === symbol);
    const alerts = model.alerts.items.filter((a) => a.symbol === symbol);
    const indicators = model.indicators.get(symbol);
    SymbolView.open(symbol, { row: model.symbols.get(symbol), patterns, alerts, indicators: indicators ? [...indicators.values()] : [] });
  }
  if (SymbolView) {
    SymbolView.onClose(() => history.replaceState(null, '', location.pathname + location.search));
  }

  // --- messages --------------------------------------------------------------------------

  function applySnapshot(data) {
    model.patterns.clear();
    patternKeys.clear();
    model.indicators.clear();
    model.columns.clear();
    columnsChanged = true;
    model.gridVersion += 1;
    model.alerts.clear();
    model.critical.clear();
    setStatus(data.status, true);
    const session = currentSession();
    // What a finished session left is not this session's.
    const ours = (item) => !session || !item || !item.session_id || item.session_id === session;
    const market = data.market && Array.isArray(data.market.symbols) ? data.market.symbols : [];
    if (data.market) marketSession(data.market.session_id);
    market.forEach((m) => applyMarket(m, true));
    [...(data.patterns || [])].reverse().filter(ours).forEach((p) => addPattern(p, false));
    (data.indicators || []).filter(ours).forEach((i) => addIndicator(i, false));
    [...(data.alerts || [])].reverse().filter(ours).forEach((a) => addAlert(a, false));
    mark('status', 'watchlist', 'indicators', 'patterns', 'alerts', 'critical', 'attention');
    const wanted = decodeURIComponent((location.hash.match(/^#symbol=(.+)$/) || [])[1] || '');
    if (wanted && SymbolView && SymbolView.current() !== wanted) openSymbol(wanted);
  }

  function dispatch(message, socket) {
    const data = message.data || {};
    switch (message.event) {
      case 'snapshot':
        return applySnapshot(data);
      case 'streaming_status':
        return setStatus(data, true);
      case 'streaming_session': {
        const status = model.status || {};
        if (data.state === 'started') {
          setStatus({ ...status, status: 'online', session: data.session });
        } else if (status.session && data.session && status.session.session_id === data.session.session_id) {
          setStatus({ ...status, status: 'idle', session: null, last_session: data.session });
        }
        return mark('patterns', 'alerts', 'indicators', 'watchlist');
      }
      case 'streaming_health': {
        const status = model.status || {};
        const next = { ...status, health: data.health };
        if (data.session) next.session = data.session;
        if (next.session && (status.status === 'stale' || status.status === 'idle')) next.status = 'online';
        return setStatus(next);
      }
      case 'streaming_pattern':
        return addPattern(data, true);
      case 'streaming_patterns_batch':
        return (data.patterns || []).forEach((p) => addPattern(p, true));
      case 'streaming_indicator':
        return addIndicator(data, true);
      case 'indicator_alert':
      case 'critical_alert':
        return addAlert(data, true);
      case 'market':
        marketSession(data.session_id);
        return (Array.isArray(data.symbols) ? data.symbols : []).forEach((m) => applyMarket(m, false));
      case 'resync':
        model.lastSeq = null;
        return socket.close();
      default:
        return undefined;
    }
  }

  readColours();
  bindSettings();
  setInterval(() => {
    renderClock();
    // The time axis and ages move on between reports.
    mark('healthChart');
  }, 1000);
  renderClock();
  mark('status', 'watchlist', 'indicators', 'patterns', 'alerts', 'critical', 'attention', 'healthChart');
  measureSkew();
  loadHealthHistory();
  TickStockLive.connect({
    query: () => (model.lastSeq === null ? '' : `?last_seq=${model.lastSeq}`),
    onMessage: (message, socket) => {
      model.lastFrameAt = Date.now();
      if (typeof message.seq === 'number') model.lastSeq = message.seq;
      dispatch(message, socket);
    },
    onState: (open) => {
      model.socketOpen = open;
      model.lastFrameAt = Date.now();
      mark('status');
    },
  });
})();
