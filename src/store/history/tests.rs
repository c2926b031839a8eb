//! The memory store's rules, which the PostgreSQL store shares (the
//! integration tests compare the two).

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::memory::Limits;
use super::*;
use crate::events::{Channel, decode};

fn at(minute: u32) -> String {
    format!("2025-10-05T10:{minute:02}:00Z")
}

fn time(minute: u32) -> DateTime<Utc> {
    at(minute).parse().unwrap()
}

fn batch(messages: &[(Channel, serde_json::Value)]) -> Batch {
    let mut records = Vec::new();
    for (channel, message) in messages {
        let event = decode(*channel, message.to_string().as_bytes(), Utc::now()).unwrap();
        Record::for_each_of(&event, |r| records.push(r));
    }
    Batch::new(&records)
}

fn pattern(symbol: &str, name: &str, minute: u32) -> (Channel, serde_json::Value) {
    let detection = json!({"symbol": symbol, "pattern_type": name, "confidence": 0.9,
        "timestamp": at(minute), "timeframe": "1min"});
    (Channel::PatternsStreaming, json!({"detection": detection}))
}

async fn patterns_of(history: &MemoryHistory, symbol: &str, limit: usize) -> Vec<(String, u32)> {
    let query = PatternQuery {
        symbol: Some(symbol.into()),
        page: PageQuery {
            limit,
            ..PageQuery::default()
        },
        ..PatternQuery::default()
    };
    history
        .patterns(&query)
        .await
        .unwrap()
        .rows
        .into_iter()
        .map(|r| {
            (
                r.pattern_type,
                r.detected_at.format("%M").to_string().parse().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_natural_key_is_kept_once_and_answers_come_newest_first_within_the_limit() {
    let history = MemoryHistory::default();
    let messages = [
        pattern("NVDA", "Doji", 1),
        pattern("NVDA", "Hammer", 3),
        pattern("NVDA", "Doji", 3),
        pattern("TSLA", "Doji", 4),
        pattern("NVDA", "Doji", 2),
    ];
    history.write(&batch(&messages)).await.unwrap();
    // The same detections again, as the other pattern channel would bring them.
    history.write(&batch(&messages)).await.unwrap();
    let newest = patterns_of(&history, "NVDA", 3).await;
    assert_eq!(
        newest,
        [("Doji".into(), 3), ("Hammer".into(), 3), ("Doji".into(), 2)]
    );
    assert_eq!(patterns_of(&history, "NVDA", 100).await.len(), 4);
}

#[tokio::test]
async fn a_time_window_and_a_filter_select_rows() {
    let history = MemoryHistory::default();
    let indicator = |name: &str, minute: u32| {
        let calculation =
            json!({"symbol": "AAPL", "indicator": name, "value": 50, "timestamp": at(minute)});
        (Channel::Indicators, json!({"calculation": calculation}))
    };
    let critical = json!({"alert": {"severity": "critical", "message": "lost",
        "component": "feed", "timestamp": at(5)}});
    let overbought = json!({"alert": {"symbol": "AAPL", "alert_type": "RSI_OVERBOUGHT",
        "timestamp": at(1), "data": {"indicator": "RSI", "value": 75}}});
    history
        .write(&batch(&[
            pattern("NVDA", "Doji", 1),
            pattern("NVDA", "Doji", 9),
            indicator("RSI", 1),
            indicator("SMA", 2),
            (Channel::CriticalAlerts, critical),
            (Channel::IndicatorAlerts, overbought),
        ]))
        .await
        .unwrap();
    let recent = PatternQuery {
        symbol: Some("NVDA".into()),
        page: PageQuery {
            since: Some(time(5)),
            limit: 100,
            ..PageQuery::default()
        },
        ..PatternQuery::default()
    };
    assert_eq!(history.patterns(&recent).await.unwrap().rows.len(), 1);
    let rsi = IndicatorQuery {
        symbol: "AAPL".into(),
        indicator: Some("rsi".into()),
        page: PageQuery {
            limit: 50,
            ..PageQuery::default()
        },
    };
    let rows = history.indicators(&rsi).await.unwrap().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].indicator, "RSI");
    let alerts = |alert_type: Option<&str>, since| AlertQuery {
        alert_type: alert_type.map(str::to_owned),
        page: PageQuery {
            since,
            limit: 100,
            ..PageQuery::default()
        },
        ..AlertQuery::default()
    };
    let kinds = async |query| -> Vec<String> {
        let rows = history.alerts(&query).await.unwrap().rows;
        rows.into_iter().map(|a| a.kind).collect()
    };
    assert_eq!(
        kinds(alerts(None, None)).await,
        ["critical_alert", "indicator_alert"]
    );
    assert_eq!(
        kinds(alerts(Some("critical_alert"), None)).await,
        ["critical_alert"]
    );
    assert_eq!(
        kinds(alerts(Some("rsi_overbought"), None)).await,
        ["indicator_alert"]
    );
    assert_eq!(kinds(alerts(None, Some(time(2)))).await, ["critical_alert"]);
}

#[tokio::test]
async fn tables_forget_their_oldest_rows_beyond_their_limit() {
    let history = MemoryHistory::with_limits(Limits {
        sessions: 2,
        patterns: 3,
        indicators: 1,
        health: 1,
        alerts: 1,
    });
    let messages: Vec<_> = (1..=5).map(|m| pattern("NVDA", "Doji", m)).collect();
    history.write(&batch(&messages)).await.unwrap();
    let kept: Vec<u32> = patterns_of(&history, "NVDA", 100)
        .await
        .into_iter()
        .map(|(_, minute)| minute)
        .collect();
    assert_eq!(kept, [5, 4, 3]);
}

fn started(id: &str, universe: &str, minute: u32) -> (Channel, serde_json::Value) {
    let session = json!({"session_id": id, "universe": universe, "started_at": at(minute),
        "symbol_count": 60});
    (Channel::SessionStarted, json!({"session": session}))
}

#[tokio::test]
async fn a_start_after_its_placeholder_fills_it_in_and_a_stop_keeps_what_it_does_not_give() {
    let history = MemoryHistory::default();
    let health = json!({"health": {"session_id": "pl-1", "status": "healthy",
        "active_symbols": 60, "timestamp": at(5)}});
    history
        .write(&batch(&[(Channel::Health, health)]))
        .await
        .unwrap();
    let placeholder = history.sessions(10).await.unwrap().remove(0);
    assert_eq!(placeholder.universe, "unknown");
    assert_eq!(placeholder.started_at, time(5));
    assert_eq!(placeholder.session_id, session_uuid("pl-1"));

    history
        .write(&batch(&[started("pl-1", "market_leaders:top_500", 1)]))
        .await
        .unwrap();
    let stop = json!({"session": {"session_id": "pl-1", "stopped_at": at(30),
        "total_patterns": 12}});
    history
        .write(&batch(&[(Channel::SessionStopped, stop)]))
        .await
        .unwrap();
    let sessions = history.sessions(10).await.unwrap();
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(session.universe, "market_leaders:top_500");
    assert_eq!(session.started_at, time(1));
    assert_eq!(session.symbol_count, 60);
    assert_eq!(session.stopped_at, Some(time(30)));
    assert_eq!(session.total_patterns, Some(12));
    assert_eq!(session.total_indicators, Some(0));
}

#[tokio::test]
async fn the_open_session_is_the_latest_started_in_the_window_and_not_stopped() {
    let history = MemoryHistory::default();
    let stop = json!({"session": {"session_id": "latest", "stopped_at": at(50)}});
    history
        .write(&batch(&[
            started("old", "u", 1),
            started("open", "u", 10),
            started("latest", "u", 20),
            (Channel::SessionStopped, stop),
        ]))
        .await
        .unwrap();
    let open = history.open_session(time(0)).await.unwrap().unwrap();
    assert_eq!(open.session_id, session_uuid("open"));
    let later = time(10) + Duration::seconds(1);
    assert!(history.open_session(later).await.unwrap().is_none());
}

#[tokio::test]
async fn pages_follow_each_other_through_a_tie_without_a_gap_or_a_repeat() {
    let history = MemoryHistory::default();
    let names = ["A", "B", "C", "D", "E"];
    let messages: Vec<_> = (1..=4)
        .flat_map(|minute| names.map(|name| pattern("NVDA", name, minute)))
        .collect();
    history.write(&batch(&messages)).await.unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let query = PatternQuery {
            symbol: Some("NVDA".into()),
            page: PageQuery {
                before: before.take(),
                limit: 3,
                ..PageQuery::default()
            },
            ..PatternQuery::default()
        };
        let page = history.patterns(&query).await.unwrap();
        seen.extend(
            page.rows
                .iter()
                .map(|r| (r.detected_at, r.pattern_type.clone())),
        );
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let expected: Vec<_> = (1..=4)
        .rev()
        .flat_map(|minute| names.map(|name| (time(minute), name.to_owned())))
        .collect();
    assert_eq!(seen, expected);
    // Rows arriving meanwhile, at the same time, do not shift a later page.
    let first = history
        .patterns(&PatternQuery {
            symbol: Some("NVDA".into()),
            page: PageQuery {
                limit: 3,
                ..PageQuery::default()
            },
            ..PatternQuery::default()
        })
        .await
        .unwrap();
    history
        .write(&batch(&[pattern("NVDA", "0", 4)]))
        .await
        .unwrap();
    let second = history
        .patterns(&PatternQuery {
            symbol: Some("NVDA".into()),
            page: PageQuery {
                before: first.next,
                limit: 1,
                ..PageQuery::default()
            },
            ..PatternQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(second.rows[0].pattern_type, "D");
}

#[test]
fn each_row_lists_exactly_its_serialized_columns() {
    fn keys<R: HistoryRow>(row: &R) -> Vec<String> {
        match serde_json::to_value(row).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("{other}"),
        }
    }
    fn sorted(columns: &[&str]) -> Vec<String> {
        let mut columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        columns.sort();
        columns
    }
    let messages = [
        pattern("NVDA", "Doji", 1),
        started("s", "u", 1),
        (
            Channel::Health,
            json!({"health": {"status": "healthy", "timestamp": at(1)}}),
        ),
        (
            Channel::CriticalAlerts,
            json!({"alert": {"severity": "critical", "message": "m", "component": "c", "timestamp": at(1)}}),
        ),
        (
            Channel::Indicators,
            json!({"calculation": {"symbol": "A", "indicator": "RSI", "value": 1, "timestamp": at(1)}}),
        ),
    ];
    let batch = batch(&messages);
    // serde_json's maps sort their keys: compare as sets, then the count.
    assert_eq!(keys(&batch.patterns[0]), sorted(PatternRow::COLUMNS));
    assert_eq!(keys(&batch.started[0]), sorted(SessionRow::COLUMNS));
    assert_eq!(keys(&batch.health[0]), sorted(HealthRow::COLUMNS));
    assert_eq!(keys(&batch.alerts[0]), sorted(AlertRow::COLUMNS));
    assert_eq!(keys(&batch.indicators[0]), sorted(IndicatorRow::COLUMNS));
}
