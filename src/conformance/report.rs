//! Seed 004's "TickStockPL Streaming Status Report", filled in from what
//! arrived (a [`Tally`]), the 4 tables, the health cadence and the latency;
//! as JSON, or as the seed's own Markdown template.

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::mark::Mark;
use super::tables::Tables;
use super::tally::{ChannelSummary, FaultSummary, LATENCY_SAMPLES, Tally};
use crate::events::Channel;
use crate::events::required::Problem;

/// Seed 004: health every 60 s, critical beyond 120 s.
pub const HEALTH_TARGET_SECONDS: f64 = 60.0;
pub const HEALTH_CRITICAL_SECONDS: f64 = 120.0;
/// Seed 000: health every 5 to 10 s.
pub const HEALTH_SEED_000_SECONDS: (f64, f64) = (5.0, 10.0);
/// Seed 004's latency target (95th percentile).
pub const LATENCY_TARGET_MS: i64 = 100;

/// How the report is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Markdown,
    Json,
}

/// Where the observations come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `tickstock verify` listened for a window of its own.
    Listened,
    /// A running server, since it started.
    Server,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub date: String,
    pub reporter: String,
    pub observed_from: String,
    pub observed_to: String,
    pub observed_seconds: f64,
    pub channels: Vec<ChannelRow>,
    pub tables: Tables,
    pub health_cadence: Cadence,
    pub latency: Latency,
    /// Times the Redis subscription had to be re-established (messages
    /// published meanwhile were missed).
    pub bus_reconnects: u64,
    pub known_issues: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelRow {
    pub number: usize,
    pub channel: &'static str,
    pub status: Mark,
    pub mark: &'static str,
    pub messages: u64,
    pub faulty_messages: u64,
    pub undecodable_messages: u64,
    pub faults: Vec<FaultRow>,
    pub latency: Option<Percentiles>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultRow {
    pub field: &'static str,
    #[serde(flatten)]
    pub problem: Problem,
    pub detail: String,
    pub count: u64,
    pub example: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub samples: usize,
    pub p50_ms: i64,
    pub p95_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cadence {
    pub health_messages: u64,
    pub intervals: usize,
    pub median_seconds: Option<f64>,
    pub min_seconds: Option<f64>,
    pub max_seconds: Option<f64>,
    pub seed_004: Verdict,
    pub seed_000: Verdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub rule: &'static str,
    /// `meets`, `acceptable` (seed 004: within the critical limit), `misses`
    /// or `unknown` (fewer than two health messages).
    pub verdict: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub target_p95_ms: i64,
    pub all_channels: Option<Percentiles>,
}

impl Report {
    pub fn build(
        origin: Origin,
        tally: &Tally,
        tables: Tables,
        bus_reconnects: u64,
        now: DateTime<Utc>,
    ) -> Self {
        let since = tally.since();
        let observed_seconds = (now - since).num_milliseconds().max(0) as f64 / 1000.0;
        let summaries: Vec<(Channel, ChannelSummary)> = Channel::ALL
            .into_iter()
            .map(|channel| (channel, tally.summary(channel)))
            .collect();
        let channels: Vec<ChannelRow> = summaries
            .iter()
            .enumerate()
            .map(|(i, (channel, summary))| channel_row(i + 1, *channel, summary))
            .collect();
        let all_latencies: Vec<i64> = summaries
            .iter()
            .flat_map(|(_, s)| s.latencies_ms.iter().copied())
            .collect();
        let health = &summaries[Channel::Health.index()].1;
        let mut report = Report {
            date: iso(now),
            reporter: reporter(origin, since, observed_seconds),
            observed_from: iso(since),
            observed_to: iso(now),
            observed_seconds,
            channels,
            tables,
            health_cadence: cadence(health),
            latency: Latency {
                target_p95_ms: LATENCY_TARGET_MS,
                all_channels: percentiles(&all_latencies),
            },
            bus_reconnects,
            known_issues: Vec::new(),
        };
        report.known_issues = known_issues(&report);
        report
    }

    /// Whether some channel carried nothing: the report then fails a gate.
    pub fn any_channel_silent(&self) -> bool {
        self.channels
            .iter()
            .any(|c| c.status == Mark::NotImplemented)
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Markdown => self.to_markdown(),
            Format::Json => serde_json::to_string_pretty(self).unwrap_or_default(),
        }
    }

    /// Seed 004's response template, filled in.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let window = duration_label(self.observed_seconds);
        let _ = writeln!(out, "## TickStockPL Streaming Status Report\n");
        let _ = writeln!(out, "**Date**: {}", human_time(&self.date));
        let _ = writeln!(out, "**Reporter**: {}\n", self.reporter);

        let _ = writeln!(out, "### Channel Implementation Status\n");
        for row in &self.channels {
            let _ = writeln!(
                out,
                "{}. {}: {} - {}",
                row.number,
                row.channel,
                row.mark,
                channel_note(row, &window)
            );
            for fault in &row.faults {
                let _ = writeln!(
                    out,
                    "   - {} {} in {} of {}, e.g. {}",
                    code(fault.field),
                    fault.detail,
                    fault.count,
                    row.messages,
                    code(&fault.example)
                );
            }
        }

        let _ = writeln!(out, "\n### Database Tables Status\n");
        for (i, table) in self.tables.tables.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}. {}: {} - {}",
                i + 1,
                table.table,
                table.status.mark(),
                table.note
            );
        }

        let c = &self.health_cadence;
        let _ = writeln!(out, "\n### Health Cadence\n");
        let _ = writeln!(out, "- {}", cadence_summary(c));
        for verdict in [&c.seed_004, &c.seed_000] {
            let _ = writeln!(
                out,
                "- {}: {} - {}",
                verdict.rule, verdict.verdict, verdict.detail
            );
        }

        let _ = writeln!(
            out,
            "\n### Latency (event timestamp to arrival at TickStock)\n"
        );
        let _ = writeln!(
            out,
            "| channel | timed events (the last {LATENCY_SAMPLES} at most) | p50 | p95 |\n|---|---|---|---|"
        );
        for row in &self.channels {
            if let Some(p) = row.latency {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} ms | {} ms |",
                    row.channel, p.samples, p.p50_ms, p.p95_ms
                );
            }
        }
        let _ = writeln!(
            out,
            "\n- All channels: {} (seed 004: p95 under {} ms end to end)",
            self.latency
                .all_channels
                .map_or("no timestamped events".into(), |p| format!(
                    "p50 {} ms, p95 {} ms over {} events",
                    p.p50_ms, p.p95_ms, p.samples
                )),
            self.latency.target_p95_ms
        );

        let seen = self
            .channels
            .iter()
            .filter(|c| c.status != Mark::NotImplemented)
            .count();
        let _ = writeln!(out, "\n### Testing Availability\n");
        let _ = writeln!(
            out,
            "- Live testing available: {} - events arrived on {seen} of 8 channels in {window}",
            if seen > 0 { "YES" } else { "NO" }
        );
        for item in [
            "Proposed date/time",
            "Mock data available",
            "Mock data location",
        ] {
            let _ = writeln!(out, "- {item}: [not determined by tickstock verify]");
        }

        let _ = writeln!(out, "\n### Known Issues\n");
        if self.known_issues.is_empty() {
            let _ = writeln!(out, "None found.");
        }
        for issue in &self.known_issues {
            let _ = writeln!(out, "- {issue}");
        }
        let _ = writeln!(out, "\n### Questions for TickStockAppV2\n");
        let _ = writeln!(
            out,
            "None: this report was generated by TickStock; `tickstock verify --help` states its rules."
        );
        out
    }
}

