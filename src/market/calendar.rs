//! The NYSE calendar: which phase the US equity market is in at any instant,
//! and when it next opens and closes, in `America/New_York` (so daylight
//! saving is the zone database's, never an offset of ours).
//!
//! Hours: pre-market 04:00-09:30, regular 09:30-16:00, after-hours
//! 16:00-20:00. On an early close the regular session ends at 13:00 and the
//! late session at 17:00. Holidays and early closes come from the table
//! below; beyond its years only weekends are known (`calendar_known: false`).
//!
//! No crate was taken: the one that covers NYSE (exchange-hours) was young
//! and changing fast (yanked releases, 69 venues) for a table of 3 years.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Offset, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;
use serde::Serialize;

use crate::events::fields::serialize_timestamp;

/// The phase of the market, `phase` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    PreMarket,
    Open,
    AfterHours,
    Closed,
}

/// The market at one instant (`GET /streaming/api/market`, the status's `market`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarketTime {
    pub phase: Phase,
    /// The holiday, or the occasion of an early close, of the day in New York.
    pub holiday: Option<&'static str>,
    pub early_close: bool,
    /// The next regular open after `at`.
    #[serde(serialize_with = "serialize_timestamp")]
    pub next_open: DateTime<Utc>,
    /// The next regular close after `at`.
    #[serde(serialize_with = "serialize_timestamp")]
    pub next_close: DateTime<Utc>,
    #[serde(serialize_with = "serialize_timestamp")]
    pub at: DateTime<Utc>,
    /// False when a day consulted lies beyond the table's years: holidays
    /// there are unknown, and every weekday is taken for a trading day.
    pub calendar_known: bool,
}

/// What a day in New York is for the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayKind {
    Closed,
    Holiday(&'static str),
    EarlyClose(&'static str),
    Regular,
}

/// The years the table covers.
const FIRST_YEAR: i32 = 2025;
const LAST_YEAR: i32 = 2027;

/// NYSE's published holiday calendar ("Holidays & Trading Hours", NYSE
/// Group), 2025-2027, with the 2025 National Day of Mourning the exchange
/// announced: full closures, and early closes at 13:00 (late session 17:00).
/// A holiday on a Saturday is observed the Friday before, on a Sunday the
/// Monday after.
const DAYS: &[(i32, u32, u32, DayKind)] = {
    use DayKind::{EarlyClose as E, Holiday as H};
    &[
        (2025, 1, 1, H("New Year's Day")),
        (
            2025,
            1,
            9,
            H("National Day of Mourning for President Carter"),
        ),
        (2025, 1, 20, H("Martin Luther King, Jr. Day")),
        (2025, 2, 17, H("Washington's Birthday")),
        (2025, 4, 18, H("Good Friday")),
        (2025, 5, 26, H("Memorial Day")),
        (2025, 6, 19, H("Juneteenth National Independence Day")),
        (2025, 7, 3, E("Independence Day (eve)")),
        (2025, 7, 4, H("Independence Day")),
        (2025, 9, 1, H("Labor Day")),
        (2025, 11, 27, H("Thanksgiving Day")),
        (2025, 11, 28, E("Day after Thanksgiving")),
        (2025, 12, 24, E("Christmas Eve")),
        (2025, 12, 25, H("Christmas Day")),
        (2026, 1, 1, H("New Year's Day")),
        (2026, 1, 19, H("Martin Luther King, Jr. Day")),
        (2026, 2, 16, H("Washington's Birthday")),
        (2026, 4, 3, H("Good Friday")),
        (2026, 5, 25, H("Memorial Day")),
        (2026, 6, 19, H("Juneteenth National Independence Day")),
        (2026, 7, 3, H("Independence Day (observed)")),
        (2026, 9, 7, H("Labor Day")),
        (2026, 11, 26, H("Thanksgiving Day")),
        (2026, 11, 27, E("Day after Thanksgiving")),
        (2026, 12, 24, E("Christmas Eve")),
        (2026, 12, 25, H("Christmas Day")),
        (2027, 1, 1, H("New Year's Day")),
        (2027, 1, 18, H("Martin Luther King, Jr. Day")),
        (2027, 2, 15, H("Washington's Birthday")),
        (2027, 3, 26, H("Good Friday")),
        (2027, 5, 31, H("Memorial Day")),
        (
            2027,
            6,
            18,
            H("Juneteenth National Independence Day (observed)"),
        ),
        (2027, 7, 5, H("Independence Day (observed)")),
        (2027, 9, 6, H("Labor Day")),
        (2027, 11, 25, H("Thanksgiving Day")),
        (2027, 11, 26, E("Day after Thanksgiving")),
        (2027, 12, 24, H("Christmas Day (observed)")),
    ]
};

/// Times of day in New York, as (hour, minute).
const PRE_MARKET: (u32, u32) = (4, 0);
const OPEN: (u32, u32) = (9, 30);
const CLOSE: (u32, u32) = (16, 0);
const EARLY_CLOSE: (u32, u32) = (13, 0);
const LATE_END: (u32, u32) = (20, 0);
const EARLY_LATE_END: (u32, u32) = (17, 0);

/// How far ahead an open is looked for: longer than any closure on record.
const SEARCH_DAYS: u32 = 14;

/// The day's kind, and whether the table knows it.
fn day_kind(date: NaiveDate) -> (DayKind, bool) {
    if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        return (DayKind::Closed, true);
    }
    let known = (FIRST_YEAR..=LAST_YEAR).contains(&date.year());
    let listed = DAYS
        .iter()
        .find(|&&(y, m, d, _)| (y, m, d) == (date.year(), date.month(), date.day()));
    (listed.map_or(DayKind::Regular, |&(.., kind)| kind), known)
}

