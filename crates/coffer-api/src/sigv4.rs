//! SigV4 verification, as AWS verifies a request: the `Authorization`
//! header read (key, credential scope, signed headers, signature), the
//! scope checked (the `backup` service, a region Coffer knows, the day of
//! `X-Amz-Date`), the time within 15 minutes of now, and the signature
//! computed again over the request as received (its method, path, query,
//! the headers it signed, the SHA-256 of the body it sent) by AWS's own
//! signer (`aws-sigv4`), then compared in constant time.
//!
//! Pre-signed query strings are refused: the API takes signed headers.

use std::time::SystemTime;

use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

/// The service every request must be scoped to.
pub(crate) const SERVICE: &str = "backup";

/// How far a request's time may be from now, either way.
pub(crate) const MAX_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Why a request is refused before (or instead of) an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuthRefusal {
    /// `MissingAuthenticationTokenException`, `InvalidSignatureException`,
    /// `UnrecognizedClientException`.
    pub code: &'static str,
    pub message: String,
}

impl AuthRefusal {
    pub(crate) fn missing() -> AuthRefusal {
        AuthRefusal {
            code: "MissingAuthenticationTokenException",
            message:
                "the request is not signed; sign it with SigV4 and an access key Coffer issued"
                    .into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> AuthRefusal {
        AuthRefusal {
            code: "InvalidSignatureException",
            message: message.into(),
        }
    }

    pub(crate) fn unrecognized(message: impl Into<String>) -> AuthRefusal {
        AuthRefusal {
            code: "UnrecognizedClientException",
            message: message.into(),
        }
    }
}

/// What a request's `Authorization` header claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    pub key_id: String,
    /// The scope's day, `YYYYMMDD`.
    pub day: String,
    pub region: String,
    pub service: String,
    /// Lower-case, in the order given.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// The access key a request names, before anything else is checked: from
/// the `Authorization` header, or a pre-signed query's `X-Amz-Credential`.
pub(crate) fn named_key(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Ok(claim) = read_claim(headers, query) {
        return Some(claim.key_id);
    }
    let query = query?;
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == "X-Amz-Credential").then(|| {
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            value.split('/').next().unwrap_or_default().to_string()
        })
    })
}

/// Reads the `Authorization` header.
///
/// # Errors
/// Missing (an unsigned request), pre-signed, or malformed.
pub(crate) fn read_claim(headers: &HeaderMap, query: Option<&str>) -> Result<Claim, AuthRefusal> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        let presigned = query.is_some_and(|q| {
            q.split('&').any(|pair| {
                pair.starts_with("X-Amz-Signature=") || pair.starts_with("X-Amz-Credential=")
            })
        });
        return Err(if presigned {
            AuthRefusal::invalid("pre-signed query strings are not accepted; sign the request's headers (Authorization) instead")
        } else {
            AuthRefusal::missing()
        });
    };
    let value = value
        .to_str()
        .map_err(|_| AuthRefusal::invalid("the Authorization header is not text"))?;
    let rest = value
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            AuthRefusal::invalid(format!(
                "the Authorization header does not start with {ALGORITHM}; sign the request with SigV4"
            ))
        })?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(AuthRefusal::invalid(
            "the Authorization header lacks Credential, SignedHeaders or Signature",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, day, region, service, terminator] = scope.as_slice() else {
        return Err(AuthRefusal::invalid(format!(
            "the credential {credential:?} is not KEY/YYYYMMDD/REGION/SERVICE/aws4_request"
        )));
    };
    if *terminator != "aws4_request" || key_id.is_empty() {
        return Err(AuthRefusal::invalid(format!(
            "the credential {credential:?} is not KEY/YYYYMMDD/REGION/SERVICE/aws4_request"
        )));
    }
    Ok(Claim {
        key_id: (*key_id).to_string(),
        day: (*day).to_string(),
        region: (*region).to_string(),
        service: (*service).to_string(),
        signed_headers: signed.split(';').map(str::to_ascii_lowercase).collect(),
        signature: signature.to_string(),
    })
}

