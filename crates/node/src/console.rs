//! The web console (docs/console.md), served by every node at `/`: static files compiled into the
//! binary, so running it needs no build step and no other server. `/console/*` holds the pages,
//! styles and chart code (`crates/node/console/`, all our own); `/sdk/*` serves the JavaScript
//! SDK (`sdk/js/src/`) the console is written against, the same files npm users get.
//!
//! These routes are not part of the API: they are not in `api::ROUTES` or the OpenAPI document.
//! The page may only load from this node (`default-src 'self'`); it may connect elsewhere because
//! a job's outputs are fetched from the compute node that ran it.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// (path under its prefix, content type, contents).
type Asset = (&'static str, &'static str, &'static str);

const JS: &str = "text/javascript; charset=utf-8";

const CONSOLE: &[Asset] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../console/console.css"),
    ),
    ("app.js", JS, include_str!("../console/app.js")),
    ("ui.js", JS, include_str!("../console/ui.js")),
    ("charts.js", JS, include_str!("../console/charts.js")),
    ("wallet.js", JS, include_str!("../console/wallet.js")),
    (
        "pages/network.js",
        JS,
        include_str!("../console/pages/network.js"),
    ),
    (
        "pages/wallet.js",
        JS,
        include_str!("../console/pages/wallet.js"),
    ),
    (
        "pages/jobs.js",
        JS,
        include_str!("../console/pages/jobs.js"),
    ),
    (
        "pages/nodes.js",
        JS,
        include_str!("../console/pages/nodes.js"),
    ),
    (
        "pages/economy.js",
        JS,
        include_str!("../console/pages/economy.js"),
    ),
    (
        "pages/governance.js",
        JS,
        include_str!("../console/pages/governance.js"),
    ),
    (
        "pages/agents.js",
        JS,
        include_str!("../console/pages/agents.js"),
    ),
];

const SDK: &[Asset] = &[
    ("index.js", JS, include_str!("../../../sdk/js/src/index.js")),
    (
        "blake3.js",
        JS,
        include_str!("../../../sdk/js/src/blake3.js"),
    ),
    ("bytes.js", JS, include_str!("../../../sdk/js/src/bytes.js")),
    (
        "encoding.js",
        JS,
        include_str!("../../../sdk/js/src/encoding.js"),
    ),
    ("keys.js", JS, include_str!("../../../sdk/js/src/keys.js")),
    ("tx.js", JS, include_str!("../../../sdk/js/src/tx.js")),
    (
        "client.js",
        JS,
        include_str!("../../../sdk/js/src/client.js"),
    ),
    (
        "schema.json",
        "application/json",
        include_str!("../../../sdk/js/src/schema.json"),
    ),
];

const INDEX: &str = include_str!("../console/index.html");

const POLICY: &str = "default-src 'self'; connect-src *; img-src 'self' data: blob:; \
                      object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
        ],
        body,
    )
        .into_response()
}

fn find(assets: &[Asset], path: &str) -> Response {
    match assets.iter().find(|(name, _, _)| *name == path) {
        Some((_, content_type, body)) => asset(content_type, body),
        None => (StatusCode::NOT_FOUND, "no such console file").into_response(),
    }
}

/// The console's routes, to merge into the API router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/console/{*path}",
            get(|Path(path): Path<String>| async move { find(CONSOLE, &path) }),
        )
        .route(
            "/sdk/{*path}",
            get(|Path(path): Path<String>| async move { find(SDK, &path) }),
        )
}
