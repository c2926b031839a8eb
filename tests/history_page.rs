//! The history page in a real headless Chromium: it pages past 100 rows by
//! the API's cursors, its CSV link answers the rows shown, its filters come
//! preset from a link, it says when nothing matched, and data stays text.

mod common;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use common::browser::{ChromeDriver, screenshot_path, sign_in, text_of, wait_text};
use common::history::seed;
use common::{TestApp, WAIT, wait_for};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use tickstock::config::Config;
use tickstock::events::Channel;
use tickstock::store::history::{HistoryRow, PatternRow};

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// 250 NVDA patterns (two per second, one of them hostile HTML), 20 AAPL.
fn patterns(base: DateTime<Utc>) -> Vec<(Channel, Value)> {
    (0..270)
        .map(|i: i64| {
            let symbol = if i < 250 { "NVDA" } else { "AAPL" };
            let name = if i % 2 == 0 { "Doji" } else { HOSTILE };
            let at =
                (base - TimeDelta::seconds(i / 2)).to_rfc3339_opts(SecondsFormat::Micros, true);
            let detection = json!({"symbol": symbol, "pattern_type": name, "confidence": 0.5,
                "timestamp": at, "timeframe": "1min"});
            (Channel::PatternsStreaming, json!({"detection": detection}))
        })
        .collect()
}

/// The text of every cell of the table, row by row.
async fn shown_rows(browser: &Client) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for row in browser
        .find_all(Locator::Css("#history-rows tr"))
        .await
        .expect("rows")
    {
        let mut cells = Vec::new();
        for cell in row.find_all(Locator::Css("td")).await.expect("cells") {
            cells.push(cell.text().await.expect("text"));
        }
        rows.push(cells);
    }
    rows
}

/// The API page the page's CSV link names, as JSON and as CSV records.
async fn page_of_csv_link(app: &TestApp, browser: &Client) -> (Value, Vec<Vec<String>>) {
    let link = browser
        .find(Locator::Css("#history-csv"))
        .await
        .expect("the CSV link")
        .attr("href")
        .await
        .expect("an href")
        .expect("an href");
    assert!(link.contains("format=csv"), "{link}");
    let (code, json_page) = app.get(&link.replace("&format=csv", "")).await;
    assert_eq!(code, 200, "{json_page}");
    let csv = app
        .http
        .get(format!("{}{link}", app.base_url))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("the CSV")
        .text()
        .await
        .expect("a body");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, PatternRow::COLUMNS);
    let records = reader
        .records()
        .map(|r| r.expect("a record").iter().map(str::to_owned).collect())
        .collect();
    (json_page, records)
}

/// Checks that the table shows exactly the rows of the CSV link's page,
/// and that the CSV holds them too.
async fn assert_shown_is_the_csv(app: &TestApp, browser: &Client, rows: usize) {
    let (json_page, records) = page_of_csv_link(app, browser).await;
    let json_rows = json_page["patterns"].as_array().expect("patterns");
    let shown = shown_rows(browser).await;
    assert_eq!(shown.len(), rows);
    assert_eq!(json_rows.len(), rows);
    assert_eq!(records.len(), rows);
    let column = |name: &str| {
        PatternRow::COLUMNS
            .iter()
            .position(|c| *c == name)
            .expect("a column")
    };
    for ((cells, row), record) in shown.iter().zip(json_rows).zip(&records) {
        // The page's first columns: detected_at, symbol, pattern_type.
        assert_eq!(cells[0], row["detected_at"].as_str().unwrap_or_default());
        assert_eq!(cells[1], row["symbol"].as_str().unwrap_or_default());
        assert_eq!(cells[2], row["pattern_type"].as_str().unwrap_or_default());
        assert_eq!(record[column("detected_at")], cells[0]);
        assert_eq!(record[column("symbol")], cells[1]);
        assert_eq!(record[column("pattern_type")], cells[2]);
    }
}

async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .expect("a click");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_page_pages_past_100_rows_and_its_csv_is_what_it_shows() {
    let driver = ChromeDriver::start().await;
    let app = TestApp::spawn(Config::for_tests()).await;
    seed(&app, &patterns(Utc::now() - TimeDelta::minutes(1))).await;
    let browser = driver.browser().await;
    sign_in(&browser, &app.base_url, "/history").await;

    // As the trader's symbol view links to it.
    browser
        .goto(&format!(
            "{}/history?symbol=nvda&kind=patterns",
            app.base_url
        ))
        .await
        .expect("the page");
    wait_text(&browser, "#history-status", "Rows 1–100").await;
    assert_eq!(
        browser
            .find(Locator::Css("#filter-symbol"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("nvda")
    );
    assert_shown_is_the_csv(&app, &browser, 100).await;
    let first_page = shown_rows(&browser).await;

    click(&browser, "#history-older").await;
    wait_text(&browser, "#history-status", "Rows 101–200").await;
    assert_shown_is_the_csv(&app, &browser, 100).await;
    let second_page = shown_rows(&browser).await;
    assert!(first_page.last() > second_page.first(), "older rows follow");

    click(&browser, "#history-older").await;
    wait_text(&browser, "#history-status", "Rows 201–250 (the last)").await;
    assert_shown_is_the_csv(&app, &browser, 50).await;
    let disabled = browser
        .find(Locator::Css("#history-older"))
        .await
        .unwrap()
        .prop("disabled")
        .await
        .unwrap();
    assert_eq!(disabled.as_deref(), Some("true"), "no page after the last");

    click(&browser, "#history-newer").await;
    wait_text(&browser, "#history-status", "Rows 101–200").await;
    assert_eq!(shown_rows(&browser).await, second_page);

    // HTML in the data is text.
    let table = text_of(&browser, "#history-rows").await.unwrap_or_default();
    assert!(table.contains(HOSTILE), "{table}");
    assert!(
        browser
            .find_all(Locator::Css("#history-rows img"))
            .await
            .unwrap()
            .is_empty()
    );
    browser
        .execute("window.scrollTo(0, 0)", vec![])
        .await
        .expect("scrolled to the top");
    let png = browser.screenshot().await.expect("a screenshot");
    let path = screenshot_path("history.png");
    std::fs::write(&path, png).expect("the screenshot is saved");
    println!("screenshot: {}", path.display());

    // A filter that matches nothing says so.
    let symbol = browser.find(Locator::Css("#filter-symbol")).await.unwrap();
    symbol.clear().await.unwrap();
    symbol.send_keys("ZZZZ").await.unwrap();
    click(&browser, "#history-filters button[type=submit]").await;
    wait_text(
        &browser,
        "#history-status",
        "Nothing matched these filters.",
    )
    .await;
    assert!(shown_rows(&browser).await.is_empty());
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.query(), Some("kind=patterns&symbol=ZZZZ"));
    let link = browser
        .find(Locator::Css("#history-csv"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        link.contains("symbol=ZZZZ"),
        "the CSV link follows the filters: {link}"
    );

    // Every symbol's patterns: 270 rows, the last page the 3rd.
    symbol.clear().await.unwrap();
    click(&browser, "#history-filters button[type=submit]").await;
    wait_text(&browser, "#history-status", "Rows 1–100").await;
    for _ in 0..2 {
        click(&browser, "#history-older").await;
        wait_for("the next page", WAIT, || async {
            let status = text_of(&browser, "#history-status").await?;
            (!status.starts_with("Loading") && !status.starts_with("Rows 1–")).then_some(())
        })
        .await;
    }
    wait_text(&browser, "#history-status", "Rows 201–270 (the last)").await;
    browser.close().await.expect("the browser closes");
}