fn channel_row(number: usize, channel: Channel, summary: &ChannelSummary) -> ChannelRow {
    let status = if summary.messages == 0 {
        Mark::NotImplemented
    } else if summary.faulty == 0 {
        Mark::Implemented
    } else {
        Mark::InProgress
    };
    ChannelRow {
        number,
        channel: channel.name(),
        status,
        mark: status.mark(),
        messages: summary.messages,
        faulty_messages: summary.faulty,
        undecodable_messages: summary.undecodable,
        faults: summary.faults.iter().map(fault_row).collect(),
        latency: percentiles(&summary.latencies_ms),
    }
}

fn fault_row(fault: &FaultSummary) -> FaultRow {
    FaultRow {
        field: fault.field,
        detail: fault.problem.to_string(),
        problem: fault.problem.clone(),
        count: fault.count,
        example: fault.example.clone(),
    }
}

fn channel_note(row: &ChannelRow, window: &str) -> String {
    let messages = plural(row.messages, "message");
    match row.status {
        Mark::NotImplemented => format!("nothing received in {window}"),
        Mark::Implemented => format!("{messages}, all required fields present"),
        _ => {
            let undecodable = match row.undecodable_messages {
                0 => String::new(),
                n => format!(", {n} of them not decodable by TickStock"),
            };
            format!(
                "{messages}, {} with missing or wrong fields{undecodable}:",
                row.faulty_messages
            )
        }
    }
}

