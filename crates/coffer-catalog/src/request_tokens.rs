//! Request tokens of the AWS Backup API's idempotent operations
//! (`CreatorRequestId`, `IdempotencyToken`; migration 0015): the first
//! request carrying a token reserves it before it acts and records its
//! answer after; a retry with the same token gets that answer and acts no
//! more. A request that failed releases its token, so its retry acts.
//!
//! The token of a create request is kept with the ARN of the object it
//! made (migration 0021), so the reads of that object echo it
//! ([`Catalog::tokens_of_created`]).

use sqlx::Row;

use crate::error::Result;
use crate::time::{format_ts, parse_ts};
use crate::Catalog;

/// A token of an operation in an account and region.
#[derive(Clone, Copy, Debug)]
pub struct RequestToken<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub operation: &'a str,
    pub token: &'a str,
}

/// A token kept with the object its request created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatorToken {
    /// The ARN of the object the request created.
    pub arn: String,
    pub token: String,
    /// When the request's answer was recorded (after the object was).
    pub answered_at: jiff::Timestamp,
}

/// The answered tokens of `n` created objects' ARNs.
fn tokens_of_created_sql(n: usize) -> String {
    format!(
        "SELECT created_arn, token, answered_at FROM request_tokens WHERE created_arn IN ({}) AND answered_at IS NOT NULL",
        crate::placeholders(1, n)
    )
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

    /// Records the answer of the request that reserved `token`, and the
    /// ARN of the object it created, if it created one.
    ///
    /// # Errors
    /// Database errors.
    pub async fn answer_request_token(
        &self,
        token: RequestToken<'_>,
        answer: &str,
        created_arn: Option<&str>,
        now: jiff::Timestamp,
    ) -> Result<()> {
        sqlx::query("UPDATE request_tokens SET answer = $1, answered_at = $2, created_arn = $3 WHERE account_id = $4 AND region = $5 AND operation = $6 AND token = $7")
            .bind(answer)
            .bind(format_ts(now))
            .bind(created_arn)
            .bind(token.account_id)
            .bind(token.region)
            .bind(token.operation)
            .bind(token.token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The answered tokens kept with the objects of `arns` (an object
    /// deleted and created again under its ARN has one for each creation
    /// that carried a token), in the order they were answered: one seek
    /// on `request_tokens_by_created_arn` per 500 ARNs.
    ///
    /// # Errors
    /// Database errors, an unreadable time.
    pub async fn tokens_of_created(&self, arns: &[&str]) -> Result<Vec<CreatorToken>> {
        let mut found = Vec::new();
        for chunk in arns.chunks(crate::IN_LIST) {
            let sql = tokens_of_created_sql(chunk.len());
            let mut query = sqlx::query(&sql);
            for arn in chunk {
                query = query.bind(*arn);
            }
            for row in query.fetch_all(&self.pool).await? {
                let arn: String = row.try_get("created_arn")?;
                let answered: String = row.try_get("answered_at")?;
                found.push(CreatorToken {
                    answered_at: parse_ts(
                        &answered,
                        &format!("the answer time of a token of {arn}"),
                    )?,
                    token: row.try_get("token")?,
                    arn,
                });
            }
        }
        found.sort_by_key(|t| t.answered_at);
        Ok(found)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of a page of objects are one seek per ARN on
    /// `request_tokens_by_created_arn`, never a walk of every token.
    #[tokio::test]
    async fn the_tokens_of_objects_are_read_by_the_created_arn_index() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
        let catalog = Catalog::open(&url, jiff::Timestamp::now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let sql = format!("EXPLAIN QUERY PLAN {}", tokens_of_created_sql(3));
        let mut query = sqlx::query(&sql);
        for arn in ["a", "b", "c"] {
            query = query.bind(arn);
        }
        let details: Vec<String> = query
            .fetch_all(&catalog.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|row| row.try_get::<String, _>("detail").unwrap_or_default())
            .collect();
        assert!(
            details
                .iter()
                .any(|d| d.contains("USING INDEX request_tokens_by_created_arn (created_arn=?)")),
            "{details:?}"
        );
    }
}
