//! TickStock: the web backend and Live Streaming dashboard of the TickStock
//! stock-tick analysis system. See CONTRACT.md for the outside interface.

pub mod accounts;
pub mod app;
pub mod backoff;
pub mod bus;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod dashboard;
pub mod events;
pub mod feed;
pub mod forward;
pub mod market;
pub mod metrics;
pub mod recorder;
pub mod sim;
pub mod state;
pub mod store;
pub mod subscriber;
pub mod supervise;
pub mod telemetry;
pub mod variables;
pub mod web;
