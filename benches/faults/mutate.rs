//! Hostile messages for the 8 channels: every JSON example of the seeds and
//! of `tests/mock_data`, mutated by class (byte flips, truncation, type swaps,
//! extreme numbers, control characters, huge strings, deep nesting, wrong
//! kinds, missing fields, implausible timestamps), from a seeded generator so
//! that a run is reproducible.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

pub const CHANNELS: [&str; 8] = [
    "tickstock:streaming:session_started",
    "tickstock:streaming:session_stopped",
    "tickstock:streaming:health",
    "tickstock:patterns:streaming",
    "tickstock:patterns:detected",
    "tickstock:indicators:streaming",
    "tickstock:alerts:indicators",
    "tickstock:alerts:critical",
];
pub const CRITICAL_ALERTS: &str = "tickstock:alerts:critical";
pub const PATTERNS: &str = "tickstock:patterns:streaming";

/// Stands for raw JSON text (invalid numbers, deep nesting) in a tree that
/// serde_json serialises; replaced in the text afterwards.
const RAW: &str = "faults-raw-placeholder-7f3a9c";

/// A seed example and the channel it belongs on.
#[derive(Clone)]
pub struct Example {
    pub channel: &'static str,
    pub message: Value,
}

/// Every example: `tests/mock_data/*.jsonl` (channel given), the JSON objects
/// quoted in `tests/seed_examples.rs`, and those of the seed documents in
/// `seeds` when that directory exists.
pub fn examples(repo: &Path, seeds: &Path) -> Vec<Example> {
    let mut examples = Vec::new();
    let mock_data = repo.join("tests/mock_data");
    let mut files: Vec<_> = std::fs::read_dir(&mock_data)
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "jsonl"))
    {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for line in text.lines() {
            let Ok(record) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let channel = record["channel"]
                .as_str()
                .and_then(|c| CHANNELS.iter().find(|k| **k == c).copied());
            if let (Some(channel), Some(message)) = (channel, record.get("message")) {
                examples.push(Example {
                    channel,
                    message: message.clone(),
                });
            }
        }
    }
    let mut texts =
        vec![std::fs::read_to_string(repo.join("tests/seed_examples.rs")).unwrap_or_default()];
    if let Ok(dir) = std::fs::read_dir(seeds) {
        let mut paths: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        texts.extend(paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()));
    }
    for text in texts {
        for message in json_objects(&text) {
            if let Some(channel) = channel_of(&message) {
                examples.push(Example { channel, message });
            }
        }
    }
    examples
}

/// The JSON objects embedded in a text (code, prose): at each `{`, the longest
/// object that parses from there.
fn json_objects(text: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = text[at..].find('{') {
        let start = at + offset;
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value @ Value::Object(_))) => {
                at = start + stream.byte_offset();
                found.push(value);
            }
            _ => at = start + 1,
        }
    }
    found
}

/// The channel an example goes on: by its `type`, else by its payload key.
fn channel_of(message: &Value) -> Option<&'static str> {
    let by_type = match message["type"].as_str() {
        Some("streaming_session_started") => Some(CHANNELS[0]),
        Some("streaming_session_stopped") => Some(CHANNELS[1]),
        Some("streaming_health") => Some(CHANNELS[2]),
        Some("streaming_pattern" | "streaming_patterns_batch") => Some(CHANNELS[3]),
        Some("streaming_indicator") => Some(CHANNELS[5]),
        Some("indicator_alert") => Some(CHANNELS[6]),
        Some("critical_alert") => Some(CHANNELS[7]),
        _ => None,
    };
    by_type.or_else(|| {
        let has = |key: &str| message.get(key).is_some();
        if has("health") {
            Some(CHANNELS[2])
        } else if has("detection") || has("patterns") {
            Some(CHANNELS[3])
        } else if has("calculation") {
            Some(CHANNELS[5])
        } else {
            None
        }
    })
}

