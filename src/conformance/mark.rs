//! The report's mark for a channel or a table.

use serde::Serialize;

/// The template's marks: ✅ implemented, ⏳ in progress, ❌ not implemented;
/// and, for tables without a database to look in, not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    Implemented,
    InProgress,
    NotImplemented,
    NotChecked,
}

impl Mark {
    pub fn mark(self) -> &'static str {
        match self {
            Mark::Implemented => "✅",
            Mark::InProgress => "⏳",
            Mark::NotImplemented => "❌",
            Mark::NotChecked => "❔",
        }
    }
}