/// `date` at `hm` New York time, in UTC. The market's times are never in a
/// DST gap or fold (those are at 02:00), so `None` cannot happen in practice.
fn new_york(date: NaiveDate, (hour, minute): (u32, u32)) -> Option<DateTime<Utc>> {
    let time = NaiveTime::from_hms_opt(hour, minute, 0)?;
    New_York
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// A trading day's session times, in UTC.
struct Session {
    pre_market: DateTime<Utc>,
    open: DateTime<Utc>,
    close: DateTime<Utc>,
    late_end: DateTime<Utc>,
}

fn session(date: NaiveDate, kind: DayKind) -> Option<Session> {
    let (close, late_end) = match kind {
        DayKind::Regular => (CLOSE, LATE_END),
        DayKind::EarlyClose(_) => (EARLY_CLOSE, EARLY_LATE_END),
        DayKind::Closed | DayKind::Holiday(_) => return None,
    };
    Some(Session {
        pre_market: new_york(date, PRE_MARKET)?,
        open: new_york(date, OPEN)?,
        close: new_york(date, close)?,
        late_end: new_york(date, late_end)?,
    })
}

/// The date in New York at `at`; `None` only at the ends of chrono's range.
fn new_york_date(at: DateTime<Utc>) -> Option<NaiveDate> {
    let offset = New_York.offset_from_utc_datetime(&at.naive_utc()).fix();
    Some(at.naive_utc().checked_add_offset(offset)?.date())
}

/// The market at `at`.
pub fn market_at(at: DateTime<Utc>) -> MarketTime {
    let Some(today) = new_york_date(at) else {
        return MarketTime {
            phase: Phase::Closed,
            holiday: None,
            early_close: false,
            next_open: at,
            next_close: at,
            at,
            calendar_known: false,
        };
    };
    let (kind, mut known) = day_kind(today);
    let phase = match session(today, kind) {
        Some(s) if at >= s.pre_market && at < s.open => Phase::PreMarket,
        Some(s) if at >= s.open && at < s.close => Phase::Open,
        Some(s) if at >= s.close && at < s.late_end => Phase::AfterHours,
        _ => Phase::Closed,
    };
    let (mut next_open, mut next_close) = (None, None);
    let mut date = today;
    for _ in 0..SEARCH_DAYS {
        if next_open.is_some() && next_close.is_some() {
            break;
        }
        let (kind, day_known) = day_kind(date);
        if let Some(s) = session(date, kind) {
            known &= day_known;
            if next_open.is_none() && s.open > at {
                next_open = Some(s.open);
            }
            if next_close.is_none() && s.close > at {
                next_close = Some(s.close);
            }
        }
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    // Weekdays always trade outside the table, so both are found within days;
    // the fallbacks only stand at the end of chrono's range.
    MarketTime {
        phase,
        holiday: match kind {
            DayKind::Holiday(name) | DayKind::EarlyClose(name) => Some(name),
            DayKind::Closed | DayKind::Regular => None,
        },
        early_close: matches!(kind, DayKind::EarlyClose(_)),
        next_open: next_open.unwrap_or(at),
        next_close: next_close.unwrap_or(at),
        at,
        calendar_known: known,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 time")
    }

    fn iso(t: DateTime<Utc>) -> String {
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    #[test]
    fn every_listed_day_is_a_weekday_of_the_table_once() {
        let mut seen = std::collections::HashSet::new();
        for &(y, m, d, _) in DAYS {
            let date = NaiveDate::from_ymd_opt(y, m, d).expect("a real date");
            assert!(
                !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
                "{date}"
            );
            assert!((FIRST_YEAR..=LAST_YEAR).contains(&y));
            assert!(seen.insert(date), "{date} listed twice");
        }
    }

    #[test]
    fn a_regular_day_goes_through_every_phase_in_eastern_time() {
        // 2026-03-10 is in daylight time (UTC-4).
        let cases = [
            ("2026-03-10T07:59:00Z", Phase::Closed),
            ("2026-03-10T08:00:00Z", Phase::PreMarket),
            ("2026-03-10T13:29:59Z", Phase::PreMarket),
            ("2026-03-10T13:30:00Z", Phase::Open),
            ("2026-03-10T19:59:59Z", Phase::Open),
            ("2026-03-10T20:00:00Z", Phase::AfterHours),
            ("2026-03-11T00:00:00Z", Phase::Closed),
        ];
        for (at, phase) in cases {
            let market = market_at(utc(at));
            assert_eq!(market.phase, phase, "{at}");
            assert!(market.calendar_known);
            assert_eq!(market.holiday, None);
        }
        let open = market_at(utc("2026-03-10T15:00:00Z"));
        assert_eq!(iso(open.next_close), "2026-03-10T20:00:00.000Z");
        assert_eq!(iso(open.next_open), "2026-03-11T13:30:00.000Z");
    }

    #[test]
    fn daylight_saving_moves_the_open_in_utc() {
        // 2026-03-06 (Fri) is standard time, 2026-03-09 (Mon) daylight time.
        let friday = market_at(utc("2026-03-06T22:00:00Z"));
        assert_eq!(friday.phase, Phase::AfterHours);
        assert_eq!(iso(friday.next_open), "2026-03-09T13:30:00.000Z");
        assert_eq!(iso(friday.next_close), "2026-03-09T20:00:00.000Z");
        // 2026-11-02 (Mon) is standard time again: 09:30 ET is 14:30 UTC.
        let monday = market_at(utc("2026-11-02T14:00:00Z"));
        assert_eq!(monday.phase, Phase::PreMarket);
        assert_eq!(iso(monday.next_open), "2026-11-02T14:30:00.000Z");
    }

    #[test]
    fn holidays_early_closes_and_weekends() {
        let christmas = market_at(utc("2026-12-25T16:00:00Z"));
        assert_eq!(christmas.phase, Phase::Closed);
        assert_eq!(christmas.holiday, Some("Christmas Day"));
        assert!(!christmas.early_close);
        assert_eq!(iso(christmas.next_open), "2026-12-28T14:30:00.000Z");

        let black_friday = market_at(utc("2026-11-27T17:30:00Z"));
        assert_eq!(black_friday.phase, Phase::Open);
        assert!(black_friday.early_close);
        assert_eq!(iso(black_friday.next_close), "2026-11-27T18:00:00.000Z");
        let after = market_at(utc("2026-11-27T18:30:00Z"));
        assert_eq!(after.phase, Phase::AfterHours);
        assert_eq!(market_at(utc("2026-11-27T22:30:00Z")).phase, Phase::Closed);

        let saturday = market_at(utc("2026-12-05T15:00:00Z"));
        assert_eq!(saturday.phase, Phase::Closed);
        assert_eq!(saturday.holiday, None);
        assert_eq!(iso(saturday.next_open), "2026-12-07T14:30:00.000Z");
    }

    #[test]
    fn the_ends_of_time_do_not_panic() {
        for at in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
            assert!(!market_at(at).calendar_known);
        }
    }

    #[test]
    fn beyond_the_table_only_weekends_are_known() {
        let later = market_at(utc("2031-06-02T15:00:00Z"));
        assert!(!later.calendar_known);
        assert_eq!(later.phase, Phase::Open);
        let weekend = market_at(utc("2031-06-01T15:00:00Z"));
        assert_eq!(weekend.phase, Phase::Closed);
        // The last day of the table looks past it for the next open.
        let new_years_eve = market_at(utc("2027-12-31T22:00:00Z"));
        assert!(!new_years_eve.calendar_known);
    }
}