/// The mutation classes, each named in the run's report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mutation {
    /// The sweep: each leaf of each example in turn set to each `SHARP` value.
    LeafSweep,
    Unchanged,
    ByteFlip,
    Truncation,
    TypeSwap,
    ExtremeNumber,
    ControlCharacters,
    HugeString,
    DeepNesting,
    WrongKind,
    MissingField,
    ImplausibleTime,
    WrongChannel,
}

/// Each class and its weight; huge strings are rare so that a million
/// messages stay within the bus's and the machine's means.
const WEIGHTED: [(Mutation, u32); 12] = [
    (Mutation::Unchanged, 100),
    (Mutation::ByteFlip, 100),
    (Mutation::Truncation, 100),
    (Mutation::TypeSwap, 120),
    (Mutation::ExtremeNumber, 120),
    (Mutation::ControlCharacters, 100),
    (Mutation::HugeString, 1),
    (Mutation::DeepNesting, 40),
    (Mutation::WrongKind, 80),
    (Mutation::MissingField, 80),
    (Mutation::ImplausibleTime, 100),
    (Mutation::WrongChannel, 60),
];

/// Every class, in report order.
pub const MUTATIONS: [Mutation; 13] = {
    let mut all = [Mutation::LeafSweep; 13];
    let mut i = 0;
    while i < WEIGHTED.len() {
        all[i + 1] = WEIGHTED[i].0;
        i += 1;
    }
    all
};

/// The values the sweep puts in every leaf: the extremes of each class that
/// have broken TickStock before (a duration, a NUL, a year out of range).
const SHARP: &[&str] = &[
    "-1e16",
    "1e308",
    "-1e308",
    "9223372036854775808",
    "-9223372036854775809",
    "-1",
    "\"a\\u0000b\"",
    "\"+99999-12-31T23:59:59Z\"",
];

/// Numbers no producer should send; the text forms serde_json cannot
/// produce from an `f64` (overflowing exponents, `NaN`) included.
const EXTREME_NUMBERS: &[&str] = &[
    "1e308",
    "-1e308",
    "-1e16",
    "1e16",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551616",
    "1e400",
    "-1e-400",
    "4.9e-324",
    "-0",
    "-0.0",
    "1E+308",
    "0.000000000000000000000000000001",
    "123456789012345678901234567890",
    "NaN",
    "Infinity",
    "-1",
    "-1e30",
];

/// Strings with NUL, other control characters and Unicode oddities.
const HOSTILE_STRINGS: &[&str] = &[
    "\u{0}",
    "bad\u{0}value",
    "\u{1}\u{2}\u{3}\u{7}\u{8}",
    "line\r\nbreak",
    "esc\u{1b}[31mred",
    "\u{7f}\u{80}\u{9f}",
    "\u{2028}\u{2029}",
    "\u{202e}reversed",
    "\u{feff}bom",
    "\u{fffd}\u{fffe}\u{ffff}",
    "😀🚀",
    "'; DROP TABLE streaming_alerts; --",
    "",
    " ",
];

/// Timestamps outside any plausible window, or not timestamps at all.
const IMPLAUSIBLE_TIMES: &[&str] = &[
    "\"0001-01-01T00:00:00Z\"",
    "\"-0001-01-01T00:00:00Z\"",
    "\"+99999-12-31T23:59:59Z\"",
    "\"9999-12-31T23:59:59.999999999Z\"",
    "\"2025-13-45T25:61:61Z\"",
    "\"2025-10-06T13:31:00+99:99\"",
    "\"yesterday\"",
    "1e16",
    "-1e16",
    "253402300800000",
    "-62135596800",
    "9223372036854775807",
    "0",
    "-1",
];

/// A message for the bus and what was done to it.
pub struct Hostile {
    pub channel: &'static str,
    pub payload: Vec<u8>,
    pub mutation: Mutation,
}

