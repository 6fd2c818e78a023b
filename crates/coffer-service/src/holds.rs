//! Legal holds: they pin recovery points against deletion, expiry and
//! lifecycle changes while they are active.

use coffer_model::{
    Arn, LegalHold, LegalHoldStatus, RecoveryPointSelection, MAX_ACTIVE_LEGAL_HOLDS,
};

use coffer_catalog::Condition;
use coffer_model::RecoveryPoint;

use crate::caller::{Action, Caller, Target};
use crate::error::{Error, Result};
use crate::paging::{record_token, PageRequest, Paged};
use crate::Service;

impl Service {
    /// Creates an active legal hold over the points `selection` covers.
    ///
    /// # Errors
    /// `LimitExceeded` at AWS's limit of active holds;
    /// `InvalidParameterValue` for a hold AWS would refuse.
    pub async fn create_legal_hold(
        &self,
        caller: &Caller,
        title: &str,
        description: &str,
        selection: RecoveryPointSelection,
    ) -> Result<LegalHold> {
        self.authorize(caller, Action::CreateLegalHold, Target::Account)?;
        let active = self
            .legal_holds()
            .await?
            .iter()
            .filter(|h| h.status.pins())
            .count();
        if active >= MAX_ACTIVE_LEGAL_HOLDS {
            return Err(Error::limit(format!(
                "{active} legal holds are active, the most AWS Backup allows ({MAX_ACTIVE_LEGAL_HOLDS}); cancel one first"
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let now = self.now();
        let hold = LegalHold {
            legal_hold_arn: Arn::legal_hold(&caller.region, &caller.account, &id).to_string(),
            legal_hold_id: id,
            title: title.to_string(),
            description: description.to_string(),
            status: LegalHoldStatus::Active,
            recovery_point_selection: selection,
            creation_date: now,
            cancellation_date: None,
            cancel_description: None,
            retain_record_until: None,
        };
        if let Some(finding) = hold.validate().into_iter().next() {
            return Err(Error::invalid_parameter(format!("legal hold: {finding}")));
        }
        self.catalog_for(caller).insert(&hold, now).await?;
        Ok(hold)
    }

    /// Every legal hold.
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn list_legal_holds(&self, caller: &Caller) -> Result<Vec<LegalHold>> {
        self.authorize(caller, Action::ListLegalHolds, Target::Account)?;
        self.legal_holds().await
    }

    /// The legal holds of the caller's account and region, oldest first,
    /// a page at a time (ListLegalHolds).
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad page request; catalog errors.
    pub async fn legal_holds_page(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Paged<LegalHold>> {
        self.authorize(caller, Action::ListLegalHolds, Target::Account)?;
        let listing = "ListLegalHolds";
        let limit = page.limit()?;
        let after = page.after_record(listing)?;
        let here = [
            Condition::eq("account_id", caller.account.as_str()),
            Condition::eq("region", caller.region.as_str()),
        ];
        let found = self
            .catalog()
            .records_page::<LegalHold>(&here, after.as_ref(), limit)
            .await?;
        Ok(Paged {
            items: found.items.into_iter().map(|s| s.record).collect(),
            next_token: found.next.map(|cursor| record_token(listing, &cursor)),
        })
    }

    /// One legal hold of the caller's account and region (GetLegalHold).
    ///
    /// # Errors
    /// `ResourceNotFound`.
    pub async fn legal_hold(&self, caller: &Caller, id: &str) -> Result<LegalHold> {
        self.authorize(caller, Action::ListLegalHolds, Target::Account)?;
        let here = |hold: &LegalHold| {
            Arn::parse(&hold.legal_hold_arn).is_ok_and(|a| {
                a.account() == caller.account.as_str() && a.region() == caller.region.as_str()
            })
        };
        match self.catalog().get::<LegalHold>(id).await? {
            Some(stored) if here(&stored.record) => Ok(stored.record),
            _ => Err(Error::not_found(format!(
                "there is no legal hold {id} in account {}, region {}",
                caller.account, caller.region
            ))),
        }
    }

    /// The live recovery points a legal hold of the caller's covers,
    /// oldest first, a page at a time (ListRecoveryPointsByLegalHold; a
    /// page may hold fewer than asked, its token still says where the next
    /// starts).
    ///
    /// # Errors
    /// `ResourceNotFound` for the hold; `InvalidParameterValue` for a bad
    /// page request.
    pub async fn points_under_hold(
        &self,
        caller: &Caller,
        id: &str,
        page: &PageRequest,
    ) -> Result<Paged<RecoveryPoint>> {
        let hold = self.legal_hold(caller, id).await?;
        self.authorize(caller, Action::ListRecoveryPoints, Target::Account)?;
        let listing = "ListRecoveryPointsByLegalHold";
        let limit = page.limit()?;
        let after = page.after_record(listing)?;
        let here = [
            Condition::eq("account_id", caller.account.as_str()),
            Condition::eq("region", caller.region.as_str()),
            Condition::ne("status", "DELETED"),
        ];
        let found = self
            .catalog()
            .records_page::<RecoveryPoint>(&here, after.as_ref(), limit)
            .await?;
        let selection = &hold.recovery_point_selection;
        Ok(Paged {
            items: found
                .items
                .into_iter()
                .map(|s| s.record)
                .filter(|p| {
                    selection.covers(&p.backup_vault_name, &p.resource_arn, p.creation_date)
                })
                .collect(),
            next_token: found.next.map(|cursor| record_token(listing, &cursor)),
        })
    }

    /// Cancels an active legal hold, saying why (the record is kept).
    ///
    /// # Errors
    /// `ResourceNotFound`, `InvalidRequest` for a hold already ended,
    /// `MissingParameterValue` without a reason.
    pub async fn cancel_legal_hold(
        &self,
        caller: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<LegalHold> {
        self.authorize(caller, Action::CancelLegalHold, Target::Account)?;
        let Some(stored) = self.catalog_for(caller).get::<LegalHold>(id).await? else {
            return Err(Error::not_found(format!("there is no legal hold {id}")));
        };
        let disagreements = self
            .catalog()
            .record_disagreements::<LegalHold>(&[id.to_string()])
            .await?;
        if !disagreements.is_empty() {
            return Err(Error::invalid_request(coffer_engine::agreement::refusal(
                "cancelling the hold",
                &disagreements,
            )));
        }
        let mut hold = stored.record;
        if !hold.status.pins() {
            return Err(Error::invalid_request(format!(
                "legal hold {id} is already {:?}",
                hold.status
            )));
        }
        if reason.trim().is_empty() {
            return Err(Error::missing_parameter(
                "a reason is required: say why the hold ends (it is kept as evidence)",
            ));
        }
        let now = self.now();
        hold.status = LegalHoldStatus::Canceled;
        hold.cancellation_date = Some(now);
        hold.cancel_description = Some(reason.to_string());
        // Cancelling a hold unpins its points: a weakening of protection,
        // recorded as its own kind of entry.
        self.catalog_for(caller)
            .update_weakening(
                &hold,
                stored.version,
                &format!("legal hold cancelled: {reason}"),
                now,
            )
            .await?;
        Ok(hold)
    }
}
