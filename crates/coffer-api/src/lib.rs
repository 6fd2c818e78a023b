//! The AWS Backup API: AWS's REST-JSON protocol on the paths, methods,
//! query strings and JSON shapes of the service model, so
//! `aws backup --endpoint-url URL` and `boto3.client("backup",
//! endpoint_url=URL)` work unchanged against `coffer serve`.
//!
//! This crate translates only: each request is authenticated (SigV4 with
//! an access key Coffer issued, `sigv4.rs`), routed by the model's table
//! (`table.rs`), its members read into typed arguments, and handed to
//! `coffer-service`, which decides and authorizes as it does for the CLI;
//! the typed result is written back in the model's output shape
//! (`operations.rs`), a typed error as AWS's error shape (`error.rs`).
//! Every operation of the model Coffer does not carry out answers
//! `NotImplementedException` (501) naming it.
//!
//! ```no_run
//! # async fn run(service: coffer_service::Service) {
//! let app = coffer_api::router(service);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
//!     .await
//!     .unwrap();
//! # }
//! ```

mod error;
mod input;
mod operations;
mod sigv4;
mod table;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Router;
use coffer_model::Region;
use coffer_service::access_keys::{KeyRefusal, Refused};
use coffer_service::{Caller, Service};

use crate::error::ApiError;
use crate::sigv4::AuthRefusal;

/// The largest request body read (the model's largest inputs, plans and
/// policies, are far smaller).
const MAX_BODY: usize = 2 * 1024 * 1024;

/// How often a key's last use is written (a use within this of the last
/// written one is not written again).
const NOTE_USE_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_mins(1);

/// What the API's requests share.
#[derive(Debug)]
struct Api {
    service: Service,
    /// When each key's use was last written.
    noted: Mutex<HashMap<String, jiff::Timestamp>>,
}

/// The API's router: every request it is given is an AWS Backup request
/// (mount it as the fallback beside other routes). Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so refusals name
/// the peer.
pub fn router(service: Service) -> Router {
    let api = Arc::new(Api {
        service,
        noted: Mutex::new(HashMap::new()),
    });
    Router::new().fallback(handle).with_state(api)
}

async fn handle(State(api): State<Arc<Api>>, request: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let span = tracing::info_span!("api", %request_id, %method, %path);
    let _entered = span.enter();
    let mut response = match api.serve(request).await {
        Ok(response) => response,
        Err(error) => {
            tracing::info!(code = error.code, status = error.status.as_u16(), "refused");
            error.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-RequestId", value);
    }
    response
}

impl Api {
    async fn serve(&self, request: Request) -> Result<Response, ApiError> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown peer".to_string(), |c| c.0.ip().to_string());
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
            ApiError::new(
                "RequestEntityTooLargeException",
                413,
                format!("the request body is larger than {MAX_BODY} bytes or could not be read"),
            )
        })?;
        let caller = self.authenticate(&parts, &body, &peer).await?;
        let path = parts.uri.path();
        let Some(matched) = table::Table::get().find(parts.method.as_str(), path) else {
            return Err(ApiError::unknown_operation(parts.method.as_str(), path));
        };
        let operation = matched.operation;
        tracing::info!(operation = %operation.name, principal = %caller.principal, region = %caller.region, "request");
        let input = input::Input::read(&matched, parts.uri.query(), &body)?;
        let Some(output) =
            operations::dispatch(&self.service, &caller, &operation.name, &input).await
        else {
            return Err(ApiError::not_implemented(&operation.name));
        };
        let output = output?;
        let status = axum::http::StatusCode::from_u16(operation.status)
            .unwrap_or(axum::http::StatusCode::OK);
        if status == axum::http::StatusCode::NO_CONTENT {
            return Ok(status.into_response());
        }
        Ok(error::json_response(status, &output))
    }

    /// The caller a signed request acts as, or its refusal (recorded).
    async fn authenticate(
        &self,
        parts: &axum::http::request::Parts,
        body: &[u8],
        peer: &str,
    ) -> Result<Caller, ApiError> {
        let query = parts.uri.query();
        let claim = match sigv4::read_claim(&parts.headers, query) {
            Ok(claim) => claim,
            Err(refusal) => {
                let named = sigv4::named_key(&parts.headers, query);
                return Err(self.refuse(refusal, peer, named.as_deref()).await);
            }
        };
        let key = match self.service.signing_key(&claim.key_id).await? {
            Ok(key) => key,
            Err(KeyRefusal::Unknown) => {
                let refusal = AuthRefusal::unrecognized(format!(
                    "the access key {} is not one Coffer issued",
                    claim.key_id
                ));
                // An unknown key is no one's: the peer's address is the source.
                return Err(self.refuse(refusal, peer, None).await);
            }
            Err(KeyRefusal::Disabled) => {
                let refusal = AuthRefusal::unrecognized(format!(
                    "the access key {} is Inactive; make it Active or use another",
                    claim.key_id
                ));
                return Err(self.refuse(refusal, peer, Some(&claim.key_id)).await);
            }
        };
        let now = self.service.now();
        let checked = sigv4::check_scope(&claim, &parts.headers, |r| key.regions.contains(r), now)
            .and_then(|at| {
                let path_and_query = parts
                    .uri
                    .path_and_query()
                    .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
                let expected = sigv4::expected_signature(
                    parts.method.as_str(),
                    &path_and_query,
                    &parts.headers,
                    &claim,
                    &sigv4::body_sha256(body),
                    key.secret.expose(),
                    at,
                )?;
                if sigv4::same_signature(&claim.signature, &expected) {
                    Ok(())
                } else {
                    Err(AuthRefusal::invalid(
                        "the request signature Coffer calculated does not match the signature provided; check the access key's secret and how the request is signed",
                    ))
                }
            });
        if let Err(refusal) = checked {
            return Err(self.refuse(refusal, peer, Some(&key.access_key_id)).await);
        }
        let region = Region::new(&claim.region)
            .map_err(|e| ApiError::invalid(format!("the credential's region: {e}")))?;
        self.note_use(&key.access_key_id, region.as_str(), now)
            .await;
        Ok(self.service.api_caller(&key, region))
    }

    /// Records a refusal (counted, rate-limited) and gives its answer.
    async fn refuse(&self, refusal: AuthRefusal, peer: &str, key: Option<&str>) -> ApiError {
        let source = key.map_or_else(|| peer.to_string(), str::to_string);
        tracing::warn!(code = refusal.code, %source, %peer, reason = %refusal.message, "request refused");
        let recorded = self
            .service
            .record_refusal(&Refused {
                source: &source,
                reason: refusal.code,
                detail: &refusal.message,
            })
            .await;
        if let Err(error) = recorded {
            tracing::error!(%error, "the refusal could not be recorded");
        }
        ApiError::new(refusal.code, 403, refusal.message)
    }

    /// Writes a key's last use, at most once a minute a key.
    async fn note_use(&self, key_id: &str, region: &str, now: jiff::Timestamp) {
        let due = {
            let mut noted = self.noted.lock().unwrap_or_else(PoisonError::into_inner);
            let due = noted
                .get(key_id)
                .is_none_or(|last| now.duration_since(*last) >= NOTE_USE_EVERY);
            if due {
                noted.insert(key_id.to_string(), now);
            }
            due
        };
        if due {
            if let Err(error) = self.service.note_key_use(key_id, region).await {
                tracing::warn!(%error, key_id, "the key's last use could not be written");
            }
        }
    }
}