/// Nearest-rank percentiles; `None` without samples.
fn percentiles(samples: &[i64]) -> Option<Percentiles> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank =
        |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
    Some(Percentiles {
        samples: sorted.len(),
        p50_ms: rank(0.50),
        p95_ms: rank(0.95),
    })
}

fn cadence(health: &ChannelSummary) -> Cadence {
    let mut intervals = health.intervals_s.clone();
    intervals.sort_by(f64::total_cmp);
    let median = (!intervals.is_empty()).then(|| intervals[(intervals.len() - 1) / 2]);
    let (min, max) = (intervals.first().copied(), intervals.last().copied());
    let (low, high) = HEALTH_SEED_000_SECONDS;
    let unknown = |rule| Verdict {
        rule,
        verdict: "unknown",
        detail: "fewer than two health messages arrived".into(),
    };
    let seed_004_rule = "seed 004 (every 60 s, critical beyond 120 s)";
    let seed_000_rule = "seed 000 (every 5-10 s)";
    let (seed_004, seed_000) = match (median, max) {
        (Some(median), Some(max)) => (
            Verdict {
                rule: seed_004_rule,
                verdict: if max <= HEALTH_TARGET_SECONDS {
                    "meets"
                } else if max <= HEALTH_CRITICAL_SECONDS {
                    "acceptable"
                } else {
                    "misses"
                },
                detail: format!("the longest interval is {max:.1} s"),
            },
            Verdict {
                rule: seed_000_rule,
                verdict: if (low..=high).contains(&median) {
                    "meets"
                } else {
                    "misses"
                },
                detail: format!("the median interval is {median:.1} s"),
            },
        ),
        _ => (unknown(seed_004_rule), unknown(seed_000_rule)),
    };
    Cadence {
        health_messages: health.messages,
        intervals: intervals.len(),
        median_seconds: median,
        min_seconds: min,
        max_seconds: max,
        seed_004,
        seed_000,
    }
}

fn cadence_summary(c: &Cadence) -> String {
    match (c.median_seconds, c.min_seconds, c.max_seconds) {
        (Some(median), Some(min), Some(max)) => format!(
            "{}, {}: median {median:.1} s, min {min:.1} s, max {max:.1} s",
            plural(c.health_messages, "health message"),
            plural(c.intervals as u64, "interval"),
        ),
        _ => format!(
            "{}: too few to measure",
            plural(c.health_messages, "health message")
        ),
    }
}

fn known_issues(report: &Report) -> Vec<String> {
    let mut issues = Vec::new();
    for row in &report.channels {
        match row.status {
            Mark::NotImplemented => issues.push(format!(
                "{}: nothing received in {}",
                row.channel,
                duration_label(report.observed_seconds)
            )),
            Mark::InProgress => {
                for fault in &row.faults {
                    issues.push(format!(
                        "{}: `{}` {} in {} of {}",
                        row.channel,
                        fault.field,
                        fault.detail,
                        fault.count,
                        plural(row.messages, "message")
                    ));
                }
            }
            _ => {}
        }
    }
    for table in report
        .tables
        .tables
        .iter()
        .filter(|t| matches!(t.status, Mark::InProgress | Mark::NotImplemented))
    {
        issues.push(format!("{}: {}", table.table, table.note));
    }
    let cadence = &report.health_cadence;
    for verdict in [&cadence.seed_004, &cadence.seed_000] {
        if verdict.verdict == "misses" {
            issues.push(format!(
                "Health cadence misses {}: {}",
                verdict.rule, verdict.detail
            ));
        }
    }
    if let Some(p) = report.latency.all_channels
        && p.p95_ms > report.latency.target_p95_ms
    {
        issues.push(format!(
            "Latency p95 is {} ms, above seed 004's {} ms",
            p.p95_ms, report.latency.target_p95_ms
        ));
    }
    if report.bus_reconnects > 0 {
        issues.push(format!(
            "The Redis subscription was re-established {}: messages published meanwhile were missed",
            plural(report.bus_reconnects, "time")
        ));
    }
    issues
}

