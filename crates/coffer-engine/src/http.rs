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

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A TCP listener whose connections speak TLS (rustls with ring), for
/// [`serve`]: a connection whose handshake fails or takes longer than
/// [`HANDSHAKE_TIMEOUT`] is dropped and the next one accepted.
pub struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("tcp", &self.tcp)
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Serves TLS on `tcp` with the PEM certificate chain and key of `files`.
    ///
    /// # Errors
    /// `Tls` when the files cannot be read or do not make a certificate
    /// and its key.
    pub fn new(
        tcp: tokio::net::TcpListener,
        files: &coffer_model::TlsFiles,
    ) -> Result<TlsListener> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let refused = |reason: String| Error::Tls {
            certificate: files.certificate.clone(),
            key: files.key.clone(),
            reason,
        };
        let certificates = CertificateDer::pem_file_iter(&files.certificate)
            .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| refused(format!("the certificate cannot be read: {e}")))?;
        if certificates.is_empty() {
            return Err(refused("the certificate file holds no certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_file(&files.key)
            .map_err(|e| refused(format!("the key cannot be read: {e}")))?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| refused(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .map_err(|e| refused(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsListener {
            tcp,
            acceptor: tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)),
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, peer) = match self.tcp.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait, then go on.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
                Ok(Ok(tls)) => return (tls, peer),
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

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
pub async fn serve<L>(
    listener: L,
    state: HttpState,
    api: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(state)
        .merge(api);
    // Tapped (doing nothing) so any listener's connections carry their
    // peer's address as `ConnectInfo<SocketAddr>`.
    let listener = axum::serve::ListenerExt::tap_io(listener, |_: &mut L::Io| {});
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
