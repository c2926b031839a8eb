//! One representative message per event kind, as TickStockPL sends them.

use tickstock::events::Channel;

pub fn samples() -> Vec<(&'static str, Channel, String)> {
    let pattern = |i: usize| {
        format!(
            r#"{{"symbol":"SYM{i}","pattern_type":"Doji","confidence":0.85,"timestamp":"2025-10-05T10:15:00.000Z","timeframe":"1min","bar_data":{{"open":125.5,"high":125.75,"low":125.45,"close":125.52,"volume":250000}},"metadata":{{"session_id":"550e8400-e29b-41d4-a716-446655440000","detection_method":"DynamicPatternIndicatorLoader"}}}}"#
        )
    };
    let batch: Vec<String> = (0..50).map(pattern).collect();
    vec![
        ("health_a", Channel::Health, r#"{"type":"streaming_health","health":{"session_id":"df4f5558-c1d6-496f-9b43-6849a55838aa","status":"healthy","active_symbols":60,"ticks_per_second":15.2,"patterns_detected":5,"indicators_calculated":150,"timestamp":"2025-10-07T17:35:00.000Z"},"timestamp":"2025-10-07T17:35:00.000Z"}"#.into()),
        ("health_b", Channel::Health, r#"{"type":"streaming_health","health":{"status":"healthy","timestamp":"2025-10-05T10:15:00.000Z","active_symbols":485,"connection_status":"connected","data_flow":{"ticks_per_second":125.3,"bars_per_minute":480,"processing_lag_ms":45},"resource_usage":{"cpu_percent":35.2,"memory_mb":512,"threads_active":8},"issues":[]}}"#.into()),
        // Not canonical (numbers as strings, an alias, an unknown field): the
        // typed path refuses it and the tolerant decoder takes over.
        ("health_tolerant", Channel::Health, r#"{"type":"streaming_health","health":{"session_id":"df4f5558-c1d6-496f-9b43-6849a55838aa","status":"healthy","active_symbols":"60","ticks_per_second":"15.2","memory_mb":512,"region":"us-east","timestamp":"2025-10-07T17:35:00.000Z"}}"#.into()),
        ("session_started", Channel::SessionStarted, r#"{"type":"streaming_session_started","session":{"session_id":"550e8400-e29b-41d4-a716-446655440000","universe":"market_leaders:top_500","started_at":"2025-10-05T09:30:00.000Z","symbol_count":500,"status":"active"},"timestamp":"2025-10-05T09:30:00.000Z"}"#.into()),
        ("pattern", Channel::PatternsStreaming, format!(r#"{{"type":"streaming_pattern","detection":{}}}"#, pattern(0))),
        ("patterns_batch_50", Channel::PatternsStreaming, format!(r#"{{"type":"streaming_patterns_batch","patterns":[{}],"count":50,"batch_timestamp":"2025-10-05T10:15:01.000Z"}}"#, batch.join(","))),
        ("indicator", Channel::Indicators, r#"{"type":"streaming_indicator","calculation":{"symbol":"TSLA","indicator":"RSI","value":72.5,"timestamp":"2025-10-05T10:15:00.000Z","timeframe":"1min","metadata":{"period":14,"overbought_threshold":70,"oversold_threshold":30}}}"#.into()),
        ("indicator_alert", Channel::IndicatorAlerts, r#"{"type":"indicator_alert","alert":{"symbol":"AAPL","alert_type":"RSI_OVERBOUGHT","timestamp":"2025-10-05T11:30:00.000Z","data":{"indicator":"RSI","value":75.2,"threshold":70,"direction":"above"},"severity":"warning"}}"#.into()),
        ("critical_alert", Channel::CriticalAlerts, r#"{"type":"critical_alert","alert":{"severity":"critical","message":"WebSocket connection lost to Massive","timestamp":"2025-10-05T12:45:00.000Z","component":"massive_websocket","action_required":"Check API credentials","recovery":null}}"#.into()),
    ]
}