pub struct Mutator {
    rng: StdRng,
    examples: Vec<Example>,
    /// What the sweep goes through: every example, then again every one
    /// that names a session, with a session TickStock has not seen (which it
    /// takes up from the event's own figures).
    swept: Vec<Example>,
    /// The sweep's next (example, leaf, sharp value), while it lasts.
    sweep: Option<(usize, usize, usize)>,
}

impl Mutator {
    pub fn new(examples: Vec<Example>, seed: u64) -> Self {
        let mut swept = examples.clone();
        for example in &examples {
            let mut unknown = example.message.clone();
            if replace_key(&mut unknown, "session_id", &Value::Null) {
                swept.push(Example {
                    channel: example.channel,
                    message: unknown,
                });
            }
        }
        Self {
            rng: StdRng::seed_from_u64(seed),
            examples,
            swept,
            sweep: Some((0, 0, 0)),
        }
    }

    /// Messages in the sweep, which comes first.
    pub fn sweep_len(&self) -> usize {
        let leaf = |v: &Value| !v.is_object() && !v.is_array();
        let leaves: usize = self
            .swept
            .iter()
            .map(|e| count_nodes(&e.message, &leaf))
            .sum();
        leaves * SHARP.len()
    }

    pub fn next_message(&mut self) -> Hostile {
        if let Some(swept) = self.next_swept() {
            return swept;
        }
        self.next_random()
    }

    fn next_swept(&mut self) -> Option<Hostile> {
        let leaf = |v: &Value| !v.is_object() && !v.is_array();
        let (mut example, mut index, mut value) = self.sweep?;
        while example < self.swept.len()
            && index >= count_nodes(&self.swept[example].message, &leaf)
        {
            (example, index) = (example + 1, 0);
        }
        let Some(chosen) = self.swept.get(example) else {
            self.sweep = None;
            return None;
        };
        let mut tree = chosen.message.clone();
        if example >= self.examples.len() {
            // A session unseen by each message, so that each is taken up.
            let session = format!("faults-unknown-session-{example}-{index}-{value}");
            replace_key(&mut tree, "session_id", &Value::String(session));
        }
        replace_nth(&mut tree, &mut 0, index, &leaf, &Value::String(RAW.into()));
        let payload = tree
            .to_string()
            .replace(&format!("\"{RAW}\""), SHARP[value]);
        value += 1;
        if value == SHARP.len() {
            (index, value) = (index + 1, 0);
        }
        self.sweep = Some((example, index, value));
        Some(Hostile {
            channel: chosen.channel,
            payload: payload.into_bytes(),
            mutation: Mutation::LeafSweep,
        })
    }

