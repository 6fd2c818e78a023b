//! Idempotent requests of the AWS Backup API: a request carrying a
//! `CreatorRequestId` (CreateBackupVault, CreateBackupPlan,
//! CreateBackupSelection) or an `IdempotencyToken` (StartBackupJob,
//! StartRestoreJob, CreateLegalHold) is answered once; a retry with the
//! same token in the same account and region gets the first answer and
//! creates nothing (as AWS does). Tokens are kept in the catalog
//! (`request_tokens`), so a retry after a restart is answered the same.
//! The token is reserved before the request acts, so two retries at once
//! cannot both act: the second is a retryable Conflict until the first
//! ends; a request that fails releases its token. A token sent again with
//! other parameters is refused (InvalidParameterValue, which every one of
//! these operations lists) and changes nothing.
//!
//! The token of a create request carrying a `CreatorRequestId` is kept
//! with the ARN of the object it made, and the reads of that object echo
//! it (DescribeBackupVault, ListBackupVaults, GetBackupPlan,
//! ListBackupPlans, ListBackupPlanVersions, GetBackupSelection,
//! ListBackupSelections, GetRestoreTestingPlan, GetRestoreTestingSelection),
//! as AWS does: the reads look the tokens of the objects they answer with
//! up together ([`Service::fill_creator_request_ids`]). A token counts for
//! the object's life it was answered in, so an object deleted and created
//! again without a token echoes none; a stack's object never has one.

use coffer_catalog::{ObjectKind, RequestToken, TokenReservation};

use crate::caller::Caller;
use crate::error::{Error, ErrorKind, Result};
use crate::Service;

/// The longest token Coffer keeps.
pub const MAX_TOKEN_CHARS: usize = 1024;

/// What a request carrying a token is to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Once {
    /// The token is new: act, then [`Service::answer_request`].
    Act,
    /// A request with this token was answered: answer the same.
    Answered(serde_json::Value),
}

/// The object a create request made, as its answer names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    BackupVault {
        name: String,
    },
    BackupPlan {
        plan_id: String,
    },
    BackupSelection {
        plan_id: String,
        selection_id: String,
    },
    RestoreTestingPlan {
        name: String,
    },
    RestoreTestingSelection {
        plan: String,
        selection: String,
    },
}

impl Created {
    /// Its kind and name in the catalog.
    fn key(&self) -> (ObjectKind, String) {
        match self {
            Created::BackupVault { name } => (ObjectKind::BackupVault, name.clone()),
            // A plan's ID is its name, a selection's its name too.
            Created::BackupPlan { plan_id } => (ObjectKind::BackupPlan, plan_id.clone()),
            Created::BackupSelection {
                plan_id,
                selection_id,
            } => (
                ObjectKind::BackupSelection,
                crate::plans::selection_key(plan_id, selection_id),
            ),
            Created::RestoreTestingPlan { name } => (ObjectKind::RestoreTestingPlan, name.clone()),
            Created::RestoreTestingSelection { plan, selection } => (
                ObjectKind::RestoreTestingSelection,
                crate::stack::restore_testing_selection_name_key(plan, selection),
            ),
        }
    }
}

/// The life of an object a read answers with: its ARN, when it was
/// created, and when it was deleted (for a deleted plan's versions).
#[derive(Clone, Debug)]
pub(crate) struct Life {
    pub arn: String,
    pub created: jiff::Timestamp,
    pub deleted: Option<jiff::Timestamp>,
}

fn request_token<'a>(caller: &'a Caller, operation: &'a str, token: &'a str) -> RequestToken<'a> {
    RequestToken {
        account_id: caller.account.as_str(),
        region: caller.region.as_str(),
        operation,
        token,
    }
}

