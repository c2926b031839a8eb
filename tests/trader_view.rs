//! The trader's Live Streaming view in a real headless Chromium, against the
//! real application (a real Redis where TickStockPL's events are published):
//! the theme switch, a 390 px screen without sideways scroll, the attention
//! banner and title badge of a critical alert and their clearing by its
//! recovery, HTML in every new field shown as text, the indicator grid, and
//! the static assets' compression and ETags. Each view's screenshot is saved
//! in target/test-output/.
//!
//! The `market_` tests drive the prices and candles of the market book
//! with ticks published on `tickstock:market:ticks`.

mod common;

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use common::browser::{ChromeDriver, screenshot_path, sign_in, text_of, wait_text};
use common::{Publisher, RedisServer, TestApp, WAIT, wait_for};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use tickstock::config::Config;

const CRITICAL: &str = "tickstock:alerts:critical";
const PATTERNS: &str = "tickstock:patterns:streaming";
const INDICATORS: &str = "tickstock:indicators:streaming";
const INDICATOR_ALERTS: &str = "tickstock:alerts:indicators";
const HEALTH: &str = "tickstock:streaming:health";
const MARKET_TICKS: &str = "tickstock:market:ticks";
const HOSTILE: &str =
    "<img src=x onerror=document.title='pwned'><script>document.title='pwned'</script>";

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn js(browser: &Client, script: &str) -> Value {
    browser.execute(script, vec![]).await.expect("script runs")
}

async fn save_screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.expect("a screenshot");
    let path = screenshot_path(name);
    std::fs::write(&path, png).expect("screenshot written");
    println!("screenshot: {}", path.display());
}

/// The application on a real Redis and a browser signed in on its live dashboard.
async fn live_page(driver: &ChromeDriver, redis: &RedisServer) -> (TestApp, Client, Publisher) {
    let app = TestApp::with_redis(redis).await;
    app.wait_connected().await;
    let browser = driver.browser().await;
    sign_in(&browser, &app.base_url, "/dashboard").await;
    wait_text(&browser, "#connection", "live").await;
    (app, browser, redis.publisher().await)
}

async fn publish(app: &TestApp, publisher: &mut Publisher, channel: &str, message: Value) {
    common::deliver(app, publisher, channel, &message.to_string()).await;
}

fn indicator(symbol: &str, name: &str, value: f64, values: Option<Value>) -> Value {
    let mut calculation = json!({"symbol": symbol, "indicator": name, "value": value, "timestamp": now(),
        "timeframe": "1min", "metadata": {"period": 14}});
    if let Some(values) = values {
        calculation["values"] = values;
    }
    json!({"type": "streaming_indicator", "calculation": calculation})
}

/// Every indicator the simulator publishes, for `symbol`.
async fn publish_indicators(app: &TestApp, publisher: &mut Publisher, symbol: &str, rsi: f64) {
    let messages = [
        indicator(symbol, "RSI", rsi, None),
        indicator(symbol, "SMA_200", 101.5, None),
        indicator(symbol, "SMA_20", 103.25, None),
        indicator(symbol, "SMA_50", 102.0, None),
        indicator(
            symbol,
            "MACD",
            0.42,
            Some(json!({"macd": 0.42, "signal": 0.31, "histogram": 0.11})),
        ),
        indicator(
            symbol,
            "BB",
            103.0,
            Some(json!({"upper": 106.5, "middle": 103.0, "lower": 99.5})),
        ),
    ];
    for message in messages {
        publish(app, publisher, INDICATORS, message).await;
    }
}

fn critical_alert(message: &str, component: &str) -> Value {
    json!({"type": "critical_alert", "alert": {"severity": "critical", "message": message, "timestamp": now(),
        "component": component, "action_required": "Check the credentials", "recovery": null}})
}

fn recovery(component: &str) -> Value {
    json!({"type": "critical_alert", "alert": {"severity": "info", "message": "Connection restored", "timestamp": now(),
        "component": component, "recovery": "Reconnected after 3 attempts"}})
}

async fn banner_shown(browser: &Client) -> bool {
    js(
        browser,
        "return !document.getElementById('attention').hidden",
    )
    .await
    .as_bool()
    .unwrap_or(false)
}

