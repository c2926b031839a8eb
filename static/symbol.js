// The symbol view: 1-minute candles and volume, SMA and Bollinger overlays,
// RSI and MACD panes, and a marker at its bar for every pattern and alert.
// Filled from the server when opened (candles, indicator and pattern
// history), then live from what the dashboard passes on. Drawn with the
// vendored TradingView Lightweight Charts (its attribution logo off: it would
// need an inline style sheet, which the CSP refuses; the page credits it).
window.TickStockSymbolView = (() => {
  'use strict';

  const Charts = window.LightweightCharts;
  const F = window.TickStockFormat;
  const $ = (id) => document.getElementById(id);
  const MAX_POINTS = 2000;
  const MAX_MARKERS = 300;
  const MAX_LINES = 40;
  const SERIES_COLOURS = ['#d29922', '#a371f7', '#58a6ff', '#db61a2', '#3fb9a0'];

  let current = null;
  let closeListener = null;
  let charts = null;
  // name.field -> {series, points: Map(time -> value)}
  let lines = new Map();
  let candles = new Map(); // time -> {time, open, high, low, close, volume}
  let markers = new Map(); // key -> marker with its source
  let generation = 0;

  const finite = (v) => typeof v === 'number' && Number.isFinite(v);
  const bucket = (iso) => {
    const ms = Date.parse(iso);
    return finite(ms) ? Math.floor(ms / 60000) * 60 : null;
  };
  const seconds = (t) => {
    if (finite(t)) return Math.floor(t > 1e12 ? t / 1000 : t);
    const ms = Date.parse(t);
    return finite(ms) ? Math.floor(ms / 1000) : null;
  };
  // The theme's colours, read once per theme (a read costs a style recalculation).
  let palette = new Map();
  const css = (name) => {
    if (!palette.has(name)) palette.set(name, getComputedStyle(document.documentElement).getPropertyValue(name).trim());
    return palette.get(name);
  };
  // A bar's time (seconds) as the page writes times: ET or local, by the setting.
  const barTime = (t) => F.clock(new Date(t * 1000));

  function chartOptions(height) {
    return {
      autoSize: true,
      height,
      layout: { background: { type: 'solid', color: css('--panel') }, textColor: css('--muted'), attributionLogo: false },
      grid: { vertLines: { color: css('--line') }, horzLines: { color: css('--line') } },
      rightPriceScale: { borderColor: css('--line'), minimumWidth: 72 },
      timeScale: { borderColor: css('--line'), barSpacing: 8, rightOffset: 4, timeVisible: true, secondsVisible: false, tickMarkFormatter: (t) => barTime(t) },
      localization: { timeFormatter: (t) => `${barTime(t)} ${F.zoneLabel()}` },
      crosshair: { mode: 0 },
    };
  }

  function createCharts() {
    const main = Charts.createChart($('symbol-chart'), chartOptions(320));
    const rsi = Charts.createChart($('symbol-rsi'), chartOptions(120));
    const macd = Charts.createChart($('symbol-macd'), chartOptions(120));
    const candle = main.addCandlestickSeries({ upColor: css('--up'), downColor: css('--down'), wickUpColor: css('--up'), wickDownColor: css('--down'), borderVisible: false });
    const volume = main.addHistogramSeries({ priceFormat: { type: 'volume' }, priceScaleId: 'volume', lastValueVisible: false, priceLineVisible: false });
    main.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    candle.priceScale().applyOptions({ scaleMargins: { top: 0.05, bottom: 0.25 } });
    // The panes hold a (blank) point at every candle's time, so that the
    // same logical range shows the same bars: they follow the main chart.
    main.timeScale().subscribeVisibleLogicalRangeChange((range) => {
      if (!range) return;
      [rsi, macd].forEach((pane) => {
        try {
          pane.timeScale().setVisibleLogicalRange(range);
        } catch (error) {
          // A pane without points yet has no range to follow.
        }
      });
    });
    charts = { main, rsi, macd, candle, volume };
  }

  function restyle() {
    palette = new Map();
    if (!charts) return;
    [['main', 320], ['rsi', 120], ['macd', 120]].forEach(([name, height]) => charts[name].applyOptions(chartOptions(height)));
    charts.candle.applyOptions({ upColor: css('--up'), downColor: css('--down'), wickUpColor: css('--up'), wickDownColor: css('--down') });
    setCandles();
  }

  // The series of `key` (`RSI`, `SMA_20`, `BB.upper`, `MACD.histogram`...), made on first use.
  function lineFor(key) {
    if (lines.has(key)) return lines.get(key);
    // Names beyond a chart's worth are not drawn (nor kept).
    if (lines.size >= MAX_LINES) return { series: null };
    const [name, field] = key.split('.');
    const upper = name.toUpperCase();
    let series = null;
    let chart = charts.main;
    const common = { lineWidth: 1, priceLineVisible: false, lastValueVisible: false };
    if (upper.startsWith('RSI')) {
      chart = charts.rsi;
      series = charts.rsi.addLineSeries({ ...common, color: css('--info'), lastValueVisible: true });
      series.createPriceLine({ price: 70, color: css('--bad'), lineStyle: 2, lineWidth: 1, axisLabelVisible: true, title: '' });
      series.createPriceLine({ price: 30, color: css('--up'), lineStyle: 2, lineWidth: 1, axisLabelVisible: true, title: '' });
    } else if (upper.startsWith('MACD')) {
      chart = charts.macd;
      if (field === 'histogram') series = charts.macd.addHistogramSeries({ ...common, color: css('--muted') });
      else if (field === 'macd' || field === 'signal' || field === undefined) series = charts.macd.addLineSeries({ ...common, color: field === 'signal' ? css('--warn') : css('--info') });
    } else if (upper.startsWith('BB') || upper.startsWith('BOLL')) {
      series = charts.main.addLineSeries({ ...common, color: css('--muted'), lineStyle: field === 'middle' ? 0 : 2 });
    } else if (upper.startsWith('SMA') || upper.startsWith('EMA')) {
      const index = [...lines.keys()].filter((k) => /^(SMA|EMA)/i.test(k)).length;
      series = charts.main.addLineSeries({ ...common, color: SERIES_COLOURS[index % SERIES_COLOURS.length], title: name });
    }
    const line = { series, chart, points: new Map(), field };
    lines.set(key, line);
    return line;
  }

  // Lines whose points changed in a batch, set once at its end.
  const pendingLines = new Set();
  function flushLines() {
    pendingLines.forEach(setLine);
    pendingLines.clear();
  }

  // One indicator reading (an event, or a history row reshaped as one);
  // `batch`: the caller sets the lines at the end (flushLines).
  function addReading(indicator, at, value, values, live, batch) {
    const time = bucket(at);
    if (time === null) return;
    const entries = values && typeof values === 'object' ? Object.entries(values).filter(([, v]) => finite(v)).map(([f, v]) => [`${indicator}.${f}`, v]) : [[indicator, value]];
    for (const [key, v] of entries) {
      if (!finite(v)) continue;
      const line = lineFor(key);
      if (!line.series) continue;
      const isHistogram = line.field === 'histogram';
      const point = isHistogram ? { time, value: v, color: v >= 0 ? css('--up') : css('--down') } : { time, value: v };
      const newest = line.newest === undefined ? -Infinity : line.newest;
      line.points.set(time, point);
      line.newest = Math.max(newest, time);
      if (line.points.size > MAX_POINTS) line.points.delete(Math.min(...line.points.keys()));
      if (batch) {
        pendingLines.add(line);
        continue;
      }
      if (live && time >= newest) {
        try {
          line.series.update(point);
          continue;
        } catch (error) {
          // Out of order: set the whole series below.
        }
      }
      setLine(line);
    }
  }

  // A line's points; a pane's also has a blank point at each candle's time.
  function setLine(line) {
    const points = new Map(line.points);
    if (line.chart !== charts.main) {
      candles.forEach((c, time) => {
        if (!points.has(time)) points.set(time, { time });
      });
    }
    line.series.setData([...points.values()].sort((a, b) => a.time - b.time));
  }

  function setCandles() {
    const sorted = [...candles.values()].sort((a, b) => a.time - b.time);
    charts.candle.setData(sorted.map(({ time, open, high, low, close }) => ({ time, open, high, low, close })));
    charts.volume.setData(sorted.map((c) => ({ time: c.time, value: c.volume, color: c.close >= c.open ? css('--up-soft') : css('--down-soft') })));
    lines.forEach((line) => {
      if (line.series && line.chart !== charts.main) setLine(line);
    });
  }

  // `batch`: the caller sets the candles at the end (setCandles).
  function addCandle(c, live, batch) {
    const time = seconds(c.t);
    if (time === null || ![c.o, c.h, c.l, c.c].every(finite)) return;
    const candle = { time, open: c.o, high: c.h, low: c.l, close: c.c, volume: finite(c.v) ? c.v : 0 };
    const newest = candles.size ? Math.max(...candles.keys()) : -Infinity;
    const newMinute = !candles.has(time);
    candles.set(time, candle);
    if (candles.size > MAX_POINTS) candles.delete(Math.min(...candles.keys()));
    if (batch) return;
    if (live && time >= newest) {
      try {
        charts.candle.update({ time, open: candle.open, high: candle.high, low: candle.low, close: candle.close });
        charts.volume.update({ time, value: candle.volume, color: candle.close >= candle.open ? css('--up-soft') : css('--down-soft') });
        if (newMinute) {
          lines.forEach((line) => {
            if (!line.series || line.chart === charts.main || line.points.has(time)) return;
            try {
              line.series.update({ time });
            } catch (error) {
              setLine(line); // a reading newer than the candle
            }
          });
        }
        return;
      } catch (error) {
        // Out of order: set all below.
      }
    }
    setCandles();
  }

  // `batch`: the caller draws the markers at the end (renderMarkers).
  function addMarker(kind, item, batch) {
    const time = bucket(item.timestamp);
    if (time === null) return;
    const what = kind === 'pattern' ? `${item.pattern_type} ${Math.round((item.confidence || 0) * 100)}%` : `${item.alert_type || 'alert'}${item.severity ? ` (${item.severity})` : ''}`;
    const key = `${kind}|${item.timestamp}|${what}`;
    if (markers.has(key)) return;
    markers.set(key, { time, at: item.timestamp, kind, what });
    if (markers.size > MAX_MARKERS) markers.delete(markers.keys().next().value);
    if (!batch) renderMarkers();
  }

  function renderMarkers() {
    const sorted = [...markers.values()].sort((a, b) => a.time - b.time);
    charts.candle.setMarkers(
      sorted.map((m) =>
        m.kind === 'pattern'
          ? { time: m.time, position: 'aboveBar', color: css('--info'), shape: 'arrowDown', text: m.what.split(' ')[0] }
          : { time: m.time, position: 'belowBar', color: css('--warn'), shape: 'circle', text: '' },
      ),
    );
    const rows = sorted.slice(-50).reverse().map((m) => {
      const tr = document.createElement('tr');
      tr.className = `marker-${m.kind}`;
      [barTime(m.time), F.time(m.at), m.kind, m.what].forEach((text) => {
        const td = document.createElement('td');
        td.textContent = text === null || text === undefined ? '—' : String(text);
        tr.appendChild(td);
      });
      return tr;
    });
    $('symbol-markers').replaceChildren(...rows);
  }

  function showPrice(row) {
    if (!row) return;
    $('symbol-price').textContent = finite(row.price) ? row.price.toFixed(2) : '';
    const change = $('symbol-change');
    change.textContent = finite(row.change) ? `${F.signed(row.change, 2)} (${F.signed(row.change_pct, 2)}%)` : '';
    change.className = finite(row.change) && row.change !== 0 ? (row.change > 0 ? 'up' : 'down') : '';
  }

  async function getJson(url) {
    const response = await fetch(url, { cache: 'no-store' });
    return { status: response.status, body: response.ok ? await response.json() : null };
  }

  async function fill(symbol, mine) {
    const path = encodeURIComponent(symbol);
    const state = $('symbol-state');
    try {
      const { status, body } = await getJson(`/streaming/api/market/candles/${path}`);
      if (mine !== generation) return;
      if (body && Array.isArray(body.candles)) {
        body.candles.forEach((c) => addCandle(c, false, true));
        setCandles();
        // Few candles fill the width badly: those stay at their usual spacing.
        if (body.candles.length >= 40) charts.main.timeScale().fitContent();
        else charts.main.timeScale().scrollToRealTime();
        state.textContent = body.candles.length ? `1-minute candles of this session${body.session_id ? ` (${body.session_id})` : ''}, live.` : `No candle for ${symbol} yet: the first comes with its next tick.`;
      } else {
        state.textContent = status === 404 ? `No candle for ${symbol} yet: the first comes with its next tick.` : `Candles unavailable (HTTP ${status}); live ones follow.`;
      }
    } catch (error) {
      if (mine === generation) state.textContent = 'Candles unavailable; live ones follow.';
    }
    const names = ['RSI', 'SMA_20', 'SMA_50', 'SMA_200', 'MACD', 'BB'];
    await Promise.all(
      names.map(async (name) => {
        try {
          const { body } = await getJson(`/streaming/api/indicators/${path}?indicator=${encodeURIComponent(name)}&limit=50`);
          if (mine !== generation || !body || !Array.isArray(body.indicators)) return;
          body.indicators.forEach((r) => addReading(r.indicator, r.calculated_at, r.value, r.metadata && r.metadata.values, false, true));
          flushLines();
        } catch (error) {
          // No history: the live readings fill the panes.
        }
      }),
    );
    try {
      const { body } = await getJson(`/streaming/api/patterns/${path}?limit=100`);
      if (mine === generation && body && Array.isArray(body.patterns)) {
        body.patterns.forEach((r) => addMarker('pattern', { ...r, timestamp: r.detected_at }, true));
        renderMarkers();
      }
    } catch (error) {
      // No history: the live patterns are marked.
    }
  }

  function open(symbol, { row, patterns, alerts, indicators }) {
    if (!Charts) return;
    generation += 1;
    current = symbol;
    const section = $('symbol-view');
    section.hidden = false;
    if (!charts) createCharts();
    // A fresh view: every series of the previous symbol goes.
    lines.forEach((line) => {
      if (line.series) line.chart.removeSeries(line.series);
    });
    lines = new Map();
    candles = new Map();
    markers = new Map();
    setCandles();
    renderMarkers();
    $('symbol-name').textContent = symbol;
    $('symbol-history').href = `/history?symbol=${encodeURIComponent(symbol)}`;
    $('symbol-state').textContent = 'Loading…';
    showPrice(row);
    (indicators || []).forEach((i) => addReading(i.indicator, i.timestamp, i.value, i.values, false, true));
    flushLines();
    (patterns || []).forEach((p) => addMarker('pattern', p, true));
    (alerts || []).forEach((a) => addMarker('alert', a, true));
    renderMarkers();
    fill(symbol, generation);
    section.scrollIntoView({ block: 'start' });
  }

  function close() {
    current = null;
    generation += 1;
    $('symbol-view').hidden = true;
    if (closeListener) closeListener();
  }
  $('symbol-close').addEventListener('click', close);

  return {
    current: () => current,
    open,
    restyle,
    onClose: (listener) => {
      closeListener = listener;
    },
    onMarket(m, row) {
      showPrice(row);
      if (m.candle) addCandle(m.candle, true);
    },
    onIndicator: (i) => addReading(i.indicator, i.timestamp, i.value, i.values, true),
    onPattern: (p) => addMarker('pattern', p),
    onAlert: (a) => addMarker('alert', a),
  };
})();
