//! Coffer's domain model: accounts, regions, ARNs, resources, vaults, plans,
//! selections, frameworks, report plans, legal holds, recovery points, jobs
//! and schedule expressions, with the validation AWS Backup applies to each.
//!
//! This crate does no IO and has no async: every other crate builds on it.
//! Field names and constraints follow the AWS Backup service model; every
//! `validate()` returns all findings at once, located by field path.
//!
//! ```
//! use coffer_model::{Lifecycle, Severity};
//! let lifecycle = Lifecycle { move_to_cold_storage_after_days: Some(30), delete_after_days: Some(100), ..Default::default() };
//! let findings = lifecycle.validate();
//! let first = findings.iter().next().unwrap();
//! assert_eq!(first.severity, Severity::Error);
//! assert_eq!(first.hint.as_deref(), Some("use 120 or more"));
//! ```

mod access_policy;
mod arn;
mod compliance;
mod config;
mod finding;
mod framework;
mod iam;
mod inventory;
mod job;
mod legal_hold;
mod location;
mod names;
mod organization;
mod plan;
mod recovery_point;
mod report;
mod resource;
pub mod restore_metadata;
mod restore_testing;
mod schedule;
mod selection;
mod vault;

pub use access_policy::{
    validate_document as validate_access_policy, validate_identity_document, ACTION_PREFIXES,
    CONDITION_KEYS, CONDITION_OPERATORS,
};
pub use arn::{glob_match, Arn, ArnError, ArnPattern, PARTITION};
pub use compliance::{Compliance, ControlResult, ControlSummary, FrameworkEvaluation};
pub use config::{
    BucketLocation, Config, ConfigParts, NotificationTarget, ObjectLockDefault, SelfBackup,
    ServeSettings, TlsFiles, ToolDirs, VaultLocation, VaultRule, CONFIG_FILE,
};
pub use finding::{did_you_mean, join_field, Finding, Findings, Severity};
pub use framework::{
    ControlDef, ControlInputParameter, ControlScope, ControlTarget, Framework, FrameworkControl,
    ParamDef, ParamKind, BACKUP_OBJECT_TYPES, CONTROLS,
};
pub use iam::{
    managed_policy_arn, role_arn, user_arn, IamRole, IamUser, InlinePolicy, ManagedPolicy,
};
pub use inventory::{S3Endpoint, SecretRef, Server};
pub use job::{
    BackupJob, BackupJobState, CopyJob, CopyJobState, DeletionStatus, JobAttempt, RestoreJob,
    RestoreJobCreator, RestoreJobStatus, ValidationStatus, VaultCheck,
};
pub use legal_hold::{
    DateRange, LegalHold, LegalHoldStatus, RecoveryPointSelection, MAX_ACTIVE_LEGAL_HOLDS,
};
pub use location::{LocationError, StorageLocation};
pub use names::{AccountId, AccountIdError, NameError, NameKind, Region, RegionError};
pub use organization::{Organization, OrganizationAccount, OrganizationalUnit, PolicyAttachment};
pub use plan::{
    AdvancedBackupSetting, BackupPlan, BackupRule, CopyAction, Lifecycle,
    DEFAULT_COMPLETION_WINDOW_MINUTES, DEFAULT_SCHEDULE, DEFAULT_START_WINDOW_MINUTES,
    MAX_CONTINUOUS_RETENTION_DAYS, MAX_RETENTION_DAYS, MAX_WINDOW_MINUTES, MIN_COLD_STORAGE_DAYS,
    MIN_START_WINDOW_MINUTES,
};
pub use recovery_point::{
    CalculatedLifecycle, ContentManifest, RecoveryPoint, RecoveryPointStatus, StorageClass,
    TableManifest,
};
pub use report::{
    ReportDeliveryChannel, ReportJob, ReportJobStatus, ReportPeriod, ReportPlan, ReportSchedule,
    ReportSetting, REPORT_FORMATS, REPORT_TEMPLATES, REPORT_TEMPLATES_WITHOUT_SUPPORT,
};
pub use resource::{check_tags, Resource, ResourceType, Tags, TypeName, AWS_TYPES_WITHOUT_DRIVER};
pub use restore_testing::{
    restore_testing_plan_arn, KeyValue, RestoreTestingPlan, RestoreTestingRecoveryPointSelection,
    RestoreTestingSelection, ValidationHook, DEFAULT_RESTORE_TEST_START_WINDOW_HOURS,
    DEFAULT_SELECTION_WINDOW_DAYS, MAX_VALIDATION_WINDOW_HOURS,
};
pub use schedule::{CronField, RateUnit, Schedule, ScheduleError, ScheduleExpression};
pub use selection::{
    BackupSelection, ConditionParameter, Conditions, TagCondition, RESOURCE_TAG_PREFIX,
};
pub use vault::{BackupVault, LockMode, VaultLockConfiguration, VaultNotifications, VAULT_EVENTS};
