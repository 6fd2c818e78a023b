//! Errors on the wire, as AWS answers them: the exception's name in the
//! `x-amzn-ErrorType` header and the body's `__type`, the message as both
//! `message` and `Message`, the error shape's `Code`, and the status of the
//! exception's kind. The service's typed errors map here one to one;
//! internal detail is logged, never answered beyond the service's message
//! (which names no secret).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use coffer_service::{Error, ErrorKind};

/// A refusal or failure the API answers with.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub code: &'static str,
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(code: &'static str, status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            message: message.into(),
        }
    }

    pub(crate) fn kind(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError::new(kind.code(), kind.http_status(), message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::kind(ErrorKind::InvalidParameterValue, message)
    }

    pub(crate) fn missing(message: impl Into<String>) -> ApiError {
        ApiError::kind(ErrorKind::MissingParameterValue, message)
    }

    /// An operation of the model Coffer does not carry out.
    pub(crate) fn not_implemented(operation: &str) -> ApiError {
        ApiError::new(
            "NotImplementedException",
            501,
            format!(
                "Coffer does not implement {operation}; docs/api.md lists the operations it does"
            ),
        )
    }

    /// A request that names no operation of the model.
    pub(crate) fn unknown_operation(method: &str, path: &str) -> ApiError {
        ApiError::new(
            "UnknownOperationException",
            404,
            format!("{method} {path} is no operation of AWS Backup; check the endpoint URL and the service name"),
        )
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        ApiError::kind(error.kind(), error.message())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "__type": self.code,
            "Code": self.code,
            "message": self.message,
            "Message": self.message,
        });
        let mut response = json_response(self.status, &body);
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(self.code));
        response
    }
}

/// A JSON answer (`application/json`, as AWS's REST-JSON services answer).
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_keep_their_aws_name_and_status() {
        let error: ApiError = Error::not_found("there is no vault x").into();
        assert_eq!(error.code, "ResourceNotFoundException");
        assert_eq!(error.status.as_u16(), 404);
        let response = error.into_response();
        assert_eq!(
            response.headers()["x-amzn-ErrorType"],
            "ResourceNotFoundException"
        );
        let conflict: ApiError = Error::conflict("belongs to stack s").into();
        assert_eq!(conflict.code, "ConflictException");
        assert_eq!(
            ApiError::not_implemented("GetBackupPlan").status.as_u16(),
            501
        );
    }
}
