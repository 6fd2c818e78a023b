//! `coffer legal-holds create|list|cancel`: holds pin recovery points
//! against deletion, expiry and lifecycle changes while they are active.

use anyhow::bail;
use coffer_catalog::Catalog;
use coffer_model::{
    Arn, DateRange, LegalHold, LegalHoldStatus, RecoveryPointSelection, MAX_ACTIVE_LEGAL_HOLDS,
};

use crate::cli::{Global, HoldsCommand, OutputFormat};
use crate::context::Context;
use crate::{output, Outcome};

pub async fn run(global: &Global, command: &HoldsCommand) -> anyhow::Result<Outcome> {
    let ctx = Context::load(global)?;
    let catalog = ctx.catalog().await?;
    let result = match command {
        HoldsCommand::Create {
            title,
            description,
            vaults,
            resources,
            from,
            to,
        } => {
            let date_range = match (from, to) {
                (Some(from), Some(to)) => Some(DateRange {
                    from_date: parse_time(from, "--from")?,
                    to_date: parse_time(to, "--to")?,
                }),
                (None, None) => None,
                _ => bail!("give both --from and --to, or neither"),
            };
            let selection = RecoveryPointSelection {
                vault_names: vaults.clone(),
                resource_identifiers: resources.clone(),
                date_range,
            };
            create(&ctx, &catalog, title, description, selection).await
        }
        HoldsCommand::List { output } => list(&catalog, *output).await,
        HoldsCommand::Cancel { id, reason } => cancel(&catalog, id, reason).await,
    };
    catalog.close().await;
    result
}

fn parse_time(text: &str, flag: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    text.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| format!("{d}T00:00:00Z").parse::<jiff::Timestamp>().ok())
        .ok_or_else(|| anyhow::anyhow!("{flag} {text:?}: give a date (2026-11-24) or an RFC 3339 time (2026-11-24T10:00:00Z)"))
}

async fn create(
    ctx: &Context,
    catalog: &Catalog,
    title: &str,
    description: &str,
    selection: RecoveryPointSelection,
) -> anyhow::Result<Outcome> {
    let active = catalog
        .list::<LegalHold>(&[])
        .await?
        .into_iter()
        .filter(|h| h.record.status.pins())
        .count();
    if active >= MAX_ACTIVE_LEGAL_HOLDS {
        bail!("{active} legal holds are active, the most AWS Backup allows ({MAX_ACTIVE_LEGAL_HOLDS}); cancel one first");
    }
    let id = uuid::Uuid::new_v4().to_string();
    let now = jiff::Timestamp::now();
    let hold = LegalHold {
        legal_hold_arn: Arn::legal_hold(&ctx.region, &ctx.account, &id).to_string(),
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
        bail!("legal hold: {finding}");
    }
    catalog.insert(&hold, now).await?;
    println!(
        "Legal hold {} ACTIVE: {}",
        hold.legal_hold_id, hold.legal_hold_arn
    );
    Ok(Outcome::Success)
}

async fn list(catalog: &Catalog, format: OutputFormat) -> anyhow::Result<Outcome> {
    let holds: Vec<LegalHold> = catalog
        .list::<LegalHold>(&[])
        .await?
        .into_iter()
        .map(|s| s.record)
        .collect();
    output::print(format, &holds, || {
        let rows = holds
            .iter()
            .map(|h| {
                let s = &h.recovery_point_selection;
                let all_or = |list: &[String]| {
                    if list.is_empty() {
                        "*".to_string()
                    } else {
                        list.join(",")
                    }
                };
                vec![
                    h.legal_hold_id.clone(),
                    format!("{:?}", h.status).to_uppercase(),
                    h.title.clone(),
                    all_or(&s.vault_names),
                    all_or(&s.resource_identifiers),
                ]
            })
            .collect();
        output::table(&["ID", "STATUS", "TITLE", "VAULTS", "RESOURCES"], rows)
    })?;
    Ok(Outcome::Success)
}

async fn cancel(catalog: &Catalog, id: &str, reason: &str) -> anyhow::Result<Outcome> {
    let Some(stored) = catalog.get::<LegalHold>(id).await? else {
        bail!("there is no legal hold {id}; `coffer legal-holds list` shows them");
    };
    let mut hold = stored.record;
    if !hold.status.pins() {
        bail!("legal hold {id} is already {:?}", hold.status);
    }
    if reason.trim().is_empty() {
        bail!("--reason is required: say why the hold ends (it is kept as evidence)");
    }
    let now = jiff::Timestamp::now();
    hold.status = LegalHoldStatus::Canceled;
    hold.cancellation_date = Some(now);
    hold.cancel_description = Some(reason.to_string());
    catalog.update(&hold, stored.version, now).await?;
    println!("Legal hold {id} CANCELED.");
    Ok(Outcome::Success)
}