/// Checks the claim's scope and time: the service is `backup`, the region
/// one of `regions`, `X-Amz-Date` signed, on the scope's day, and within
/// [`MAX_SKEW`] of `now`. Returns the request's time.
///
/// # Errors
/// `InvalidSignatureException` saying which.
pub(crate) fn check_scope(
    claim: &Claim,
    headers: &HeaderMap,
    known_region: impl Fn(&str) -> bool,
    now: jiff::Timestamp,
) -> Result<jiff::Timestamp, AuthRefusal> {
    if claim.service != SERVICE {
        return Err(AuthRefusal::invalid(format!(
            "the credential is scoped to service {:?}; it must be scoped to {SERVICE:?}",
            claim.service
        )));
    }
    if !known_region(&claim.region) {
        return Err(AuthRefusal::invalid(format!(
            "the credential is scoped to region {:?}, which Coffer does not know; use the region the account's vaults are in",
            claim.region
        )));
    }
    for required in ["host", "x-amz-date"] {
        if !claim.signed_headers.iter().any(|h| h == required) {
            return Err(AuthRefusal::invalid(format!(
                "the request does not sign the {required} header; SigV4 requests sign it"
            )));
        }
    }
    let date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AuthRefusal::invalid("the request has no X-Amz-Date header"))?;
    let at = parse_amz_date(date).ok_or_else(|| {
        AuthRefusal::invalid(format!("X-Amz-Date {date:?} is not YYYYMMDDTHHMMSSZ"))
    })?;
    if !date.starts_with(&claim.day) {
        return Err(AuthRefusal::invalid(format!(
            "the credential's day {} is not the day of X-Amz-Date {date}",
            claim.day
        )));
    }
    let skew = now.duration_since(at).abs();
    if skew > MAX_SKEW {
        return Err(AuthRefusal::invalid(format!(
            "Signature expired: the request was signed at {date}, more than 15 minutes from the server's time {}; check the client's clock",
            now.strftime("%Y%m%dT%H%M%SZ")
        )));
    }
    Ok(at)
}

/// `YYYYMMDDTHHMMSSZ` as a time.
fn parse_amz_date(date: &str) -> Option<jiff::Timestamp> {
    let b = date.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() != 16 || !digits(0..8) || b[8] != b'T' || !digits(9..15) || b[15] != b'Z' {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[0..4],
        &date[4..6],
        &date[6..8],
        &date[9..11],
        &date[11..13],
        &date[13..15]
    );
    rfc3339.parse().ok()
}

/// A time as the signer takes it (whole seconds, as SigV4 signs them).
fn system_time(at: jiff::Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(at.as_second()).unwrap_or(0))
}

/// The signature a request should carry, computed again over what was
/// received with the key's secret.
///
/// # Errors
/// `InvalidSignatureException` when a signed header is missing or the
/// request cannot be canonicalised.
#[allow(clippy::too_many_arguments)] // each is one part of the canonical request
pub(crate) fn expected_signature(
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    claim: &Claim,
    body_sha256: &str,
    secret: &str,
    at: jiff::Timestamp,
) -> Result<String, AuthRefusal> {
    let mut signed: Vec<(&str, &str)> = Vec::with_capacity(claim.signed_headers.len());
    for name in &claim.signed_headers {
        let values = headers.get_all(name.as_str());
        let mut any = false;
        for value in values {
            let value = value.to_str().map_err(|_| {
                AuthRefusal::invalid(format!("the signed header {name} is not text"))
            })?;
            signed.push((name.as_str(), value));
            any = true;
        }
        if !any {
            return Err(AuthRefusal::invalid(format!(
                "the signed header {name} is not in the request"
            )));
        }
    }
    if let Some(sent) = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        if sent != body_sha256 && sent != "UNSIGNED-PAYLOAD" {
            return Err(AuthRefusal::invalid(
                "the body's SHA-256 is not the one X-Amz-Content-Sha256 gives: the body changed after signing",
            ));
        }
    }
    let request = SignableRequest::new(
        method,
        path_and_query,
        signed.into_iter(),
        SignableBody::Precomputed(body_sha256.to_string()),
    )
    .map_err(|e| AuthRefusal::invalid(format!("the request cannot be canonicalised: {e}")))?;
    let identity = aws_credential_types::Credentials::new(
        claim.key_id.clone(),
        secret.to_string(),
        None,
        None,
        "coffer-access-key",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Exactly the headers the request signed are given, so none is left out.
    settings.excluded_headers = None;
    settings.signature_location = SignatureLocation::Headers;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&claim.region)
        .name(&claim.service)
        .time(system_time(at))
        .settings(settings)
        .build()
        .map_err(|e| AuthRefusal::invalid(format!("the signature cannot be computed: {e}")))?
        .into();
    let output = sign(request, &params)
        .map_err(|e| AuthRefusal::invalid(format!("the signature cannot be computed: {e}")))?;
    Ok(output.signature().to_string())
}

