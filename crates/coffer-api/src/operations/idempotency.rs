//! Operations answered once per request token (`CreatorRequestId`,
//! `IdempotencyToken`): the service keeps each token with the first
//! answer, and a retry with the same token gets that answer without the
//! operation acting again. The answer of a create request names the
//! object it made, which the service keeps with the token, so the
//! object's reads echo its `CreatorRequestId`.

use std::future::Future;

use coffer_service::requests::{Created, Once};
use coffer_service::{Caller, Service};
use serde_json::Value;

use super::Answer;
use crate::input::Input;

/// Carries out `act` once per value of the token `member` of `operation`'s
/// input; without a token, every time.
pub(super) async fn once<Fut>(
    service: &Service,
    caller: &Caller,
    input: &Input,
    operation: &str,
    member: &str,
    act: impl FnOnce() -> Fut,
) -> Answer
where
    Fut: Future<Output = Answer>,
{
    let Some(token) = input.str(member)? else {
        return act().await;
    };
    let parameters = input.members_except(member);
    match service
        .begin_request(caller, operation, token, &parameters)
        .await?
    {
        Once::Answered(answer) => Ok(answer),
        Once::Act => match act().await {
            Ok(answer) => {
                let made = created(operation, &answer);
                if let Err(error) = service
                    .answer_request(caller, operation, token, &answer, made.as_ref())
                    .await
                {
                    // The operation acted: its answer stands; a retry with
                    // this token is refused as in progress rather than
                    // acting twice.
                    tracing::warn!(%operation, %error, "the answer of an idempotent request was not kept");
                }
                Ok(answer)
            }
            Err(refused) => {
                if let Err(error) = service.release_request(caller, operation, token).await {
                    tracing::warn!(%operation, %error, "the token of a failed request was not released");
                }
                Err(refused)
            }
        },
    }
}

/// The object the answer of create request `operation` names (the
/// operations whose reads echo their `CreatorRequestId`).
fn created(operation: &str, answer: &Value) -> Option<Created> {
    let member = |name: &str| answer.get(name).and_then(Value::as_str).map(String::from);
    Some(match operation {
        "CreateBackupVault" => Created::BackupVault {
            name: member("BackupVaultName")?,
        },
        "CreateBackupPlan" => Created::BackupPlan {
            plan_id: member("BackupPlanId")?,
        },
        "CreateBackupSelection" => Created::BackupSelection {
            plan_id: member("BackupPlanId")?,
            selection_id: member("SelectionId")?,
        },
        "CreateRestoreTestingPlan" => Created::RestoreTestingPlan {
            name: member("RestoreTestingPlanName")?,
        },
        "CreateRestoreTestingSelection" => Created::RestoreTestingSelection {
            plan: member("RestoreTestingPlanName")?,
            selection: member("RestoreTestingSelectionName")?,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_answers_name_the_object_they_made() {
        let selection = serde_json::json!({"SelectionId": "all", "BackupPlanId": "nightly", "CreationDate": 1.0});
        assert_eq!(
            created("CreateBackupSelection", &selection),
            Some(Created::BackupSelection {
                plan_id: "nightly".into(),
                selection_id: "all".into()
            })
        );
        let vault = serde_json::json!({"BackupVaultName": "primary"});
        assert_eq!(
            created("CreateBackupVault", &vault),
            Some(Created::BackupVault {
                name: "primary".into()
            })
        );
        // Other operations with a token make nothing a read echoes it for.
        assert_eq!(
            created("StartBackupJob", &serde_json::json!({"BackupJobId": "j"})),
            None
        );
    }
}
