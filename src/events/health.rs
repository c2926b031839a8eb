//! `streaming_health`, payload key `health`, in both shapes of CONTRACT §2:
//! shape A (flat metrics, what TickStockPL sends) and shape B (the spec's
//! `data_flow` / `resource_usage` groups). The decoded value carries every
//! metric in both places, so readers of either shape find it.
//!
//! `FIELDS` describes every field once: where it sits, how it is read and
//! checked, and what seed 004 requires of it. The typed decoder (for the
//! canonical shapes), the tolerant one (for anything else), the checks both
//! end in and seed 004's required fields ([`REQUIRED`]) all follow it, so a
//! new metric is a field of [`Health`] (or of its group) and a row there.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{self, serialize_timestamp};
use super::findings::{Fault, FieldKind, Findings, Problem, Required, Sent};
use super::rules::{
    self, MAX_CPU_PERCENT, MAX_MEASURE, MAX_TICKS_PER_SECOND, MAX_UPTIME_SECONDS, Reason, Window,
};
use super::{DecodeError, Envelope, Kind, Object, payload};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Health {
    pub session_id: Option<String>,
    /// `healthy`, `degraded`, `warning`, `error`, `critical`, `starting`,
    /// `stopping`, or any other string as sent.
    pub status: String,
    pub active_symbols: Option<i64>,
    pub ticks_per_second: Option<f64>,
    pub patterns_detected: Option<i64>,
    pub indicators_calculated: Option<i64>,
    pub cpu_percent: Option<f64>,
    pub memory_usage_mb: Option<f64>,
    pub errors_count: Option<i64>,
    pub uptime_seconds: Option<f64>,
    pub connection_status: Option<String>,
    pub data_flow: DataFlow,
    pub resource_usage: ResourceUsage,
    pub issues: Vec<Value>,
    #[serde(serialize_with = "serialize_timestamp")]
    pub timestamp: DateTime<Utc>,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DataFlow {
    pub ticks_per_second: Option<f64>,
    pub bars_per_minute: Option<f64>,
    pub processing_lag_ms: Option<f64>,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResourceUsage {
    pub cpu_percent: Option<f64>,
    pub memory_mb: Option<f64>,
    pub threads_active: Option<i64>,
    #[serde(flatten)]
    pub extra: Object,
}

/// Where a field goes in [`Health`], and so how it is read and checked.
#[derive(Clone, Copy)]
enum Slot {
    /// The word a health message cannot do without: an identifier
    /// ([`rules::identifier`]).
    Word(fn(&mut Health) -> &mut String),
    /// An identifier or a word of a vocabulary, when sent.
    Name(fn(&mut Health) -> &mut Option<String>),
    /// A count ([`rules::count`]).
    Count(fn(&mut Health) -> &mut Option<i64>),
    /// An amount from 0 to the bound ([`rules::amount`]).
    Amount(fn(&mut Health) -> &mut Option<f64>, f64),
    /// A list of anything; a single string is a list of one.
    List(fn(&mut Health) -> &mut Vec<Value>),
    /// The payload's own time, within the rules' window; the envelope's
    /// stands in for it.
    Time,
}

/// One field of a health message.
#[derive(Clone, Copy)]
struct Field {
    /// Its path in the payload: `status`, `data_flow.ticks_per_second`.
    path: &'static str,
    /// The group of [`GROUPS`] it sits in, if any, and its name there.
    group: Option<usize>,
    name: &'static str,
    /// A name the tolerant decoder also reads it under, second to `name`.
    alias: Option<&'static str>,
    slot: Slot,
    /// Seed 004's kind for it, when seed 004 requires it.
    required: Option<FieldKind>,
}

/// A field at `path`, where `group.name` is `name` in a group of [`GROUPS`].
const fn field(path: &'static str, slot: Slot) -> Field {
    let bytes = path.as_bytes();
    let mut dot = 0;
    while dot < bytes.len() && bytes[dot] != b'.' {
        dot += 1;
    }
    let (group, name) = if dot == bytes.len() {
        (None, path)
    } else {
        let (group, rest) = path.split_at(dot);
        (Some(group_of(group)), rest.split_at(1).1)
    };
    Field {
        path,
        group,
        name,
        alias: None,
        slot,
        required: None,
    }
}

impl Field {
    /// Seed 004 requires it, of `kind`.
    const fn required(self, kind: FieldKind) -> Self {
        Field {
            required: Some(kind),
            ..self
        }
    }

    /// The tolerant decoder also reads it under `alias`.
    const fn or(self, alias: &'static str) -> Self {
        Field {
            alias: Some(alias),
            ..self
        }
    }
}

use FieldKind::{Array, Float, Integer, Text, Timestamp};
use Slot::{Amount, Count, List, Name, Time, Word};

/// Every field of a health message: seed 004's (shape B) in its order, then
/// shape A's. The decoders read them in this order and check them in this
/// order, so the first field that fails is the one a refusal names.
const FIELDS: &[Field] = &[
    field("status", Word(|h| &mut h.status)).required(Text),
    field("timestamp", Time).required(Timestamp),
    field("active_symbols", Count(|h| &mut h.active_symbols)).required(Integer),
    field("connection_status", Name(|h| &mut h.connection_status)).required(Text),
    field(
        "data_flow.ticks_per_second",
        Amount(|h| &mut h.data_flow.ticks_per_second, MAX_TICKS_PER_SECOND),
    )
    .required(Float),
    field(
        "data_flow.bars_per_minute",
        Amount(|h| &mut h.data_flow.bars_per_minute, MAX_MEASURE),
    )
    .required(Integer),
    field(
        "data_flow.processing_lag_ms",
        Amount(|h| &mut h.data_flow.processing_lag_ms, MAX_MEASURE),
    )
    .required(Integer),
    field(
        "resource_usage.cpu_percent",
        Amount(|h| &mut h.resource_usage.cpu_percent, MAX_CPU_PERCENT),
    )
    .required(Float),
    field(
        "resource_usage.memory_mb",
        Amount(|h| &mut h.resource_usage.memory_mb, MAX_MEASURE),
    )
    .or("memory_usage_mb")
    .required(Integer),
    field(
        "resource_usage.threads_active",
        Count(|h| &mut h.resource_usage.threads_active),
    ),
    field("issues", List(|h| &mut h.issues)).required(Array),
    field("session_id", Name(|h| &mut h.session_id)),
    field(
        "ticks_per_second",
        Amount(|h| &mut h.ticks_per_second, MAX_TICKS_PER_SECOND),
    ),
    field("patterns_detected", Count(|h| &mut h.patterns_detected)),
    field(
        "indicators_calculated",
        Count(|h| &mut h.indicators_calculated),
    ),
    field(
        "cpu_percent",
        Amount(|h| &mut h.cpu_percent, MAX_CPU_PERCENT),
    ),
    field(
        "memory_usage_mb",
        Amount(|h| &mut h.memory_usage_mb, MAX_MEASURE),
    )
    .or("memory_mb"),
    field("errors_count", Count(|h| &mut h.errors_count)),
    field(
        "uptime_seconds",
        Amount(|h| &mut h.uptime_seconds, MAX_UPTIME_SECONDS),
    ),
];

/// A metric both shapes carry: its place in shape A and in shape B.
type BothPlaces = fn(&mut Health) -> (&mut Option<f64>, &mut Option<f64>);

/// The metrics both shapes carry: a decoded event has each in both places,
/// shape A's value first.
const IN_BOTH_SHAPES: &[BothPlaces] = &[
    |h| (&mut h.ticks_per_second, &mut h.data_flow.ticks_per_second),
    |h| (&mut h.cpu_percent, &mut h.resource_usage.cpu_percent),
    |h| (&mut h.memory_usage_mb, &mut h.resource_usage.memory_mb),
];

/// Shape B's groups: objects of their own, with extras of their own.
struct Group {
    name: &'static str,
    extra: fn(&mut Health) -> &mut Object,
}

const GROUPS: &[Group] = &[
    Group {
        name: "data_flow",
        extra: |h| &mut h.data_flow.extra,
    },
    Group {
        name: "resource_usage",
        extra: |h| &mut h.resource_usage.extra,
    },
];

/// The index in [`GROUPS`] of the group called `name`; a field naming
/// another group does not compile.
const fn group_of(name: &str) -> usize {
    let name = name.as_bytes();
    let mut at = 0;
    while at < GROUPS.len() {
        let candidate = GROUPS[at].name.as_bytes();
        let mut same = candidate.len() == name.len();
        let mut i = 0;
        while same && i < name.len() {
            same = candidate[i] == name[i];
            i += 1;
        }
        if same {
            return at;
        }
        at += 1;
    }
    panic!("a field's group is one of GROUPS")
}

/// Seed 004's required fields of a health message, from [`FIELDS`].
pub const REQUIRED: [Required; required_count()] = required_fields();

/// Bit `row`: seed 004 requires `FIELDS[row]`.
const REQUIRED_ROWS: u32 = {
    let (mut rows, mut at) = (0, 0);
    while at < FIELDS.len() {
        if FIELDS[at].required.is_some() {
            rows |= 1 << at;
        }
        at += 1;
    }
    rows
};

const fn required_count() -> usize {
    REQUIRED_ROWS.count_ones() as usize
}

const fn required_fields() -> [Required; required_count()] {
    let mut required = [Required {
        field: "",
        kind: Text,
    }; required_count()];
    let (mut count, mut at) = (0, 0);
    while at < FIELDS.len() {
        if let Some(kind) = FIELDS[at].required {
            required[count] = Required {
                field: FIELDS[at].path,
                kind,
            };
            count += 1;
        }
        at += 1;
    }
    required
}

/// A health event as read, before its checks; the payload's own time apart,
/// as the envelope's may stand in for it.
#[derive(Default)]
struct Draft {
    health: Health,
    time: Option<DateTime<Utc>>,
}

impl Draft {
    /// The event, if every value makes sense ([`rules`]): both decoders end
    /// here, so they refuse alike.
    fn assemble(&mut self, envelope: &Envelope) -> Result<(), DecodeError> {
        let health = &mut self.health;
        for field in FIELDS {
            field.check(health)?;
        }
        for both in IN_BOTH_SHAPES {
            let (shape_a, shape_b) = both(health);
            let value = shape_a.or(*shape_b);
            (*shape_a, *shape_b) = (value, value);
        }
        for group in GROUPS {
            let extra = (group.extra)(health);
            *extra = rules::passthrough(std::mem::take(extra));
        }
        health.extra = rules::passthrough(std::mem::take(&mut health.extra));
        health.timestamp = envelope.time_of(self.time);
        Ok(())
    }
}

impl Field {
    /// Takes this field out of `obj` (the payload or its group), as
    /// tolerantly as CONTRACT §2 asks.
    fn take(
        &self,
        obj: &mut Object,
        draft: &mut Draft,
        window: &Window,
    ) -> Result<(), DecodeError> {
        let names: &[&'static str] = match self.alias {
            Some(alias) => &[self.name, alias],
            None => &[self.name],
        };
        let health = &mut draft.health;
        match self.slot {
            Word(at) => *at(health) = fields::require_string(obj, names)?,
            Name(at) => *at(health) = fields::take_string(obj, names)?,
            Count(at) => *at(health) = fields::take_i64(obj, names)?,
            Amount(at, _) => *at(health) = fields::take_f64(obj, names)?,
            List(at) => {
                *at(health) = match obj.remove(self.name) {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(items)) => items,
                    Some(single @ Value::String(_)) => vec![single],
                    Some(_) => return Err(DecodeError::invalid(self.name, Reason::NotArray)),
                }
            }
            Time => draft.time = fields::take_timestamp(obj, names, window)?,
        }
        Ok(())
    }

    /// Refuses a value that makes no sense ([`rules`]), naming the field by
    /// its path.
    fn check(&self, health: &mut Health) -> Result<(), DecodeError> {
        match self.slot {
            Word(at) => {
                let word = at(health);
                *word = rules::identifier(self.path, std::mem::take(word))?;
            }
            Name(at) => {
                let name = at(health);
                *name = rules::opt_identifier(self.path, name.take())?;
            }
            Count(at) => {
                let count = at(health);
                *count = rules::opt_count(self.path, *count)?;
            }
            Amount(at, max) => {
                let amount = at(health);
                *amount = rules::opt_amount(self.path, *amount, max)?;
            }
            List(at) => at(health).iter_mut().for_each(rules::clean),
            Time => {}
        }
        Ok(())
    }
}

/// The tolerant decoder: any shape CONTRACT §2 allows, from a JSON tree.
pub fn decode(obj: Object, envelope: &Envelope) -> Result<Health, DecodeError> {
    let mut p = payload(obj, "health");
    let mut groups: [Option<Object>; GROUPS.len()] = Default::default();
    let mut draft = Draft::default();
    for field in FIELDS {
        let source = match field.group {
            None => &mut p,
            Some(group) => {
                if groups[group].is_none() {
                    let taken = fields::take_object(&mut p, GROUPS[group].name)?;
                    groups[group] = Some(taken.unwrap_or_default());
                }
                groups[group].get_or_insert_default()
            }
        };
        field.take(source, &mut draft, &envelope.window)?;
    }
    for (group, left) in GROUPS.iter().zip(groups) {
        *(group.extra)(&mut draft.health) = left.unwrap_or_default();
    }
    draft.health.extra = p;
    draft.assemble(envelope)?;
    Ok(draft.health)
}

/// A canonical health message, or `None` for anything else (the tolerant
/// path then decides). Canonical is the message as TickStockPL and seed 004
/// write it: `type`, `health` and `timestamp` at the top, every field of
/// [`FIELDS`] under its own name (no alias), of its own JSON type, once, and
/// nothing else; it is read without building a JSON tree, and gives the
/// same event as the tolerant decoder. With `findings`, it notes there how
/// the message measures up against seed 004, from what it read.
pub(super) fn decode_canonical(
    message: &[u8],
    received_at: DateTime<Utc>,
    window: Window,
    findings: Option<&mut Findings>,
) -> Option<Health> {
    let mut deserializer = serde_json::Deserializer::from_slice(message);
    let mut read = Typed {
        judging: findings.is_some(),
        ..Typed::default()
    };
    (&mut read).deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    // Another known `type` is decoded as that kind, by the tolerant path.
    if let Some(Some(kind)) = &read.kind
        && Kind::from_type(kind).is_some_and(|kind| kind != Kind::Health)
    {
        return None;
    }
    let time_of = |text: Option<&str>| match text {
        None => Some(None),
        Some(text) => fields::parse_timestamp_text(text)
            .and_then(|t| window.check("timestamp", t).ok())
            .map(Some),
    };
    let envelope = Envelope {
        timestamp: time_of(read.envelope_time.as_ref().and_then(Option::as_deref))?,
        received_at,
        window,
    };
    let own_time = time_of(read.own_time.as_deref())?;
    let words_read = FIELDS
        .iter()
        .enumerate()
        .all(|(row, field)| !matches!(field.slot, Word(_)) || read.was_read(row));
    if !words_read {
        return None;
    }
    let time_row = FIELDS.iter().position(|f| matches!(f.slot, Time))?;
    // The envelope's time stands in for a payload that has none at all, for
    // seed 004 as for the event.
    let stands_in = !read.was_seen(time_row);
    if stands_in && let Some(Some(text)) = read.envelope_time.take() {
        read.note(time_row, Sent::Text(&text));
    }
    let event_time = if stands_in {
        envelope.timestamp
    } else {
        own_time
    };
    read.draft.time = own_time;
    read.draft.assemble(&envelope).ok()?;
    let health = std::mem::take(&mut read.draft.health);
    if let Some(findings) = findings {
        *findings = read.findings(event_time);
    }
    Some(health)
}

/// What the typed decoder read of a message: the event before its checks,
/// the texts it still has to parse (the payload's time among them), and, when judging, which fields it read
/// and which of them are not of seed 004's kind.
#[derive(Default)]
struct Typed<'de> {
    draft: Draft,
    /// `type`, `timestamp` at the top: `Some` once seen (null or not).
    kind: Option<Option<Cow<'de, str>>>,
    envelope_time: Option<Option<Cow<'de, str>>>,
    health_seen: bool,
    own_time: Option<Cow<'de, str>>,
    /// Bit `row`: `FIELDS[row]`'s name was in the message (null included).
    seen: u32,
    /// Bit `row`: `FIELDS[row]` was read, neither null nor blank.
    read: u32,
    /// Bit `group`: `GROUPS[group]` was in the message.
    groups_seen: u32,
    judging: bool,
    /// Fields read that are not of seed 004's kind.
    misfits: Vec<(usize, Problem)>,
}

