// How the dashboard writes times and numbers. Times are shown in US Eastern
// (the market's zone) or, by the setting `zone`, the browser's; the date is
// added when it is not today in that zone.
window.TickStockFormat = (() => {
  'use strict';

  const ET = 'America/New_York';
  const formatters = new Map();
  const formatter = (zone, withDate) => {
    const key = `${zone}|${withDate}`;
    if (!formatters.has(key)) {
      const options = { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
      if (zone) options.timeZone = zone;
      if (withDate) Object.assign(options, { weekday: 'short', month: 'short', day: 'numeric' });
      formatters.set(key, new Intl.DateTimeFormat('en-US', options));
    }
    return formatters.get(key);
  };
  // The calendar day of a time in a zone; today's is kept for a minute.
  const dayFormatters = new Map();
  const dayOf = (zone, d) => {
    if (!dayFormatters.has(zone)) dayFormatters.set(zone, new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric' }));
    return dayFormatters.get(zone).format(d);
  };
  const today = new Map();
  const sameDay = (zone, d) => {
    const now = Date.now();
    let known = today.get(zone);
    if (!known || now - known.at > 60000) {
      known = { at: now, day: dayOf(zone, new Date(now)) };
      today.set(zone, known);
    }
    return dayOf(zone, d) === known.day;
  };

  const zone = () => (window.TickStockSettings && TickStockSettings.get('zone') === 'local' ? undefined : ET);
  const zoneLabel = () => (zone() === ET ? 'ET' : 'local');

  const toDate = (value) => {
    if (value === null || value === undefined || value === '') return null;
    const d = value instanceof Date ? value : new Date(value);
    return Number.isNaN(d.getTime()) ? null : d;
  };

  // A time in the chosen zone, dated when not today; `fixedZone` forces one.
  function time(value, fixedZone) {
    const d = toDate(value);
    if (!d) return value ? String(value) : null;
    const z = fixedZone === undefined ? zone() : fixedZone || undefined;
    const dated = !sameDay(z, d);
    return formatter(z, dated).format(d).replace(',', '');
  }

  const clocks = new Map();
  // Hours and minutes only (for market opens and closes), dated when not today.
  function clock(value, fixedZone) {
    const d = toDate(value);
    if (!d) return null;
    const z = fixedZone === undefined ? zone() : fixedZone || undefined;
    const dated = !sameDay(z, d);
    const key = `${z}|${dated}`;
    if (!clocks.has(key)) {
      const options = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
      if (z) options.timeZone = z;
      if (dated) Object.assign(options, { weekday: 'short', month: 'short', day: 'numeric' });
      clocks.set(key, new Intl.DateTimeFormat('en-US', options));
    }
    return clocks.get(key).format(d).replace(',', '');
  }

  const number = (value, digits) => (typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : null);
  const grouped = new Intl.NumberFormat('en-US');
  const integer = (value) => (typeof value === 'number' && Number.isFinite(value) ? grouped.format(Math.round(value)) : null);
  const signed = (value, digits) => {
    const text = number(value, digits);
    return text === null ? null : value > 0 ? `+${text}` : text;
  };

  function duration(seconds) {
    if (!(seconds >= 0)) return null;
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = Math.floor(seconds % 60);
    return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
  }

  return { ET, time, clock, number, integer, signed, duration, zoneLabel, toDate };
})();
