//! A browser of the test's own: signs in through the login form, keeps the
//! session cookie, and hands it to a WebSocket client.

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;

pub struct Browser {
    pub base_url: String,
    pub client: reqwest::Client,
    jar: Arc<Jar>,
}

/// The CSRF token of a page's form.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..start + 64].to_owned()
}

impl Browser {
    pub fn new(base_url: &str) -> Self {
        Self::with_jar(base_url, Arc::new(Jar::default()))
    }

    /// The same cookies, sent to another server (another replica).
    pub fn same_cookies_to(&self, base_url: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let url = base_url.parse().expect("a URL");
        for cookie in self.cookie().split("; ") {
            jar.add_cookie_str(cookie, &url);
        }
        Self::with_jar(base_url, jar)
    }

    fn with_jar(base_url: &str, jar: Arc<Jar>) -> Self {
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("an HTTP client");
        Self {
            base_url: base_url.to_owned(),
            client,
            jar,
        }
    }

    /// Signs in; panics unless the login is accepted.
    pub async fn sign_in(&self, username: &str, password: &str) {
        assert_eq!(self.try_sign_in(username, password).await, 303, "signed in");
    }

    /// Submits the login form; the answer's status (303 when accepted).
    pub async fn try_sign_in(&self, username: &str, password: &str) -> reqwest::StatusCode {
        let html = self.text("/login").await;
        self.client
            .post(format!("{}/login", self.base_url))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf", &csrf_of(&html)),
                ("next", "/dashboard"),
            ])
            .send()
            .await
            .expect("POST /login")
            .status()
    }

    pub async fn logout(&self) {
        let html = self.text("/dashboard").await;
        let response = self
            .client
            .post(format!("{}/logout", self.base_url))
            .form(&[("csrf", csrf_of(&html).as_str())])
            .send()
            .await
            .expect("POST /logout");
        assert_eq!(response.status(), 303, "signed out");
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("a response")
    }

    pub async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("a text body")
    }

    /// The `Cookie` header this browser sends.
    pub fn cookie(&self) -> String {
        let url = self.base_url.parse().expect("a URL");
        self.jar
            .cookies(&url)
            .and_then(|value| value.to_str().ok().map(str::to_owned))
            .unwrap_or_default()
    }
}