/// Whether two signatures are the same, in time that does not depend on
/// where they differ.
pub(crate) fn same_signature(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// The SHA-256 of a body, lower-case hex.
pub(crate) fn body_sha256(body: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const KEY: &str = "AKCFTESTTESTTESTTEST";
    const SECRET: &str = "0123456789abcdef0123456789abcdef01234567";

    /// A request signed by AWS's signer as an SDK signs it.
    fn signed(
        method: &str,
        path: &str,
        body: &[u8],
        region: &str,
        service: &str,
        at: jiff::Timestamp,
    ) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:9797"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let identity = aws_credential_types::Credentials::new(KEY, SECRET, None, None, "t").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(system_time(at))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let request = SignableRequest::new(
            method,
            format!("http://127.0.0.1:9797{path}"),
            headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_str().unwrap())),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        for (name, value) in instructions.headers() {
            headers.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn now() -> jiff::Timestamp {
        "2026-12-07T10:00:00Z".parse().unwrap()
    }

    /// The verdict on a request as received.
    fn verify(
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), AuthRefusal> {
        let query = path.split_once('?').map(|(_, q)| q);
        let claim = read_claim(headers, query)?;
        let at = check_scope(&claim, headers, |r| r == "eu-west-1", now())?;
        let expected = expected_signature(
            method,
            path,
            headers,
            &claim,
            &body_sha256(body),
            SECRET,
            at,
        )?;
        if same_signature(&claim.signature, &expected) {
            Ok(())
        } else {
            Err(AuthRefusal::invalid("signature mismatch"))
        }
    }

    #[test]
    fn a_request_signed_by_aws_signer_verifies() {
        let path = "/backup-vaults/primary/recovery-points/arn%3Acoffer%3Abackup%3Aeu-west-1%3A1%3Arecovery-point%3AP?maxResults=5&nextToken=a%2Bb";
        let headers = signed("GET", path, b"", "eu-west-1", "backup", now());
        verify("GET", path, &headers, b"").unwrap();
        let body = br#"{"BackupVaultTags":{"a":"b"}}"#;
        let headers = signed(
            "PUT",
            "/backup-vaults/x",
            body,
            "eu-west-1",
            "backup",
            now(),
        );
        verify("PUT", "/backup-vaults/x", &headers, body).unwrap();
    }

    #[test]
    fn any_change_after_signing_is_refused() {
        let body = br#"{"ResourceArn":"arn:coffer:fs:eu-west-1:1:filesystem/docs"}"#;
        let path = "/backup-jobs";
        let headers = signed("PUT", path, body, "eu-west-1", "backup", now());
        // A byte of the body.
        let mut changed = body.to_vec();
        changed[5] ^= 1;
        assert!(verify("PUT", path, &headers, &changed).is_err());
        // A byte of the signature.
        let mut flipped = headers.clone();
        let auth = flipped["authorization"].to_str().unwrap().to_string();
        let last = auth.chars().last().unwrap();
        let other = if last == '0' { '1' } else { '0' };
        let auth = format!("{}{other}", &auth[..auth.len() - 1]);
        flipped.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        assert!(verify("PUT", path, &flipped, body).is_err());
        // A signed header.
        let mut header = headers.clone();
        header.insert("content-type", HeaderValue::from_static("application/jsoN"));
        assert!(verify("PUT", path, &header, body).is_err());
        // The date.
        let mut date = headers.clone();
        let later = now()
            .checked_add(jiff::SignedDuration::from_secs(1))
            .unwrap();
        date.insert(
            "x-amz-date",
            HeaderValue::from_str(&later.strftime("%Y%m%dT%H%M%SZ").to_string()).unwrap(),
        );
        assert!(verify("PUT", path, &date, body).is_err());
        // The path and the method.
        assert!(verify("PUT", "/backup-jobs/", &headers, body).is_err());
        assert!(verify("POST", path, &headers, body).is_err());
        verify("PUT", path, &headers, body).unwrap();
    }

    #[test]
    fn scope_and_time_are_checked() {
        let old = now()
            .checked_sub(jiff::SignedDuration::from_mins(16))
            .unwrap();
        let headers = signed("GET", "/backup-vaults/", b"", "eu-west-1", "backup", old);
        let refused = verify("GET", "/backup-vaults/", &headers, b"").unwrap_err();
        assert!(refused.message.contains("Signature expired"), "{refused:?}");
        let recent = now()
            .checked_sub(jiff::SignedDuration::from_mins(14))
            .unwrap();
        let headers = signed("GET", "/backup-vaults/", b"", "eu-west-1", "backup", recent);
        verify("GET", "/backup-vaults/", &headers, b"").unwrap();
        let headers = signed("GET", "/backup-vaults/", b"", "eu-west-1", "s3", now());
        let refused = verify("GET", "/backup-vaults/", &headers, b"").unwrap_err();
        assert!(refused.message.contains("service \"s3\""), "{refused:?}");
        let headers = signed("GET", "/backup-vaults/", b"", "us-east-1", "backup", now());
        let refused = verify("GET", "/backup-vaults/", &headers, b"").unwrap_err();
        assert!(
            refused.message.contains("region \"us-east-1\""),
            "{refused:?}"
        );
    }

    #[test]
    fn unsigned_and_presigned_requests_are_refused() {
        let headers = HeaderMap::new();
        assert_eq!(
            read_claim(&headers, None).unwrap_err().code,
            "MissingAuthenticationTokenException"
        );
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKCFX%2F20261207%2Feu-west-1%2Fbackup%2Faws4_request&X-Amz-Signature=00";
        let refused = read_claim(&headers, Some(query)).unwrap_err();
        assert_eq!(refused.code, "InvalidSignatureException");
        assert_eq!(named_key(&headers, Some(query)).as_deref(), Some("AKCFX"));
    }
}
