//! Legal holds: pins on recovery points against expiry and deletion.

use serde::{Deserialize, Serialize};

use crate::finding::Findings;

/// At most this many holds may be active per account.
pub const MAX_ACTIVE_LEGAL_HOLDS: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LegalHoldStatus {
    Creating,
    Active,
    Canceling,
    Canceled,
}

impl LegalHoldStatus {
    /// Whether recovery points under a hold in this status are pinned.
    pub fn pins(self) -> bool {
        matches!(
            self,
            LegalHoldStatus::Creating | LegalHoldStatus::Active | LegalHoldStatus::Canceling
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LegalHold {
    pub legal_hold_id: String,
    pub legal_hold_arn: String,
    pub title: String,
    pub description: String,
    pub status: LegalHoldStatus,
    #[serde(default)]
    pub recovery_point_selection: RecoveryPointSelection,
    pub creation_date: jiff::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_date: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_record_until: Option<jiff::Timestamp>,
}

/// Which recovery points a hold covers; an empty selection covers none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecoveryPointSelection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vault_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_identifiers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_range: Option<DateRange>,
}

/// Both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DateRange {
    pub from_date: jiff::Timestamp,
    pub to_date: jiff::Timestamp,
}

impl RecoveryPointSelection {
    /// Whether a recovery point (vault, resource, creation time) is covered.
    pub fn covers(&self, vault_name: &str, resource_arn: &str, created: jiff::Timestamp) -> bool {
        let vault_ok =
            self.vault_names.is_empty() || self.vault_names.iter().any(|v| v == vault_name);
        let resource_ok = self.resource_identifiers.is_empty()
            || self.resource_identifiers.iter().any(|r| r == resource_arn);
        let date_ok = self
            .date_range
            .is_none_or(|range| range.from_date <= created && created <= range.to_date);
        vault_ok && resource_ok && date_ok
    }
}

impl LegalHold {
    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        if self.title.trim().is_empty() {
            findings.error("Title", "Title is required");
        }
        if self.description.trim().is_empty() {
            findings.error("Description", "Description is required");
        }
        if let Some(range) = self.recovery_point_selection.date_range {
            if range.from_date > range.to_date {
                findings.error(
                    "RecoveryPointSelection.DateRange",
                    "FromDate must not be after ToDate",
                );
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_covers_by_vault_resource_and_inclusive_dates() {
        let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        let sel = RecoveryPointSelection {
            vault_names: vec!["primary".into()],
            resource_identifiers: vec![],
            date_range: Some(DateRange {
                from_date: t("2026-01-01T00:00:00Z"),
                to_date: t("2026-01-31T00:00:00Z"),
            }),
        };
        assert!(sel.covers("primary", "arn:x", t("2026-01-31T00:00:00Z")));
        assert!(!sel.covers("other", "arn:x", t("2026-01-15T00:00:00Z")));
        assert!(!sel.covers("primary", "arn:x", t("2026-02-01T00:00:00Z")));
        assert!(LegalHoldStatus::Active.pins());
        assert!(!LegalHoldStatus::Canceled.pins());
    }
}
