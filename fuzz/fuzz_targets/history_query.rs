//! One request to a history route, through the whole router (access check,
//! query parsing, the memory history): never a panic, never a 5xx, always a
//! JSON or CSV body.
#![no_main]

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{Request, header};
use libfuzzer_sys::fuzz_target;
use tickstock::app::Application;
use tickstock::config::Config;
use tower::ServiceExt;

struct Server {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
}

static SERVER: LazyLock<Server> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (router, token) = runtime.block_on(async {
        let app = Application::build(Config::for_tests())
            .await
            .expect("application");
        let (_, token) = app
            .state()
            .accounts
            .create_token("admin", "fuzz")
            .await
            .expect("token");
        (app.router(), token)
    });
    Server {
        runtime,
        router,
        token,
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let server = &*SERVER;
    let Ok(request) = Request::get(target)
        .header(header::AUTHORIZATION, format!("Bearer {}", server.token))
        .body(Body::empty())
    else {
        return;
    };
    let response = server
        .runtime
        .block_on(server.router.clone().oneshot(request))
        .expect("the router is infallible");
    assert!(
        !response.status().is_server_error(),
        "{target:?} answered {}",
        response.status()
    );
});
