//! The market as the trader sees it: the NYSE calendar (`calendar`), and per
//! symbol of the streaming session the prices, volume, tick rate, sparkline
//! and 1-minute candles (`book`), built from the ticks (`follow`).
//!
//! Every replica reads `tickstock:market:ticks` itself, the channel the feed
//! owner's forwarder publishes for TickStockPL anyway: every replica gets
//! the same ticks without the owner publishing anything new, and when the
//! feed fails over to another replica the ticks keep coming on the same
//! channel, so nothing is lost. Its own subscription (its own Redis
//! connection, or its own receiver of the in-process bus) keeps it from ever
//! slowing the TickStockPL event subscriber: a market book that falls behind
//! loses ticks of its own, counted on its link.

mod book;
pub mod calendar;
mod follow;

pub use book::{
    CANDLE_SECONDS, Candle, CandlesView, MAX_CANDLES, MAX_SPARK_POINTS, MAX_SYMBOLS, MarketBook,
    MarketStats, MarketView, SymbolView,
};
pub use calendar::{MarketTime, Phase, market_at};
pub use follow::start;
