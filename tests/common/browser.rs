//! A real headless Chromium (Debian's chromium and chromium-driver;
//! `scripts/test` installs them) driven over WebDriver, and the steps the
//! page tests share: signing in, reading and waiting for text, screenshots.

use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tickstock::config::TEST_ADMIN_PASSWORD;

use super::{WAIT, free_port, wait_for};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

pub struct ChromeDriver {
    port: u16,
    child: Child,
}

impl ChromeDriver {
    pub async fn start() -> Self {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "Chromium is missing: `scripts/test` installs Debian's chromium and chromium-driver"
        );
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let status = format!("http://127.0.0.1:{port}/status");
        wait_for("chromedriver to answer", WAIT, || async {
            reqwest::get(&status)
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        })
        .await;
        Self { port, child }
    }

    pub async fn browser(&self) -> Client {
        let profile = tempfile::tempdir().expect("a profile directory").keep();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-dev-shm-usage", "--no-first-run", "--disable-component-update", "--disable-sync",
                         "--window-size=1400,1000", format!("--user-data-dir={}", profile.display())]
            }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn text_of(browser: &Client, css: &str) -> Option<String> {
    browser
        .find(Locator::Css(css))
        .await
        .ok()?
        .text()
        .await
        .ok()
}

pub async fn wait_text(browser: &Client, css: &str, expected: &str) {
    wait_for(&format!("{css} to read {expected:?}"), WAIT, || async {
        (text_of(browser, css).await.as_deref() == Some(expected)).then_some(())
    })
    .await;
}

/// Opens `page`, which asks for a login first, and signs in as the admin.
pub async fn sign_in(browser: &Client, base_url: &str, page: &str) {
    browser.goto(&format!("{base_url}{page}")).await.unwrap();
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.path(), "/login", "the page asks for a login first");
    assert_eq!(url.query(), Some(format!("next={page}").as_str()));
    browser
        .find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys("admin")
        .await
        .unwrap();
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(TEST_ADMIN_PASSWORD)
        .await
        .unwrap();
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&format!("{page} after login"), WAIT, || async {
        (browser.current_url().await.ok()?.path() == page).then_some(())
    })
    .await;
}

pub fn screenshot_path(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-output");
    std::fs::create_dir_all(&dir).expect("target/test-output");
    dir.join(name)
}
