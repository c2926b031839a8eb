//! `tickstock verify`'s progress while it listens, on standard error (the
//! report alone goes to standard output): a progress bar on a terminal, one
//! plain line every 10 s otherwise (a log, a CI job).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::time::Instant;

/// How often the plain line is written.
pub const LINE_EVERY: Duration = Duration::from_secs(10);
/// How often the bar is redrawn.
const BAR_EVERY: Duration = Duration::from_millis(250);

/// Shows the progress through `window` until dropped (it never ends by
/// itself); `messages` tells how many messages were counted so far.
pub async fn show(window: Duration, messages: impl Fn() -> u64) {
    let started = Instant::now();
    if std::io::stderr().is_terminal() {
        let bar = Bar::new(window);
        let mut redraw = tokio::time::interval(BAR_EVERY);
        loop {
            redraw.tick().await;
            bar.0
                .set_position(started.elapsed().as_secs().min(window.as_secs()));
            bar.0.set_message(format!("{} messages", messages()));
        }
    } else {
        let mut report = tokio::time::interval_at(started + LINE_EVERY, LINE_EVERY);
        loop {
            report.tick().await;
            eprintln!("{}", line(started.elapsed(), window, messages()));
        }
    }
}

/// The plain progress line.
pub fn line(elapsed: Duration, window: Duration, messages: u64) -> String {
    format!(
        "Listened {} s of {} s: {messages} messages so far",
        elapsed.as_secs().min(window.as_secs()),
        window.as_secs()
    )
}

/// A bar over the window's seconds, cleared when dropped so that the report
/// follows on a clean line.
struct Bar(ProgressBar);

impl Bar {
    fn new(window: Duration) -> Self {
        let bar = ProgressBar::new(window.as_secs());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} Listening [{bar:30}] {pos}/{len} s, {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Self(bar)
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_line_says_how_far_and_how_much() {
        let window = Duration::from_secs(300);
        assert_eq!(
            line(Duration::from_millis(10_400), window, 1234),
            "Listened 10 s of 300 s: 1234 messages so far"
        );
        assert_eq!(
            line(Duration::from_secs(301), window, 0),
            "Listened 300 s of 300 s: 0 messages so far"
        );
    }
}