async fn title(browser: &Client) -> String {
    browser.title().await.expect("a title")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_theme_switch_flips_light_and_dark_and_is_kept() {
    let driver = ChromeDriver::start().await;
    let app = TestApp::spawn(Config::for_tests()).await;
    let browser = driver.browser().await;
    sign_in(&browser, &app.base_url, "/dashboard").await;
    wait_text(&browser, "#connection", "live").await;
    // Empty lists say what they wait for, with the market's hours in ET.
    let market = app.status().await["market"].clone();
    let expected = if market["phase"] == "open" {
        "Waiting for TickStockPL's session — the market is open."
    } else {
        "Waiting for TickStockPL's session — the market opens at "
    };
    wait_for("the empty state", WAIT, || async {
        let waiting = text_of(&browser, "#patterns-empty").await?;
        (waiting.starts_with(expected) && waiting.ends_with('.')).then_some(())
    })
    .await;
    wait_for("the market's phase in the banner", WAIT, || async {
        text_of(&browser, "#market")
            .await
            .filter(|t| t.contains(" ET"))
            .map(|_| ())
    })
    .await;
    let look = "return [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor]";
    let before = js(&browser, look).await;
    assert!(
        before[0] == "dark" || before[0] == "light",
        "a theme is applied: {before}"
    );
    save_screenshot(
        &browser,
        &format!("trader-dashboard-{}.png", before[0].as_str().unwrap()),
    )
    .await;

    browser
        .find(Locator::Css("#theme-switch"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let after = js(&browser, look).await;
    assert_ne!(after[0], before[0], "the switch changes the theme");
    assert_ne!(after[1], before[1], "and the page's colours");
    save_screenshot(
        &browser,
        &format!("trader-dashboard-{}.png", after[0].as_str().unwrap()),
    )
    .await;

    // Kept in the browser: the next page load has it too.
    browser.refresh().await.unwrap();
    wait_text(&browser, "#connection", "live").await;
    assert_eq!(js(&browser, look).await, after, "the theme is kept");
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_390_px_wide_nothing_scrolls_sideways() {
    let driver = ChromeDriver::start().await;
    let redis = RedisServer::start().await;
    let (app, browser, mut publisher) = live_page(&driver, &redis).await;
    // Content that could widen the page: a banner, long messages, the grid.
    publish_indicators(&app, &mut publisher, "AAPL", 74.0).await;
    let long =
        "A very long critical alert message without many breaks: ".repeat(4) + &"x".repeat(120);
    publish(
        &app,
        &mut publisher,
        CRITICAL,
        critical_alert(&long, "polygon_websocket_connection_manager"),
    )
    .await;
    wait_for("the attention banner", WAIT, || async {
        banner_shown(&browser).await.then_some(())
    })
    .await;
    wait_for("the grid row", WAIT, || async {
        text_of(&browser, "#indicators")
            .await
            .filter(|t| t.contains("AAPL"))
            .map(|_| ())
    })
    .await;

    browser.set_window_size(390, 844).await.unwrap();
    wait_for("the page to be 390 px wide", WAIT, || async {
        (js(&browser, "return window.innerWidth").await.as_u64()? <= 390).then_some(())
    })
    .await;
    let widths = js(
        &browser,
        "return [document.documentElement.scrollWidth, window.innerWidth, \
         [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.scroller')).map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5)]",
    )
    .await;
    save_screenshot(&browser, "trader-dashboard-390px.png").await;
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "scrollWidth {} > innerWidth {}; too wide: {}",
        widths[0],
        widths[1],
        widths[2]
    );
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_alert_raises_the_banner_and_title_badge_and_its_recovery_clears_them() {
    let driver = ChromeDriver::start().await;
    let redis = RedisServer::start().await;
    let (app, browser, mut publisher) = live_page(&driver, &redis).await;
    let plain_title = title(&browser).await;
    assert!(!banner_shown(&browser).await, "no banner without an alert");

    publish(
        &app,
        &mut publisher,
        CRITICAL,
        critical_alert("WebSocket connection lost", "polygon_websocket"),
    )
    .await;
    wait_for("the attention banner", WAIT, || async {
        banner_shown(&browser).await.then_some(())
    })
    .await;
    let message = text_of(&browser, "#attention-message").await.unwrap();
    assert_eq!(message, "WebSocket connection lost");
    assert!(
        text_of(&browser, "#attention-title")
            .await
            .unwrap()
            .contains("polygon_websocket"),
        "the banner names the component"
    );
    wait_for("the title badge", WAIT, || async {
        (title(&browser).await == format!("(1) {plain_title}")).then_some(())
    })
    .await;
    save_screenshot(&browser, "trader-critical-alert.png").await;

    // Its recovery clears both.
    publish(
        &app,
        &mut publisher,
        CRITICAL,
        recovery("polygon_websocket"),
    )
    .await;
    wait_for("the banner to go", WAIT, || async {
        (!banner_shown(&browser).await).then_some(())
    })
    .await;
    wait_for("the badge to go", WAIT, || async {
        (title(&browser).await == plain_title).then_some(())
    })
    .await;
    wait_for("the alert marked resolved", WAIT, || async {
        text_of(&browser, "#critical-alerts")
            .await
            .filter(|rows| rows.contains("resolved: Reconnected after 3 attempts"))
            .map(|_| ())
    })
    .await;

    // Another stays until acknowledged, and stays acknowledged after a reload.
    publish(
        &app,
        &mut publisher,
        CRITICAL,
        critical_alert("Database unreachable", "postgres"),
    )
    .await;
    wait_for("the second banner", WAIT, || async {
        banner_shown(&browser).await.then_some(())
    })
    .await;
    browser
        .find(Locator::Css("#attention-ack"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the acknowledged banner to go", WAIT, || async {
        (!banner_shown(&browser).await).then_some(())
    })
    .await;
    assert_eq!(title(&browser).await, plain_title);
    browser.refresh().await.unwrap();
    wait_text(&browser, "#connection", "live").await;
    wait_for("the reloaded alert list", WAIT, || async {
        text_of(&browser, "#critical-alerts")
            .await
            .filter(|t| t.contains("Database unreachable"))
            .map(|_| ())
    })
    .await;
    assert!(
        !banner_shown(&browser).await,
        "an acknowledged alert stays acknowledged"
    );
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_in_every_new_field_stays_text() {
    let driver = ChromeDriver::start().await;
    let redis = RedisServer::start().await;
    let (app, browser, mut publisher) = live_page(&driver, &redis).await;
    let t = now();
    publish(
        &app,
        &mut publisher,
        INDICATORS,
        indicator("TSLA", HOSTILE, 1.5, None),
    )
    .await;
    publish(
        &app,
        &mut publisher,
        INDICATORS,
        indicator(
            "TSLA",
            "MACD",
            0.5,
            Some(json!({HOSTILE: 0.25, "macd": 0.5})),
        ),
    )
    .await;
    publish(
        &app,
        &mut publisher,
        PATTERNS,
        json!({"type": "streaming_pattern", "detection": {"symbol": "TSLA",
        "pattern_type": HOSTILE, "confidence": 0.95, "timestamp": t}}),
    )
    .await;
    publish(&app, &mut publisher, INDICATOR_ALERTS, json!({"type": "indicator_alert", "alert": {"symbol": "TSLA",
        "alert_type": HOSTILE, "timestamp": t, "severity": HOSTILE, "data": {"indicator": "RSI", "value": 75.2}}})).await;
    publish(&app, &mut publisher, CRITICAL, json!({"type": "critical_alert", "alert": {"severity": "critical",
        "message": HOSTILE, "timestamp": t, "component": HOSTILE, "action_required": HOSTILE, "recovery": null}})).await;
    publish(
        &app,
        &mut publisher,
        HEALTH,
        json!({"type": "streaming_health", "health": {"status": "warning",
        "active_symbols": 1, "ticks_per_second": 1.0, "issues": [HOSTILE], "timestamp": t}}),
    )
    .await;

    wait_for("every hostile field on the page", WAIT, || async {
        let text = text_of(&browser, "main").await?;
        (text.matches("<img src=x").count() >= 7).then_some(())
    })
    .await;
    // The symbol view shows the pattern as its marker.
    browser
        .find(Locator::Css("#watch-rows tr[data-symbol=TSLA]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the symbol view's markers", WAIT, || async {
        text_of(&browser, "#symbol-markers")
            .await
            .filter(|t| t.contains("<script>"))
            .map(|_| ())
    })
    .await;
    let injected = js(&browser, "return document.querySelectorAll('main img, main script:not([src]), main [onerror]').length").await;
    assert_eq!(injected, 0, "no element made from event data");
    assert_ne!(title(&browser).await, "pwned");
    let headers = text_of(&browser, "#indicator-head").await.unwrap();
    assert!(
        headers.contains(HOSTILE),
        "an indicator name is a column header, as text: {headers}"
    );
    save_screenshot(&browser, "trader-hostile.png").await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indicator_grid_has_a_row_per_symbol_with_every_value() {
    let driver = ChromeDriver::start().await;
    let redis = RedisServer::start().await;
    let (app, browser, mut publisher) = live_page(&driver, &redis).await;
    publish_indicators(&app, &mut publisher, "MSFT", 25.0).await;
    publish_indicators(&app, &mut publisher, "AAPL", 74.0).await;
    publish_indicators(&app, &mut publisher, "NVDA", 50.0).await;
    // A newer value replaces the old in its cell.
    publish(
        &app,
        &mut publisher,
        INDICATORS,
        indicator("NVDA", "RSI", 55.5, None),
    )
    .await;

    let rows = "return [...document.querySelectorAll('#indicators tr[data-symbol]')].map(tr => [...tr.cells].map(td => td.textContent))";
    let grid = wait_for("three rows", WAIT, || async {
        let grid = js(&browser, rows).await;
        let ready = grid.as_array()?.len() == 3 && grid.to_string().contains("55.50");
        ready.then_some(grid)
    })
    .await;
    let headers: Vec<String> = js(
        &browser,
        "return [...document.querySelectorAll('#indicator-head th')].map(th => th.textContent)",
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|h| {
        h.as_str()
            .unwrap()
            .trim_end_matches([' ', '▲', '▼'])
            .to_owned()
    })
    .collect();
    assert_eq!(
        headers,
        [
            "Symbol",
            "BB upper",
            "BB middle",
            "BB lower",
            "MACD macd",
            "MACD signal",
            "MACD histogram",
            "RSI",
            "SMA_20",
            "SMA_50",
            "SMA_200"
        ],
        "a column per indicator value, SMAs in the order of their periods"
    );
    // Sorted by symbol first; every value of the multi-valued ones shown.
    assert_eq!(grid[0][0], "AAPL");
    assert_eq!(
        grid[0],
        json!([
            "AAPL", "106.50", "103.00", "99.50", "0.42", "0.31", "0.11", "74.00", "103.25",
            "102.00", "101.50"
        ])
    );
    // RSI coloured by its thresholds.
    let classes = js(&browser, "return [...document.querySelectorAll('#indicators tr[data-symbol]')].map(tr => tr.cells[7].className)").await;
    assert!(classes[0].as_str().unwrap().contains("ind-hi"), "{classes}");
    assert!(classes[1].as_str().unwrap().contains("ind-lo"), "{classes}");
    assert!(
        classes[2].as_str().unwrap().contains("ind-mid"),
        "{classes}"
    );

    // Numbers sort as numbers: by RSI, highest first.
    let rsi = browser
        .find(Locator::Css("#indicator-head th[data-sort=RSI]"))
        .await
        .unwrap();
    rsi.click().await.unwrap();
    wait_for("the grid sorted by RSI", WAIT, || async {
        let grid = js(&browser, rows).await;
        let symbols: Vec<&str> = grid
            .as_array()?
            .iter()
            .filter_map(|r| r[0].as_str())
            .collect();
        (symbols == ["AAPL", "NVDA", "MSFT"]).then_some(())
    })
    .await;
    js(
        &browser,
        "document.getElementById('indicator-card').scrollIntoView()",
    )
    .await;
    save_screenshot(&browser, "trader-indicator-grid.png").await;

    // The watchlist has the same symbols, each with its RSI badge.
    let watch = js(&browser, "return [...document.querySelectorAll('#watch-rows tr[data-symbol]')].map(tr => [tr.dataset.symbol, tr.cells[8].textContent])").await;
    assert_eq!(
        watch,
        json!([["AAPL", "74.0"], ["MSFT", "25.0"], ["NVDA", "55.5"]])
    );

    // The symbol view opens from a row, with its RSI and MACD panes, and
    // the chart library needs nothing the CSP refuses.
    js(&browser, "window.cspViolations = []; document.addEventListener('securitypolicyviolation', e => cspViolations.push(e.violatedDirective + ' ' + e.blockedURI))").await;
    browser
        .find(Locator::Css("#indicators tr[data-symbol=MSFT]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&browser, "#symbol-name", "MSFT").await;
    let link = js(
        &browser,
        "return document.getElementById('symbol-history').getAttribute('href')",
    )
    .await;
    assert_eq!(link, "/history?symbol=MSFT");
    wait_for("the charts drawn", WAIT, || async {
        let canvases = js(
            &browser,
            "return document.querySelectorAll('#symbol-rsi canvas, #symbol-macd canvas').length",
        )
        .await;
        (canvases.as_u64()? >= 2).then_some(())
    })
    .await;
    assert_eq!(
        js(&browser, "return cspViolations").await,
        json!([]),
        "nothing refused by the CSP"
    );
    save_screenshot(&browser, "trader-symbol-view.png").await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_gzipped_with_an_etag_and_answer_304_when_unchanged() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let http = reqwest::Client::new();
    let url = format!("{}/static/dashboard.js", app.base_url);

    let plain = http
        .get(&url)
        .header("accept-encoding", "identity")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.headers()["vary"], "Accept-Encoding");
    let plain_etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        plain_etag.starts_with('"') && plain_etag.len() > 20,
        "{plain_etag}"
    );
    let plain_body = plain.bytes().await.unwrap();
    assert_eq!(&plain_body[..], include_bytes!("../static/dashboard.js"));

    let gzip = http
        .get(&url)
        .header("accept-encoding", "br;q=1, gzip;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(gzip.status(), 200);
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert_eq!(
        gzip.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let gzip_etag = gzip.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(gzip_etag, plain_etag, "each encoding has its own tag");
    let compressed = gzip.bytes().await.unwrap();
    assert!(
        compressed.len() < plain_body.len() / 2,
        "{} of {}",
        compressed.len(),
        plain_body.len()
    );
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, plain_body);

    let refused = http
        .get(&url)
        .header("accept-encoding", "gzip;q=0")
        .send()
        .await
        .unwrap();
    assert!(
        refused.headers().get("content-encoding").is_none(),
        "q=0 refuses gzip"
    );

    for (encoding, etag) in [("identity", &plain_etag), ("gzip", &gzip_etag)] {
        let again = http
            .get(&url)
            .header("accept-encoding", encoding)
            .header("if-none-match", format!("\"other\", {etag}"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{encoding}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());
    }
    let changed = http
        .get(&url)
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);

    let icon = http
        .get(format!("{}/static/favicon.svg", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    let chart = http
        .get(format!(
            "{}/static/lightweight-charts.standalone.production.js",
            app.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(chart.status(), 200);
    for notice in ["lightweight-charts.LICENSE", "lightweight-charts.NOTICE"] {
        let response = http
            .get(format!("{}/static/{notice}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{notice}");
        assert!(
            response.text().await.unwrap().contains("TradingView"),
            "{notice}"
        );
    }
    let html = app.get_text("/login").await;
    assert!(html.contains(r#"<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">"#));
    let missing = http
        .get(format!("{}/static/nothing.js", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// A tick as the feed forwards it (CONTRACT §3).
fn tick(symbol: &str, price: f64, volume: u64, at: f64) -> Value {
    json!({"type": "market_tick", "symbol": symbol, "price": price, "volume": volume, "timestamp": at, "source": "synthetic"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_a_symbols_shown_price_equals_the_last_market_tick_forwarded() {
    let driver = ChromeDriver::start().await;
    let redis = RedisServer::start().await;
    let (_app, browser, mut publisher) = live_page(&driver, &redis).await;
    let start = Utc::now().timestamp() as f64;
    let prices = [227.41, 227.9, 226.85, 228.12];
    for (i, price) in prices.iter().enumerate() {
        publisher
            .publish(
                MARKET_TICKS,
                tick("AAPL", *price, 100, start + i as f64 * 0.1).to_string(),
            )
            .await;
    }
    let last = format!("{:.2}", prices[prices.len() - 1]);
    wait_for("the watchlist's last price", WAIT, || async {
        let price = js(&browser, "const r = document.querySelector('#watch-rows tr[data-symbol=AAPL]'); return r && r.cells[1].textContent").await;
        (price.as_str()? == last).then_some(())
    })
    .await;
    let change = js(
        &browser,
        "return document.querySelector('#watch-rows tr[data-symbol=AAPL]').cells[2].textContent",
    )
    .await;
    assert_eq!(change, format!("{:+.2}", prices[3] - prices[0]));
    browser
        .find(Locator::Css("#watch-rows tr[data-symbol=AAPL]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&browser, "#symbol-price", &last).await;
    save_screenshot(&browser, "trader-symbol-live.png").await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_a_patterns_marker_sits_on_its_candle() {
    let driver = ChromeDriver::start().await;
    let redis = RedisServer::start().await;
    let (app, browser, mut publisher) = live_page(&driver, &redis).await;
    let minute = Utc::now().timestamp() / 60 * 60;
    for (i, price) in [100.0, 101.0, 99.5, 100.5].iter().enumerate() {
        publisher
            .publish(
                MARKET_TICKS,
                tick("AMD", *price, 10, minute as f64 + i as f64).to_string(),
            )
            .await;
    }
    let at = chrono::DateTime::from_timestamp(minute + 20, 0)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    publish(
        &app,
        &mut publisher,
        PATTERNS,
        json!({"type": "streaming_pattern", "detection": {"symbol": "AMD",
        "pattern_type": "Doji", "confidence": 0.9, "timestamp": at}}),
    )
    .await;
    let (code, candles) = wait_for("the candle on the server", WAIT, || async {
        let (code, body) = app.get("/streaming/api/market/candles/AMD").await;
        (code == 200 && body["candles"].as_array().is_some_and(|c| !c.is_empty()))
            .then_some((code, body))
    })
    .await;
    assert_eq!(code, 200);
    let candle = &candles["candles"][0];
    assert_eq!(
        (
            candle["o"].as_f64(),
            candle["h"].as_f64(),
            candle["l"].as_f64(),
            candle["c"].as_f64()
        ),
        (Some(100.0), Some(101.0), Some(99.5), Some(100.5))
    );
    wait_for("the AMD row", WAIT, || async {
        browser
            .find(Locator::Css("#watch-rows tr[data-symbol=AMD]"))
            .await
            .ok()
    })
    .await
    .click()
    .await
    .unwrap();
    let bar = wait_for("the marker", WAIT, || async {
        let row = js(&browser, "const r = document.querySelector('#symbol-markers tr'); return r && [...r.cells].map(c => c.textContent)").await;
        row.as_array().filter(|r| r[3].as_str().is_some_and(|w| w.starts_with("Doji"))).map(|r| r[0].as_str().unwrap_or_default().to_owned())
    })
    .await;
    // The marker's bar is the candle's minute, as the page writes it.
    let candle_minute = js(
        &browser,
        &format!("return TickStockFormat.clock(new Date({minute} * 1000))"),
    )
    .await;
    assert_eq!(Value::String(bar), candle_minute);
    save_screenshot(&browser, "trader-symbol-marker.png").await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_shows_values_on_hover_and_with_the_bus_offline_is_greyed_with_the_time_it_is_from()
{
    let driver = ChromeDriver::start().await;
    let mut redis = RedisServer::start().await;
    let (app, browser, mut publisher) = live_page(&driver, &redis).await;
    publish(
        &app,
        &mut publisher,
        HEALTH,
        json!({"type": "streaming_health", "health": {"status": "warning",
        "active_symbols": 20, "ticks_per_second": 20.0, "issues": [], "timestamp": now()}}),
    )
    .await;
    wait_text(&browser, "#health-status", "WARNING").await;
    // A WARNING without issues still says why it is not healthy.
    let issues = text_of(&browser, "#issues").await.unwrap();
    assert!(
        issues.contains("reported WARNING without listing its issues"),
        "{issues}"
    );
    // The health chart gives a report's values on hover, its time in ET, or
    // in the browser's zone by the setting.
    js(&browser, "const c = document.getElementById('health-chart'); const r = c.getBoundingClientRect(); \
        c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.right - 10, clientY: r.top + 20, bubbles: true}))").await;
    wait_for("the values on hover", WAIT, || async {
        let hover = text_of(&browser, "#health-hover").await?;
        (hover.contains(" ET · Ticks 20.0 /s")).then_some(())
    })
    .await;
    browser
        .find(Locator::Css("#settings summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .find(Locator::Css("#setting-zone option[value=local]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the times in the browser's zone", WAIT, || async {
        let hover = text_of(&browser, "#health-hover").await?;
        (hover.contains(" local · Ticks 20.0 /s")).then_some(())
    })
    .await;
    let greyed = "return [document.getElementById('health-card').classList.contains('not-current'), \
                  document.getElementById('feed-card').classList.contains('not-current')]";
    assert_eq!(js(&browser, greyed).await, json!([false, false]));

    redis.kill();
    wait_text(&browser, "#banner-status", "OFFLINE").await;
    wait_for("health and feed greyed", WAIT, || async {
        (js(&browser, greyed).await == json!([true, true])).then_some(())
    })
    .await;
    let as_of = text_of(&browser, "#health-asof").await.unwrap();
    assert!(
        as_of.starts_with("Not current: as of ") && as_of.contains("message bus unreachable"),
        "{as_of}"
    );
    assert!(
        text_of(&browser, "#feed-asof")
            .await
            .unwrap()
            .starts_with("Not current: as of ")
    );
    save_screenshot(&browser, "trader-bus-offline.png").await;
    browser.close().await.unwrap();
}

/// A child process killed (and reaped) on drop.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The page under seed 004's high-volume scenario (the simulator against
/// Redis, 5 s bars, 1000+ patterns and 100+ alerts a bar, 600 symbols
/// ticking): what it keeps stays bounded, and it keeps answering. Long tasks
/// are printed, never asserted (benchmarks measure timings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_high_volume_scenario_the_page_stays_bounded_and_answers() {
    let driver = ChromeDriver::start().await;
    let redis = RedisServer::start().await;
    let mut config = Config::for_tests();
    config.bus.redis_url = Some(redis.url().into());
    config.feed.data_source = Some(tickstock::feed::settings::SourceChoice::Synthetic);
    config.feed.symbols =
        tickstock::feed::settings::List((0..500).map(|i| format!("S{i:03}")).collect());
    config.feed.synthetic_ticks_per_second = 2_000.0;
    let app = TestApp::spawn(config).await;
    app.wait_connected().await;
    let _simulator = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_tickstock"))
            .args([
                "simulate",
                "--scenario",
                "high-volume",
                "--load-symbols",
                "100",
            ])
            .env("REDIS_URL", redis.url())
            .env("SIM_BAR_SECONDS", "5")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the simulator starts"),
    );
    let browser = driver.browser().await;
    sign_in(&browser, &app.base_url, "/dashboard").await;
    wait_text(&browser, "#connection", "live").await;
    js(&browser, "window.longTasks = []; new PerformanceObserver(l => l.getEntries().forEach(e => longTasks.push(Math.round(e.duration)))).observe({type: 'longtask'})").await;
    // Two bars' bursts at least, with the market's prices.
    let watched = "return document.querySelectorAll('#watch-rows tr[data-symbol]').length";
    wait_for("500 symbols and more", Duration::from_secs(60), || async {
        let count = text_of(&browser, "#watch-count").await?;
        let symbols: u64 = count.split(' ').next()?.parse().ok()?;
        (symbols >= 500).then_some(())
    })
    .await;
    let measure = "return {elements: document.getElementsByTagName('*').length, watchRows: document.querySelectorAll('#watch-rows tr').length, \
        gridRows: document.querySelectorAll('#indicators tr').length, patternRows: document.querySelectorAll('#patterns tr').length, \
        alertRows: document.querySelectorAll('#indicator-alerts tr').length, heapMb: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : 0, \
        longTasks: longTasks}";
    let first = js(&browser, measure).await;
    let start = tokio::time::Instant::now();
    let mut last = first.clone();
    while start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_secs(3)).await;
        last = js(&browser, measure).await;
        // Only the rows on screen are in the DOM, whatever the universe.
        assert!(last["watchRows"].as_u64().unwrap() <= 40, "{last}");
        assert!(last["gridRows"].as_u64().unwrap() <= 40, "{last}");
        assert!(last["patternRows"].as_u64().unwrap() <= 50, "{last}");
        assert!(last["alertRows"].as_u64().unwrap() <= 50, "{last}");
        assert!(last["elements"].as_u64().unwrap() < 3_000, "{last}");
        assert!(last["heapMb"].as_f64().unwrap() < 100.0, "{last}");
    }
    println!("high volume: at first {first}\nhigh volume: 15 s later {last}");
    assert!(js(&browser, watched).await.as_u64().unwrap() > 0);
    // A typed filter is applied.
    browser
        .find(Locator::Css("#watch-filter"))
        .await
        .unwrap()
        .send_keys("S42")
        .await
        .unwrap();
    wait_for("the filtered watchlist", WAIT, || async {
        let rows = js(&browser, "return [...document.querySelectorAll('#watch-rows tr[data-symbol]')].map(r => r.dataset.symbol)").await;
        let rows = rows.as_array()?.clone();
        (!rows.is_empty() && rows.iter().all(|s| s.as_str().is_some_and(|s| s.contains("S42")))).then_some(())
    })
    .await;
    save_screenshot(&browser, "trader-high-volume.png").await;
    browser.close().await.unwrap();
}

fn session_started(session_id: &str) -> Value {
    json!({"type": "streaming_session_started", "session": {"session_id": session_id, "universe": "market_leaders:top_500",
        "started_at": now(), "symbol_count": 500, "status": "active"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_say_when_nothing_matched_the_pause_holds_the_lists_and_a_new_session_starts_empty()
{
    let driver = ChromeDriver::start().await;
    let redis = RedisServer::start().await;
    let (app, browser, mut publisher) = live_page(&driver, &redis).await;
    let first = "f444e96f-1b50-4766-b98d-02921a9b5b57";
    publish(
        &app,
        &mut publisher,
        "tickstock:streaming:session_started",
        session_started(first),
    )
    .await;
    wait_text(&browser, "#session-id", first).await;
    publish(
        &app,
        &mut publisher,
        PATTERNS,
        json!({"type": "streaming_pattern", "detection": {"symbol": "NVDA",
        "pattern_type": "Doji", "confidence": 0.85, "timestamp": now(), "session_id": first}}),
    )
    .await;
    publish_indicators(&app, &mut publisher, "NVDA", 50.0).await;
    wait_for("the pattern row", WAIT, || async {
        text_of(&browser, "#patterns")
            .await
            .filter(|t| t.contains("Doji"))
            .map(|_| ())
    })
    .await;

    // A filter that matches nothing here or in the history says so.
    browser
        .find(Locator::Css("#pattern-filter"))
        .await
        .unwrap()
        .send_keys("QQQ")
        .await
        .unwrap();
    wait_text(
        &browser,
        "#patterns-empty",
        "No pattern matches “QQQ”, here or in the history.",
    )
    .await;
    browser
        .find(Locator::Css("#indicator-filter"))
        .await
        .unwrap()
        .send_keys("QQQ")
        .await
        .unwrap();
    wait_text(&browser, "#indicator-empty", "No symbol matches “QQQ”.").await;
    browser
        .find(Locator::Css("#pattern-filter"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    browser
        .find(Locator::Css("#indicator-filter"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    js(&browser, "document.getElementById('pattern-filter').dispatchEvent(new Event('input')); document.getElementById('indicator-filter').dispatchEvent(new Event('input'))").await;
    wait_for("the rows again", WAIT, || async {
        text_of(&browser, "#patterns")
            .await
            .filter(|t| t.contains("Doji"))
            .map(|_| ())
    })
    .await;

    // Paused, the list stands still and counts what came; the setting is kept.
    browser
        .find(Locator::Css("#settings summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .find(Locator::Css("#setting-pause"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&browser, "#patterns-paused", "paused").await;
    publish(
        &app,
        &mut publisher,
        PATTERNS,
        json!({"type": "streaming_pattern", "detection": {"symbol": "AMD",
        "pattern_type": "Hammer", "confidence": 0.7, "timestamp": now(), "session_id": first}}),
    )
    .await;
    wait_text(&browser, "#patterns-paused", "paused · 1 new").await;
    assert!(
        !text_of(&browser, "#patterns")
            .await
            .unwrap()
            .contains("Hammer")
    );
    let kept = js(
        &browser,
        "return JSON.parse(localStorage.getItem('tickstock.settings')).pause",
    )
    .await;
    assert_eq!(kept, true);
    browser
        .find(Locator::Css("#setting-pause"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("the list to move again", WAIT, || async {
        text_of(&browser, "#patterns")
            .await
            .filter(|t| t.contains("Hammer"))
            .map(|_| ())
    })
    .await;
    assert_eq!(
        text_of(&browser, "#patterns-paused").await.as_deref(),
        Some("")
    );

    // The next session's lists do not show the last one's events.
    let second = "0c7d5e0e-8f43-4c43-9a8e-1b2f3c4d5e6f";
    publish(
        &app,
        &mut publisher,
        "tickstock:streaming:session_started",
        session_started(second),
    )
    .await;
    wait_text(&browser, "#session-id", second).await;
    wait_text(
        &browser,
        "#patterns-empty",
        "No patterns yet in this session.",
    )
    .await;
    wait_text(
        &browser,
        "#indicator-empty",
        "No indicators yet in this session.",
    )
    .await;
    assert_eq!(text_of(&browser, "#patterns").await.as_deref(), Some(""));
    browser.close().await.unwrap();
}
