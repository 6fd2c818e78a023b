//! Request tokens of the AWS Backup API's idempotent operations
//! (`CreatorRequestId`, `IdempotencyToken`; migration 0015): the first
//! request carrying a token reserves it before it acts and records its
//! answer after; a retry with the same token gets that answer and acts no
//! more. A request that failed releases its token, so its retry acts.

use sqlx::Row;

use crate::error::Result;
use crate::time::format_ts;
use crate::Catalog;

/// A token of an operation in an account and region.
#[derive(Clone, Copy, Debug)]
pub struct RequestToken<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub operation: &'a str,
    pub token: &'a str,
}

/// What reserving a token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenReservation {
    /// The token is new and now reserved: act, then record the answer.
    Reserved,
    /// A request with this token was answered: its answer, as recorded.
    Answered(String),
    /// A request with this token is acting now.
    InProgress,
    /// The token was first carried by a request with other parameters.
    OtherParameters,
}

impl Catalog {
    /// Reserves `token` for a request of `principal` whose parameters
    /// have the SHA-256 `request_sha256`, or says what an earlier request
    /// with it came to (or that it had other parameters).
    ///
    /// # Errors
    /// Database errors.
    pub async fn reserve_request_token(
        &self,
        token: RequestToken<'_>,
        request_sha256: &str,
        principal: &str,
        now: jiff::Timestamp,
    ) -> Result<TokenReservation> {
        let mut tx = self.begin_write().await?;
        let found = sqlx::query("SELECT answer, request_sha256 FROM request_tokens WHERE account_id = $1 AND region = $2 AND operation = $3 AND token = $4")
            .bind(token.account_id)
            .bind(token.region)
            .bind(token.operation)
            .bind(token.token)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = found {
            tx.rollback().await?;
            let first: Option<String> = row.try_get("request_sha256")?;
            if first.is_some_and(|first| first != request_sha256) {
                return Ok(TokenReservation::OtherParameters);
            }
            let answer: Option<String> = row.try_get("answer")?;
            return Ok(answer.map_or(TokenReservation::InProgress, TokenReservation::Answered));
        }
        let inserted = sqlx::query("INSERT INTO request_tokens (account_id, region, operation, token, principal, answer, created_at, answered_at, request_sha256) VALUES ($1, $2, $3, $4, $5, NULL, $6, NULL, $7)")
            .bind(token.account_id)
            .bind(token.region)
            .bind(token.operation)
            .bind(token.token)
            .bind(principal)
            .bind(format_ts(now))
            .bind(request_sha256)
            .execute(&mut *tx)
            .await;
        match inserted {
            Ok(_) => {}
            // Another request reserved it between the read and the insert.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                tx.rollback().await?;
                return Ok(TokenReservation::InProgress);
            }
            Err(other) => return Err(other.into()),
        }
        tx.commit().await?;
        Ok(TokenReservation::Reserved)
    }

    /// Records the answer of the request that reserved `token`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn answer_request_token(
        &self,
        token: RequestToken<'_>,
        answer: &str,
        now: jiff::Timestamp,
    ) -> Result<()> {
        sqlx::query("UPDATE request_tokens SET answer = $1, answered_at = $2 WHERE account_id = $3 AND region = $4 AND operation = $5 AND token = $6")
            .bind(answer)
            .bind(format_ts(now))
            .bind(token.account_id)
            .bind(token.region)
            .bind(token.operation)
            .bind(token.token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Releases a token whose request failed (only while unanswered), so
    /// a retry acts again.
    ///
    /// # Errors
    /// Database errors.
    pub async fn release_request_token(&self, token: RequestToken<'_>) -> Result<()> {
        sqlx::query("DELETE FROM request_tokens WHERE account_id = $1 AND region = $2 AND operation = $3 AND token = $4 AND answer IS NULL")
            .bind(token.account_id)
            .bind(token.region)
            .bind(token.operation)
            .bind(token.token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
