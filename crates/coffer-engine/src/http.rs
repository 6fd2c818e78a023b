//! The daemon's HTTP endpoints: `/metrics` (Prometheus text, every series
//! `coffer_*`) and `/healthz` (JSON; 503 when the loop has stalled).

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use coffer_model::Resource;
use jiff::SignedDuration;

use crate::daemon::{plan_span, Health};
use crate::env::Env;
use crate::error::{Error, Result};

/// What the endpoints read.
#[derive(Clone, Debug)]
pub struct HttpState {
    pub env: Env,
    pub health: Arc<Mutex<Health>>,
    pub resources: Arc<Mutex<Vec<Resource>>>,
}

/// Binds `addr` (so a taken port fails before the scheduler starts).
///
/// # Errors
/// When the address cannot be bound.
pub async fn bind(addr: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen {
            addr: addr.to_string(),
            source,
        })
}

/// Serves the endpoints on `listener` until `shutdown` completes, with
/// `api` (the AWS Backup API's router, or an empty one) beside them; each
/// request carries its peer's address (`ConnectInfo`).
///
/// # Errors
/// When serving fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    api: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(state)
        .merge(api);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|source| Error::Listen { addr, source })
}

async fn metrics(State(state): State<HttpState>) -> Response {
    match render(&state).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot render /metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the metrics could not be read from the catalog; see the daemon's log\n",
            )
                .into_response()
        }
    }
}

async fn render(state: &HttpState) -> Result<String> {
    let resources = state
        .resources
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let now = state.env.now();
    // A week ahead: every rule that fires at most weekly shows its next time.
    let until = now
        .checked_add(SignedDuration::from_hours(24 * 7))
        .unwrap_or(now);
    // Every resource known now existed before any time to come.
    let since = std::collections::BTreeMap::new();
    let upcoming = plan_span(&state.env, &resources, &since, now, until).await?;
    let snapshot = crate::metrics::Snapshot::read(&state.env.catalog, upcoming).await?;
    crate::metrics::render(&snapshot).map_err(|e| Error::Task(e.to_string()))
}

async fn healthz(State(state): State<HttpState>) -> Response {
    let health = state
        .health
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let now = state.env.now();
    // The loop ticks every second; two minutes without a tick is a stall.
    let stalled = health
        .last_tick
        .is_none_or(|t| now.duration_since(t) > SignedDuration::from_mins(2));
    let status = if stalled {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = serde_json::json!({
        "Status": if stalled { "STALLED" } else { "OK" },
        "Health": health,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
