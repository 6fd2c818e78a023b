//! Operations answered once per request token (`CreatorRequestId`,
//! `IdempotencyToken`): the service keeps each token with the first
//! answer, and a retry with the same token gets that answer without the
//! operation acting again.

use std::future::Future;

use coffer_service::requests::Once;
use coffer_service::{Caller, Service};

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
                if let Err(error) = service
                    .answer_request(caller, operation, token, &answer)
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