const _: () = assert!(FIELDS.len() <= 32 && GROUPS.len() <= 32, "a bit per field");

impl Typed<'_> {
    fn was_seen(&self, row: usize) -> bool {
        self.seen & (1 << row) != 0
    }

    fn was_read(&self, row: usize) -> bool {
        self.read & (1 << row) != 0
    }

    /// `FIELDS[row]` was sent as `sent`.
    fn note(&mut self, row: usize, sent: Sent<'_>) {
        if sent == Sent::Absent {
            return;
        }
        self.read |= 1 << row;
        if self.judging
            && let Some(problem) = FIELDS[row].required.and_then(|kind| kind.judge(sent))
        {
            self.misfits.push((row, problem));
        }
    }

    /// Seed 004's findings, in [`REQUIRED`]'s order.
    fn findings(mut self, event_time: Option<DateTime<Utc>>) -> Findings {
        // One allocation, or none: shape A lacks seven of them every time.
        let missing = (REQUIRED_ROWS & !self.read).count_ones() as usize;
        let mut faults = Vec::with_capacity(missing + self.misfits.len());
        for (row, field) in FIELDS.iter().enumerate() {
            if field.required.is_none() {
                continue;
            }
            let problem = if !self.was_read(row) {
                Some(Problem::Missing)
            } else {
                let misfit = self.misfits.iter().position(|(r, _)| *r == row);
                misfit.map(|at| self.misfits.swap_remove(at).1)
            };
            if let Some(problem) = problem {
                faults.push(Fault {
                    field: field.path,
                    problem,
                });
            }
        }
        Findings {
            faults,
            unrecognised: Vec::new(),
            event_time,
        }
    }
}