    fn next_random(&mut self) -> Hostile {
        let example = &self.examples[self.rng.random_range(0..self.examples.len())];
        let mut channel = example.channel;
        let mut tree = example.message.clone();
        let mutation = self.class();
        let mut raw: Option<String> = None;
        let mut bytes = None;
        match mutation {
            Mutation::Unchanged | Mutation::LeafSweep => {}
            Mutation::ByteFlip => {
                let mut text = tree.to_string().into_bytes();
                for _ in 0..self.rng.random_range(1..=4) {
                    let at = self.rng.random_range(0..text.len());
                    text[at] = self.rng.random();
                }
                bytes = Some(text);
            }
            Mutation::Truncation => {
                let text = tree.to_string().into_bytes();
                let keep = self.rng.random_range(0..text.len());
                bytes = Some(text[..keep].to_vec());
            }
            Mutation::TypeSwap => {
                let replacement = self.other_kind();
                self.replace_random_node(&mut tree, replacement);
            }
            Mutation::ExtremeNumber => {
                raw = Some(self.pick(EXTREME_NUMBERS).to_string());
                self.replace_random_leaf(&mut tree, Value::String(RAW.into()));
            }
            Mutation::ControlCharacters => {
                let hostile = self.pick(HOSTILE_STRINGS);
                self.on_random_string(&mut tree, |s| format!("{s}{hostile}"));
            }
            Mutation::HugeString => {
                // Just under and just over the 1 MiB message limit, and 64 KiB.
                let length = *self.pick(&[64 * 1024, 1024 * 1024 - 4096, 1024 * 1024 + 1]);
                let filler = "A".repeat(length);
                self.on_random_string(&mut tree, |_| filler.clone());
            }
            Mutation::DeepNesting => {
                let depth = *self.pick(&[64usize, 127, 128, 129, 1_000, 10_000]);
                let (open, close) = if self.rng.random_bool(0.5) {
                    ("[", "]")
                } else {
                    ("{\"a\":", "}")
                };
                raw = Some(format!("{}1{}", open.repeat(depth), close.repeat(depth)));
                self.replace_random_node(&mut tree, Value::String(RAW.into()));
            }
            Mutation::WrongKind => {
                let payload_key = [
                    "session",
                    "health",
                    "detection",
                    "patterns",
                    "calculation",
                    "alert",
                ]
                .into_iter()
                .find(|k| tree.get(k).is_some());
                match (payload_key, self.rng.random_range(0..4)) {
                    (Some(key), 0 | 1) => tree[key] = self.other_kind(),
                    (_, 2) => tree = Value::Array(vec![tree]),
                    _ => tree = self.other_kind(),
                }
            }
            Mutation::MissingField => {
                for _ in 0..self.rng.random_range(1..=3) {
                    self.remove_random_key(&mut tree);
                }
            }
            Mutation::ImplausibleTime => {
                raw = Some(self.pick(IMPLAUSIBLE_TIMES).to_string());
                let placeholder = Value::String(RAW.into());
                if !replace_times(&mut tree, &placeholder) {
                    self.replace_random_leaf(&mut tree, placeholder);
                }
            }
            Mutation::WrongChannel => {
                channel = CHANNELS[self.rng.random_range(0..CHANNELS.len())];
            }
        }
        let payload = bytes.unwrap_or_else(|| {
            let text = tree.to_string();
            match raw {
                Some(raw) => text.replace(&format!("\"{RAW}\""), &raw).into_bytes(),
                None => text.into_bytes(),
            }
        });
        Hostile {
            channel,
            payload,
            mutation,
        }
    }

    fn class(&mut self) -> Mutation {
        let total: u32 = WEIGHTED.iter().map(|(_, w)| w).sum();
        let mut draw = self.rng.random_range(0..total);
        for (mutation, weight) in WEIGHTED {
            if draw < weight {
                return mutation;
            }
            draw -= weight;
        }
        Mutation::Unchanged
    }

    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[self.rng.random_range(0..from.len())]
    }

    /// A value of a random kind (the swap may keep the kind; that is rare).
    fn other_kind(&mut self) -> Value {
        match self.rng.random_range(0..7) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.random()),
            2 => Value::from(self.rng.random_range(-1_000_000i64..1_000_000)),
            3 => Value::from(self.rng.random_range(-1e6..1e6)),
            4 => Value::String("not the right kind".into()),
            5 => Value::Array(vec![Value::from(1), Value::String("x".into())]),
            _ => Value::Object(Map::from_iter([("k".to_owned(), Value::from(1))])),
        }
    }

    /// Replaces one node (any depth, not the root) chosen at random.
    fn replace_random_node(&mut self, tree: &mut Value, replacement: Value) {
        let count = count_nodes(tree, &|_| true);
        if count > 1 {
            let target = self.rng.random_range(1..count);
            replace_nth(tree, &mut 0, target, &|_| true, &replacement);
        }
    }

    fn replace_random_leaf(&mut self, tree: &mut Value, replacement: Value) {
        let leaf = |v: &Value| !v.is_object() && !v.is_array();
        let count = count_nodes(tree, &leaf);
        if count > 0 {
            let target = self.rng.random_range(0..count);
            replace_nth(tree, &mut 0, target, &leaf, &replacement);
        }
    }

    /// Rewrites one string (or, in a tree without strings, one leaf).
    fn on_random_string(&mut self, tree: &mut Value, rewrite: impl Fn(&str) -> String) {
        let strings = count_nodes(tree, &Value::is_string);
        if strings == 0 {
            self.replace_random_leaf(tree, Value::String(rewrite("")));
            return;
        }
        let target = self.rng.random_range(0..strings);
        let mut seen = 0;
        visit_strings(tree, &mut |s| {
            if seen == target {
                *s = rewrite(s);
            }
            seen += 1;
        });
    }

    fn remove_random_key(&mut self, tree: &mut Value) {
        let objects = count_nodes(tree, &|v| v.as_object().is_some_and(|o| !o.is_empty()));
        if objects == 0 {
            return;
        }
        let target = self.rng.random_range(0..objects);
        let index = self.rng.random_range(0..usize::MAX);
        let mut seen = 0;
        visit_objects(tree, &mut |object| {
            if !object.is_empty() {
                if seen == target
                    && let Some(key) = object.keys().nth(index % object.len()).cloned()
                {
                    object.remove(&key);
                }
                seen += 1;
            }
        });
    }
}

