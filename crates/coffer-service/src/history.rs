//! Object history: which version of a policy object (vault, plan,
//! selection, framework, report plan) was in force at a time and who wrote
//! it, and an object's whole history, each version with the ledger entry
//! that commits to it. The catalog keeps the versions (`object_versions`);
//! this decides what a request for a time means and says why nothing is
//! found.

use coffer_catalog::{ObjectKind, ObjectVersion, LEDGERED_OBJECTS};
use jiff::Timestamp;

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::Service;

/// A point in time as a request gives it: an RFC 3339 time, or a date,
/// which means the end of that day in UTC (the last millisecond, the
/// catalog's precision), so a change made that day counts.
///
/// # Errors
/// `InvalidParameterValue` for text that is neither.
pub fn point_in_time(text: &str) -> Result<Timestamp> {
    if let Ok(time) = text.parse::<Timestamp>() {
        return Ok(time);
    }
    let not_a_time = || {
        Error::invalid_parameter(format!(
            "{text:?} is not a time: write an RFC 3339 time (2026-11-24T10:00:00Z) or a date (2026-11-24, meaning the end of that day in UTC)"
        ))
    };
    let date = text
        .parse::<jiff::civil::Date>()
        .map_err(|_| not_a_time())?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(date.at(23, 59, 59, 999_000_000))
        .map_err(|_| not_a_time())
}

/// Refuses a kind whose versions are not kept.
fn check_kept(kind: ObjectKind) -> Result<()> {
    if LEDGERED_OBJECTS.contains(&kind) {
        return Ok(());
    }
    Err(Error::invalid_parameter(format!(
        "the history of {}s is not kept; it is kept for backup vaults, backup plans, backup selections, frameworks and report plans",
        kind.label()
    )))
}

/// The region an object of `kind` is kept under: the caller's, or none for
/// IAM objects (they belong to the account).
fn region_of(kind: ObjectKind, caller: &Caller) -> &str {
    match kind {
        ObjectKind::IamUser | ObjectKind::IamManagedPolicy | ObjectKind::IamRole => {
            crate::stack::IAM_REGION
        }
        _ => caller.region.as_str(),
    }
}

fn no_history(kind: ObjectKind, name: &str, account: &str, region: &str) -> String {
    format!(
        "the history holds no version of {} {name:?} in account {account}, region {region}; check the name (a selection's is PLAN/SELECTION), account and region (an object written before Coffer kept history gets its first version at its stack's next apply)",
        kind.label()
    )
}

/// Who wrote a version and in which entry, in words.
pub fn changed_by(version: &ObjectVersion) -> String {
    let who = match &version.actor {
        Some(actor) => match &actor.os_user {
            Some(user) => format!("{} (user {user})", actor.principal),
            None => actor.principal.clone(),
        },
        None => "an actor the ledger does not name (an entry from before actors)".to_string(),
    };
    format!(
        "{} at {} by {who}, ledger entry {}",
        version.change, version.time, version.ledger_seq
    )
}

impl Service {
    /// The version of the object of `kind` named `name` (in the caller's
    /// account and region; a selection is named `PLAN/SELECTION`) that was
    /// in force at `at`, with who wrote it and the entry that commits to it.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a kind whose history is not kept;
    /// `ResourceNotFound` when it did not exist then (saying when it was
    /// created, or deleted and by whom); catalog failures.
    pub async fn object_at(
        &self,
        caller: &Caller,
        kind: ObjectKind,
        name: &str,
        at: Timestamp,
    ) -> Result<ObjectVersion> {
        self.authorize(caller, Action::GetObjectVersion, Target::Account)?;
        check_kept(kind)?;
        let (account, region) = (caller.account.as_str(), region_of(kind, caller));
        let found = self
            .catalog()
            .object_version_at(kind, account, region, name, at)
            .await?;
        match found {
            Some(version) if !version.is_tombstone() => Ok(version),
            Some(tombstone) => Err(Error::not_found(format!(
                "{} {name:?} did not exist at {at}: it was deleted before then ({}); its earlier versions are in its history",
                kind.label(),
                changed_by(&tombstone)
            ))),
            None => {
                let history = self
                    .catalog()
                    .object_history(kind, account, region, name)
                    .await?;
                Err(Error::not_found(match history.first() {
                    Some(first) => format!(
                        "{} {name:?} did not exist yet at {at}: its first version was written at {}",
                        kind.label(),
                        first.time
                    ),
                    None => no_history(kind, name, account, region),
                }))
            }
        }
    }

    /// Every version of the object of `kind` named `name` (in the caller's
    /// account and region), oldest first, deletions as tombstones.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a kind whose history is not kept;
    /// `ResourceNotFound` when the history holds no version of it; catalog
    /// failures.
    pub async fn object_history(
        &self,
        caller: &Caller,
        kind: ObjectKind,
        name: &str,
    ) -> Result<Vec<ObjectVersion>> {
        self.authorize(caller, Action::ListObjectVersions, Target::Account)?;
        check_kept(kind)?;
        let (account, region) = (caller.account.as_str(), region_of(kind, caller));
        let history = self
            .catalog()
            .object_history(kind, account, region, name)
            .await?;
        if history.is_empty() {
            return Err(Error::not_found(no_history(kind, name, account, region)));
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_means_the_end_of_that_day_in_utc() {
        assert_eq!(
            point_in_time("2026-11-24").unwrap().to_string(),
            "2026-11-24T23:59:59.999Z"
        );
        assert_eq!(
            point_in_time("2026-11-24T10:00:00+01:00")
                .unwrap()
                .to_string(),
            "2026-11-24T09:00:00Z"
        );
        let refused = point_in_time("yesterday").unwrap_err();
        assert_eq!(refused.kind(), crate::ErrorKind::InvalidParameterValue);
        assert!(refused.message().contains("RFC 3339"), "{refused}");
    }
}