/// Refuses a message for the typed decoder: the tolerant one takes it.
fn not_canonical<E: de::Error>() -> E {
    E::custom("not a canonical health message")
}

impl<'de> DeserializeSeed<'de> for &mut Typed<'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// The message's top level.
impl<'de> Visitor<'de> for &mut Typed<'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a health message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Str(key)) = map.next_key()? {
            match &*key {
                "type" if self.kind.is_none() => {
                    self.kind = Some(map.next_value::<Option<Str>>()?.map(|Str(t)| t));
                }
                "timestamp" if self.envelope_time.is_none() => {
                    self.envelope_time = Some(map.next_value::<Option<Str>>()?.map(|Str(t)| t));
                }
                "health" if !self.health_seen => {
                    self.health_seen = true;
                    map.next_value_seed(Fields {
                        typed: &mut *self,
                        group: None,
                    })?;
                }
                _ => return Err(not_canonical()),
            }
        }
        if self.health_seen {
            Ok(())
        } else {
            Err(not_canonical())
        }
    }
}

/// The fields of the payload (`group` `None`) or of one of its groups.
struct Fields<'t, 'de> {
    typed: &'t mut Typed<'de>,
    group: Option<usize>,
}

impl<'de> DeserializeSeed<'de> for Fields<'_, 'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.group {
            None => deserializer.deserialize_map(self),
            // A group may be null: as if not sent.
            Some(_) => deserializer.deserialize_option(self),
        }
    }
}