fn reporter(origin: Origin, since: DateTime<Utc>, seconds: f64) -> String {
    match origin {
        Origin::Listened => format!(
            "tickstock verify - listened to the 8 channels for {}",
            duration_label(seconds)
        ),
        Origin::Server => format!(
            "TickStock server (GET /streaming/api/verify) - what it received since {} ({})",
            human_time(&iso(since)),
            duration_label(seconds)
        ),
    }
}

fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2025-10-07T17:35:00.000Z` as `2025-10-07 17:35:00 UTC`.
fn human_time(iso: &str) -> String {
    match DateTime::parse_from_rfc3339(iso) {
        Ok(t) => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => iso.to_owned(),
    }
}

fn duration_label(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `text` as a Markdown code span, whatever backticks it holds.
fn code(text: &str) -> String {
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let pad = if longest_run > 0 { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Rules;

    fn count_message(tally: &Tally, channel: Channel, message: &str, at: DateTime<Utc>) {
        let _ = tally.decode_and_count(channel, message.as_bytes(), at, &Rules::ANY_TIME);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<i64> = (1..=100).collect();
        assert_eq!(
            percentiles(&samples),
            Some(Percentiles {
                samples: 100,
                p50_ms: 50,
                p95_ms: 95
            })
        );
        assert_eq!(
            percentiles(&[7]).map(|p| (p.p50_ms, p.p95_ms)),
            Some((7, 7))
        );
        assert_eq!(percentiles(&[]), None);
    }

    #[test]
    fn health_cadence_is_judged_against_both_seeds() {
        let every = |seconds: f64| ChannelSummary {
            messages: 4,
            intervals_s: vec![seconds; 3],
            ..ChannelSummary::default()
        };
        let tens = cadence(&every(10.0));
        assert_eq!(
            (tens.seed_004.verdict, tens.seed_000.verdict),
            ("meets", "meets")
        );
        let minutes = cadence(&every(90.0));
        assert_eq!(
            (minutes.seed_004.verdict, minutes.seed_000.verdict),
            ("acceptable", "misses")
        );
        assert_eq!(cadence(&every(180.0)).seed_004.verdict, "misses");
        assert_eq!(
            cadence(&ChannelSummary::default()).seed_004.verdict,
            "unknown"
        );
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "`` a`b ``");
    }

    #[test]
    fn the_markdown_follows_the_seed_template() {
        let now = Utc::now();
        let tally = Tally::new(now - chrono::Duration::seconds(30));
        count_message(
            &tally,
            Channel::SessionStarted,
            r#"{"session": {"session_id": "550e8400-e29b-41d4-a716-446655440000", "started_at": "2025-10-05T09:30:00Z", "symbol_count": 5, "status": "active"}}"#,
            now,
        );
        let report = Report::build(
            Origin::Listened,
            &tally,
            Tables::not_checked("DATABASE_URL is not set"),
            0,
            now,
        );
        assert!(report.any_channel_silent());
        let markdown = report.to_markdown();
        for expected in [
            "## TickStockPL Streaming Status Report",
            "### Channel Implementation Status",
            "1. tickstock:streaming:session_started: ⏳ - 1 message, 1 with missing or wrong fields:",
            "   - `universe` missing in 1 of 1, e.g. `{\"session\":",
            "2. tickstock:streaming:session_stopped: ❌ - nothing received in 30 s",
            "### Database Tables Status",
            "1. streaming_sessions: ❔ - not checked: DATABASE_URL is not set",
            "### Testing Availability",
            "- Live testing available: YES - events arrived on 1 of 8 channels in 30 s",
            "### Known Issues",
            "- tickstock:streaming:session_started: `universe` missing in 1 of 1 message",
            "### Questions for TickStockAppV2",
        ] {
            assert!(
                markdown.contains(expected),
                "{expected:?} not in\n{markdown}"
            );
        }
    }
}