fn count_nodes(tree: &Value, matches: &dyn Fn(&Value) -> bool) -> usize {
    let own = usize::from(matches(tree));
    own + match tree {
        Value::Array(items) => items.iter().map(|v| count_nodes(v, matches)).sum(),
        Value::Object(fields) => fields.values().map(|v| count_nodes(v, matches)).sum(),
        _ => 0,
    }
}

/// Replaces the `target`-th node (pre-order, among those that match).
fn replace_nth(
    tree: &mut Value,
    seen: &mut usize,
    target: usize,
    matches: &dyn Fn(&Value) -> bool,
    replacement: &Value,
) -> bool {
    if matches(tree) {
        if *seen == target {
            *tree = replacement.clone();
            return true;
        }
        *seen += 1;
    }
    let children: Vec<&mut Value> = match tree {
        Value::Array(items) => items.iter_mut().collect(),
        Value::Object(fields) => fields.values_mut().collect(),
        _ => Vec::new(),
    };
    children
        .into_iter()
        .any(|child| replace_nth(child, seen, target, matches, replacement))
}

fn visit_strings(tree: &mut Value, visit: &mut dyn FnMut(&mut String)) {
    match tree {
        Value::String(s) => visit(s),
        Value::Array(items) => items.iter_mut().for_each(|v| visit_strings(v, visit)),
        Value::Object(fields) => fields.values_mut().for_each(|v| visit_strings(v, visit)),
        _ => {}
    }
}

fn visit_objects(tree: &mut Value, visit: &mut dyn FnMut(&mut Map<String, Value>)) {
    if let Value::Object(fields) = tree {
        visit(fields);
    }
    match tree {
        Value::Array(items) => items.iter_mut().for_each(|v| visit_objects(v, visit)),
        Value::Object(fields) => fields.values_mut().for_each(|v| visit_objects(v, visit)),
        _ => {}
    }
}

/// Replaces the value of every field named `key`; false when there is none.
fn replace_key(tree: &mut Value, key: &str, replacement: &Value) -> bool {
    let mut replaced = false;
    visit_objects(tree, &mut |object| {
        if let Some(value) = object.get_mut(key) {
            *value = replacement.clone();
            replaced = true;
        }
    });
    replaced
}

/// Replaces every timestamp-like field; false when there is none.
fn replace_times(tree: &mut Value, replacement: &Value) -> bool {
    let mut replaced = false;
    visit_objects(tree, &mut |object| {
        for (key, value) in object.iter_mut() {
            let timeish = key.contains("time") || key.ends_with("_at") || key == "t";
            if timeish && !value.is_object() && !value.is_array() {
                *value = replacement.clone();
                replaced = true;
            }
        }
    });
    replaced
}