impl<'de> Visitor<'de> for Fields<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Producers write their fields in one order, mostly the table's: the
        // search starts after the row last read.
        let mut next = 0;
        while let Some(Str(key)) = map.next_key()? {
            if self.group.is_none()
                && let Some(group) = GROUPS.iter().position(|g| g.name == key)
            {
                if self.typed.groups_seen & (1 << group) != 0 {
                    return Err(not_canonical());
                }
                self.typed.groups_seen |= 1 << group;
                map.next_value_seed(Fields {
                    typed: &mut *self.typed,
                    group: Some(group),
                })?;
                continue;
            }
            let row = (next..FIELDS.len())
                .chain(0..next)
                .find(|&row| FIELDS[row].group == self.group && FIELDS[row].name == key)
                .ok_or_else(not_canonical)?;
            self.typed.read_field(row, &mut map)?;
            next = row + 1;
        }
        Ok(())
    }
}

impl<'de> Typed<'de> {
    /// Reads `FIELDS[row]`'s value, of its own JSON type only.
    fn read_field<A: MapAccess<'de>>(&mut self, row: usize, map: &mut A) -> Result<(), A::Error> {
        if self.was_seen(row) {
            return Err(not_canonical());
        }
        self.seen |= 1 << row;
        let text = |t: Option<Str>| t.and_then(|Str(t)| fields::text(t.into_owned()));
        match FIELDS[row].slot {
            Word(at) => {
                let word = text(Some(map.next_value()?)).ok_or_else(not_canonical)?;
                self.note(row, Sent::Text(&word));
                *at(&mut self.draft.health) = word;
            }
            Name(at) => {
                let name = text(map.next_value()?);
                self.note(row, name.as_deref().map_or(Sent::Absent, Sent::Text));
                *at(&mut self.draft.health) = name;
            }
            Count(at) => {
                let count: Option<i64> = map.next_value()?;
                self.note(row, count.map_or(Sent::Absent, |n| Sent::Number(n as f64)));
                *at(&mut self.draft.health) = count;
            }
            Amount(at, _) => {
                let amount: Option<f64> = map.next_value()?;
                self.note(row, amount.map_or(Sent::Absent, Sent::Number));
                *at(&mut self.draft.health) = amount;
            }
            List(at) => {
                let items: Option<Vec<Value>> = map.next_value()?;
                self.note(row, items.as_ref().map_or(Sent::Absent, |_| Sent::Array));
                *at(&mut self.draft.health) = items.unwrap_or_default();
            }
            Time => {
                let time: Option<Str> = map.next_value()?;
                let time = time.map(|Str(t)| t);
                self.note(row, time.as_deref().map_or(Sent::Absent, Sent::Text));
                self.own_time = time;
            }
        }
        Ok(())
    }
}

/// A string, borrowed from the message unless it holds escapes.
struct Str<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Chars;
        impl<'de> Visitor<'de> for Chars {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }
        }
        deserializer.deserialize_str(Chars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name read twice in one object would go to whichever row came first.
    #[test]
    fn every_name_and_alias_is_one_fields_in_its_object() {
        let mut names: Vec<(Option<usize>, &str)> = FIELDS
            .iter()
            .flat_map(|f| [Some(f.name), f.alias].map(|n| n.map(|n| (f.group, n))))
            .flatten()
            .chain(GROUPS.iter().map(|g| (None, g.name)))
            .collect();
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all);
    }
}
