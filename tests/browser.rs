//! The dashboard in a real headless Chromium (Debian's chromium and
//! chromium-driver; `scripts/test` installs them): sign in, watch events
//! published on a real Redis appear, HTML in event data shown as text, the
//! page reconnecting by itself after a server restart, and going to the
//! login page when its login is gone or ends while it is open.

mod common;

use std::time::Duration;

use common::browser::{ChromeDriver, screenshot_path, sign_in, text_of, wait_text};
use common::postgres::TestDatabase;
use common::{RedisServer, TestApp, WAIT, free_port, wait_for};
use fantoccini::Locator;
use serde_json::json;
use tickstock::config::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_on_redis_appear_on_the_dashboard_and_html_stays_text() {
    let driver = ChromeDriver::start().await;
    let redis = RedisServer::start().await;
    let app = TestApp::with_redis(&redis).await;
    app.wait_connected().await;
    let browser = driver.browser().await;
    sign_in(&browser, &app.base_url, "/dashboard").await;
    wait_text(&browser, "#connection", "live").await;
    wait_text(&browser, "#banner-status", "IDLE").await;

    let mut redis_pub = redis.publisher().await;
    let session = json!({"type": "streaming_session_started", "session": {"session_id": "f444e96f-1b50-4766-b98d-02921a9b5b57",
        "universe": "market_leaders:top_500", "started_at": "2025-10-07T19:21:51.658Z", "symbol_count": 60, "status": "active"}});
    redis_pub
        .publish("tickstock:streaming:session_started", session.to_string())
        .await;
    let health = json!({"type": "streaming_health", "health": {"session_id": "f444e96f-1b50-4766-b98d-02921a9b5b57",
        "status": "healthy", "active_symbols": 60, "ticks_per_second": 18.2, "patterns_detected": 0, "indicators_calculated": 0}});
    redis_pub
        .publish("tickstock:streaming:health", health.to_string())
        .await;

    wait_text(&browser, "#banner-status", "ONLINE").await;
    wait_text(&browser, "#tps", "18.2").await;
    wait_text(&browser, "#health-status", "HEALTHY").await;
    // The page agrees with the status route.
    let status = app.status().await;
    assert_eq!(
        text_of(&browser, "#session-id").await.as_deref(),
        status["session"]["session_id"].as_str()
    );
    assert_eq!(
        text_of(&browser, "#universe").await.as_deref(),
        status["session"]["universe"].as_str()
    );
    assert_eq!(
        text_of(&browser, "#active-symbols").await,
        Some(status["health"]["active_symbols"].to_string())
    );
    assert_eq!(status["health"]["data_flow"]["ticks_per_second"], 18.2);

    // A symbol that is not a ticker is refused at decode; HTML in a name
    // passes through and must stay text on the page.
    let not_a_ticker = json!({"type": "streaming_pattern", "detection": {"symbol": "<img src=x onerror=alert(1)>",
        "pattern_type": "Hammer", "confidence": 0.91, "timestamp": "2025-10-07T19:30:00Z"}});
    redis_pub
        .publish("tickstock:patterns:streaming", not_a_ticker.to_string())
        .await;
    let hostile = json!({"type": "streaming_pattern", "detection": {"symbol": "AMD",
        "pattern_type": "<script>document.title='pwned'</script><img src=x onerror=alert(1)>", "confidence": 0.91,
        "timestamp": "2025-10-07T19:30:00Z"}});
    redis_pub
        .publish("tickstock:patterns:streaming", hostile.to_string())
        .await;
    let pattern = json!({"type": "streaming_pattern", "detection": {"symbol": "NVDA", "pattern_type": "Doji", "confidence": 0.85,
        "timestamp": "2025-10-07T19:31:00Z"}});
    redis_pub
        .publish("tickstock:patterns:streaming", pattern.to_string())
        .await;
    wait_for("both pattern rows", WAIT, || async {
        let rows = text_of(&browser, "#patterns").await?;
        (rows.contains("<img src=x onerror=alert(1)>") && rows.contains("NVDA")).then_some(())
    })
    .await;
    let rows = text_of(&browser, "#patterns").await.unwrap();
    assert!(
        rows.contains("<script>document.title='pwned'</script>"),
        "{rows}"
    );
    assert!(rows.contains("85% ★"), "high confidence is marked: {rows}");
    assert!(
        !rows.contains("Hammer"),
        "a symbol that is not a ticker is refused: {rows}"
    );
    assert!(
        browser
            .find_all(Locator::Css("#patterns img, #patterns script"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_ne!(browser.title().await.unwrap(), "pwned");

    let png = browser.screenshot().await.unwrap();
    let path = screenshot_path("dashboard.png");
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_it_is_reconnecting_and_comes_back_after_a_restart() {
    let driver = ChromeDriver::start().await;
    let db = TestDatabase::create().await;
    let mut config = Config::for_tests();
    config.server.bind_addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    config.database.database_url = Some(db.url.clone().into());
    config.login.session_secret = Some("a-session-secret-that-survives-a-restart".into());
    let (app, browser) = live_dashboard(&driver, &config).await;

    drop(app);
    wait_for("the page to say it is reconnecting", WAIT, || async {
        text_of(&browser, "#connection")
            .await
            .filter(|t| t.starts_with("reconnecting"))
            .map(|_| ())
    })
    .await;

    // The same address, the same database: the login session is still valid.
    let restarted = restart(&config).await;
    wait_for(
        "the page to be live again",
        Duration::from_secs(60),
        || async {
            (text_of(&browser, "#connection").await.as_deref() == Some("live")).then_some(())
        },
    )
    .await;
    browser.close().await.unwrap();
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_login_expired_goes_to_the_login_page() {
    let driver = ChromeDriver::start().await;
    // Login sessions in memory: a restart forgets every one.
    let mut config = Config::for_tests();
    config.server.bind_addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (app, browser) = live_dashboard(&driver, &config).await;

    drop(app);
    let _restarted = restart(&config).await;
    wait_for(
        "the page to go to the login page",
        Duration::from_secs(60),
        || async {
            let url = browser.current_url().await.ok()?;
            (url.path() == "/login" && url.query() == Some("next=%2Fdashboard")).then_some(())
        },
    )
    .await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_session_logs_out_elsewhere_goes_to_the_login_page_at_once() {
    let driver = ChromeDriver::start().await;
    let mut config = Config::for_tests();
    config.server.bind_addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (app, browser) = live_dashboard(&driver, &config).await;

    // The same session logged out from another tab: the open socket is
    // closed with 4401 and the page leaves.
    let cookie = browser.get_named_cookie("tickstock_session").await.unwrap();
    let cookie = format!("tickstock_session={}", cookie.value());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let html = http
        .get(format!("{}/dashboard", app.base_url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let logout = http
        .post(format!("{}/logout", app.base_url))
        .header("cookie", &cookie)
        .form(&[("csrf", common::login::csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    wait_for(
        "the page to go to the login page",
        Duration::from_secs(5),
        || async {
            let url = browser.current_url().await.ok()?;
            (url.path() == "/login" && url.query() == Some("next=%2Fdashboard")).then_some(())
        },
    )
    .await;
    browser.close().await.unwrap();
}

/// The application on the address of `config`, and a browser signed in and
/// showing the live dashboard.
async fn live_dashboard(driver: &ChromeDriver, config: &Config) -> (TestApp, fantoccini::Client) {
    let app = TestApp::spawn(config.clone()).await;
    let browser = driver.browser().await;
    sign_in(&browser, &app.base_url, "/dashboard").await;
    wait_text(&browser, "#connection", "live").await;
    (app, browser)
}

/// The application again on the address of `config`, once that is free;
/// it stops when the guard is dropped.
async fn restart(config: &Config) -> tokio_util::sync::DropGuard {
    wait_for("the address to be free again", WAIT, || {
        let config = config.clone();
        async move {
            let app = tickstock::app::Application::build(config).await.ok()?;
            let stop = tokio_util::sync::CancellationToken::new();
            let stopped = stop.clone();
            tokio::spawn(app.run_until_stopped(async move { stopped.cancelled().await }));
            Some(stop.drop_guard())
        }
    })
    .await
}
