//! Rows written straight into an app's history store, as the recorder
//! would write them.

use chrono::Utc;
use serde_json::Value;
use tickstock::events::{Channel, decode};
use tickstock::store::history::{Batch, Record};

use super::TestApp;

/// Writes the rows of `messages` into `app`'s history in one batch.
pub async fn seed(app: &TestApp, messages: &[(Channel, Value)]) {
    let mut records = Vec::new();
    for (channel, message) in messages {
        let event = decode(*channel, message.to_string().as_bytes(), Utc::now())
            .unwrap_or_else(|error| panic!("{message}: {error}"));
        Record::for_each_of(&event, |record| records.push(record));
    }
    app.state
        .store
        .history()
        .write(&Batch::new(&records))
        .await
        .expect("the rows are written");
}
