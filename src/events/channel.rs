use super::Kind;
use super::fields::Object;

/// The channel TickStock publishes ticks on for TickStockPL (CONTRACT §3).
pub const MARKET_TICKS: &str = "tickstock:market:ticks";

/// The 8 channels TickStockPL publishes on and TickStock subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    SessionStarted,
    SessionStopped,
    Health,
    PatternsStreaming,
    PatternsDetected,
    Indicators,
    IndicatorAlerts,
    CriticalAlerts,
}

impl Channel {
    pub const ALL: [Channel; 8] = [
        Channel::SessionStarted,
        Channel::SessionStopped,
        Channel::Health,
        Channel::PatternsStreaming,
        Channel::PatternsDetected,
        Channel::Indicators,
        Channel::IndicatorAlerts,
        Channel::CriticalAlerts,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Channel::SessionStarted => "tickstock:streaming:session_started",
            Channel::SessionStopped => "tickstock:streaming:session_stopped",
            Channel::Health => "tickstock:streaming:health",
            Channel::PatternsStreaming => "tickstock:patterns:streaming",
            Channel::PatternsDetected => "tickstock:patterns:detected",
            Channel::Indicators => "tickstock:indicators:streaming",
            Channel::IndicatorAlerts => "tickstock:alerts:indicators",
            Channel::CriticalAlerts => "tickstock:alerts:critical",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    pub const fn index(self) -> usize {
        self as usize
    }

    /// The kind of event a message without a (known) `type` is taken to be.
    pub(super) fn default_kind(self, message: &Object) -> Kind {
        match self {
            Channel::SessionStarted => Kind::SessionStarted,
            Channel::SessionStopped => Kind::SessionStopped,
            Channel::Health => Kind::Health,
            Channel::PatternsStreaming | Channel::PatternsDetected => {
                if message.get("patterns").is_some_and(|p| p.is_array()) {
                    Kind::PatternsBatch
                } else {
                    Kind::Pattern
                }
            }
            Channel::Indicators => Kind::Indicator,
            Channel::IndicatorAlerts => Kind::IndicatorAlert,
            Channel::CriticalAlerts => Kind::CriticalAlert,
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_indexes_are_dense() {
        for (i, channel) in Channel::ALL.into_iter().enumerate() {
            assert_eq!(Channel::from_name(channel.name()), Some(channel));
            assert_eq!(channel.index(), i);
        }
        assert_eq!(Channel::from_name(MARKET_TICKS), None);
    }
}