/// The SHA-256 of a request's parameters, whatever the order of its
/// members.
fn parameters_sha256(parameters: &serde_json::Value) -> String {
    fn canonical(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::Object(members) => {
                let mut sorted: Vec<_> = members.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (name, member)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(name.clone()).to_string());
                    out.push(':');
                    canonical(member, out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(parameters, &mut text);
    coffer_catalog::ledger::sha256_hex(text.as_bytes())
}

impl Service {
    /// Reserves `token` of `operation` for the caller's request with
    /// `parameters` (its other input members), or gives the answer of the
    /// request that carried it first.
    ///
    /// # Errors
    /// `InvalidParameterValue` for an empty or overlong token, or a token
    /// first carried by a request with other parameters (nothing is done);
    /// a retryable `Conflict` while a request with the token is acting.
    pub async fn begin_request(
        &self,
        caller: &Caller,
        operation: &str,
        token: &str,
        parameters: &serde_json::Value,
    ) -> Result<Once> {
        if token.is_empty() || token.chars().count() > MAX_TOKEN_CHARS {
            return Err(Error::invalid_parameter(format!(
                "the {operation} request token must be 1 to {MAX_TOKEN_CHARS} characters"
            )));
        }
        let found = self
            .catalog()
            .reserve_request_token(
                request_token(caller, operation, token),
                &parameters_sha256(parameters),
                &caller.principal,
                self.now(),
            )
            .await?;
        match found {
            TokenReservation::Reserved => Ok(Once::Act),
            TokenReservation::Answered(text) => Ok(Once::Answered(serde_json::from_str(&text)?)),
            TokenReservation::OtherParameters => Err(Error::invalid_parameter(format!(
                "the {operation} request token {token:?} was first sent with other parameters; a retry must repeat the request unchanged, and a different request needs a token of its own"
            ))),
            TokenReservation::InProgress => Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "a {operation} request with the token {token:?} is still being carried out; retry it when that one has ended"
                ),
            )),
        }
    }

    /// Records the answer of the request that reserved `token`, with the
    /// object it `created` (when it is a create request), so the object's
    /// reads echo the token.
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn answer_request(
        &self,
        caller: &Caller,
        operation: &str,
        token: &str,
        answer: &serde_json::Value,
        created: Option<&Created>,
    ) -> Result<()> {
        let created_arn = match created {
            None => None,
            Some(created) => {
                let (kind, name) = created.key();
                self.catalog()
                    .stored_object(kind, caller.account.as_str(), caller.region.as_str(), &name)
                    .await?
                    .map(|stored| stored.arn)
            }
        };
        self.catalog()
            .answer_request_token(
                request_token(caller, operation, token),
                &answer.to_string(),
                created_arn.as_deref(),
                self.now(),
            )
            .await?;
        Ok(())
    }

    /// Sets the `CreatorRequestId` of each of `items` whose `life` is
    /// given (objects of no stack) to the token of the request that
    /// created it in that life, if one carried a token: the tokens of all
    /// of them read together (one query per 500 objects, never one per
    /// item).
    ///
    /// # Errors
    /// Catalog failures.
    pub(crate) async fn fill_creator_request_ids<T>(
        &self,
        items: &mut [T],
        life: impl Fn(&T) -> Option<Life>,
        set: impl Fn(&mut T, String),
    ) -> Result<()> {
        let lives: Vec<Option<Life>> = items.iter().map(&life).collect();
        let arns: Vec<&str> = lives.iter().flatten().map(|l| l.arn.as_str()).collect();
        if arns.is_empty() {
            return Ok(());
        }
        let tokens = self.catalog().tokens_of_created(&arns).await?;
        for (item, life) in items.iter_mut().zip(&lives) {
            let Some(life) = life else { continue };
            // The token answered first within the life: the request that
            // created it (the answer is recorded just after the object).
            let found = tokens.iter().find(|t| {
                t.arn == life.arn
                    && t.answered_at >= life.created
                    && life.deleted.is_none_or(|deleted| t.answered_at <= deleted)
            });
            if let Some(found) = found {
                set(item, found.token.clone());
            }
        }
        Ok(())
    }

    /// Releases the token of a request that failed, so its retry acts.
    ///
    /// # Errors
    /// Catalog failures.
    pub async fn release_request(
        &self,
        caller: &Caller,
        operation: &str,
        token: &str,
    ) -> Result<()> {
        self.catalog()
            .release_request_token(request_token(caller, operation, token))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_compared_whatever_their_order() {
        let a = serde_json::json!({"A": 1, "B": {"x": [1, 2], "y": "z"}});
        let b = serde_json::json!({"B": {"y": "z", "x": [1, 2]}, "A": 1});
        assert_eq!(parameters_sha256(&a), parameters_sha256(&b));
        let c = serde_json::json!({"A": 1, "B": {"x": [2, 1], "y": "z"}});
        assert_ne!(parameters_sha256(&a), parameters_sha256(&c));
    }
}
