//! The keys of an AWS Organizations backup policy: which are containers
//! (and of what), which hold one value and which hold a list.
//! Unknown keys are errors with a "did you mean"; the kind of a key decides
//! which operators it takes (`@@append`/`@@remove` on lists only).

/// What a key of a backup policy holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Document,
    Plans,
    Plan,
    Rules,
    Rule,
    Lifecycle,
    CopyActions,
    CopyAction,
    Tags,
    Tag,
    Selections,
    TagSelections,
    TagSelection,
    ResourceSelections,
    ResourceSelection,
    Conditions,
    ConditionGroup,
    Condition,
    IndexActions,
    ScanActions,
    ScanAction,
    ScanSettings,
    ScanSetting,
    Advanced,
    AdvancedEc2,
    AdvancedS3,
    /// One value (`{"@@assign": "..."}`).
    Scalar,
    /// A list of values (`@@assign`, `@@append`, `@@remove`).
    List,
}

/// How a container names its children.
pub(crate) enum Children {
    /// Names the policy author chooses (plans, rules, selections, tags).
    Named(Kind),
    /// A fixed set of keys.
    Fixed(&'static [(&'static str, Kind)]),
}

const DOCUMENT: &[(&str, Kind)] = &[("plans", Kind::Plans)];
const PLAN: &[(&str, Kind)] = &[
    ("regions", Kind::List),
    ("rules", Kind::Rules),
    ("selections", Kind::Selections),
    ("advanced_backup_settings", Kind::Advanced),
    ("backup_plan_tags", Kind::Tags),
    ("scan_settings", Kind::ScanSettings),
];
const RULE: &[(&str, Kind)] = &[
    ("schedule_expression", Kind::Scalar),
    ("schedule_expression_timezone", Kind::Scalar),
    ("target_backup_vault_name", Kind::Scalar),
    ("target_logically_air_gapped_backup_vault_arn", Kind::Scalar),
    ("start_backup_window_minutes", Kind::Scalar),
    ("complete_backup_window_minutes", Kind::Scalar),
    ("enable_continuous_backup", Kind::Scalar),
    ("lifecycle", Kind::Lifecycle),
    ("copy_actions", Kind::CopyActions),
    ("recovery_point_tags", Kind::Tags),
    ("index_actions", Kind::IndexActions),
    ("scan_actions", Kind::ScanActions),
];
const LIFECYCLE: &[(&str, Kind)] = &[
    ("move_to_cold_storage_after_days", Kind::Scalar),
    ("delete_after_days", Kind::Scalar),
    ("opt_in_to_archive_for_supported_resources", Kind::Scalar),
];
const COPY_ACTION: &[(&str, Kind)] = &[
    ("target_backup_vault_arn", Kind::Scalar),
    ("lifecycle", Kind::Lifecycle),
];
const TAG: &[(&str, Kind)] = &[("tag_key", Kind::Scalar), ("tag_value", Kind::Scalar)];
const SELECTIONS: &[(&str, Kind)] = &[
    ("tags", Kind::TagSelections),
    ("resources", Kind::ResourceSelections),
];
const TAG_SELECTION: &[(&str, Kind)] = &[
    ("iam_role_arn", Kind::Scalar),
    ("tag_key", Kind::Scalar),
    ("tag_value", Kind::List),
    ("conditions", Kind::Conditions),
];
const RESOURCE_SELECTION: &[(&str, Kind)] = &[
    ("iam_role_arn", Kind::Scalar),
    ("resource_types", Kind::List),
    ("not_resource_types", Kind::List),
    ("conditions", Kind::Conditions),
];
const CONDITIONS: &[(&str, Kind)] = &[
    ("string_equals", Kind::ConditionGroup),
    ("string_not_equals", Kind::ConditionGroup),
    ("string_like", Kind::ConditionGroup),
    ("string_not_like", Kind::ConditionGroup),
];
const CONDITION: &[(&str, Kind)] = &[
    ("condition_key", Kind::Scalar),
    ("condition_value", Kind::Scalar),
];
const INDEX_ACTIONS: &[(&str, Kind)] = &[("resource_types", Kind::List)];
const SCAN_ACTION: &[(&str, Kind)] = &[("scan_mode", Kind::Scalar)];
const SCAN_SETTING: &[(&str, Kind)] = &[
    ("resource_types", Kind::List),
    ("scanner_role_arn", Kind::Scalar),
];
const ADVANCED: &[(&str, Kind)] = &[("ec2", Kind::AdvancedEc2), ("s3", Kind::AdvancedS3)];
const ADVANCED_EC2: &[(&str, Kind)] = &[("windows_vss", Kind::Scalar)];
const ADVANCED_S3: &[(&str, Kind)] = &[
    ("backup_acls", Kind::Scalar),
    ("backup_object_tags", Kind::Scalar),
];

impl Kind {
    /// The children of a container kind; `None` for a value.
    pub(crate) fn children(self) -> Option<Children> {
        use Children::{Fixed, Named};
        Some(match self {
            Kind::Document => Fixed(DOCUMENT),
            Kind::Plans => Named(Kind::Plan),
            Kind::Plan => Fixed(PLAN),
            Kind::Rules => Named(Kind::Rule),
            Kind::Rule => Fixed(RULE),
            Kind::Lifecycle => Fixed(LIFECYCLE),
            Kind::CopyActions => Named(Kind::CopyAction),
            Kind::CopyAction => Fixed(COPY_ACTION),
            Kind::Tags => Named(Kind::Tag),
            Kind::Tag => Fixed(TAG),
            Kind::Selections => Fixed(SELECTIONS),
            Kind::TagSelections => Named(Kind::TagSelection),
            Kind::TagSelection => Fixed(TAG_SELECTION),
            Kind::ResourceSelections => Named(Kind::ResourceSelection),
            Kind::ResourceSelection => Fixed(RESOURCE_SELECTION),
            Kind::Conditions => Fixed(CONDITIONS),
            Kind::ConditionGroup => Named(Kind::Condition),
            Kind::Condition => Fixed(CONDITION),
            Kind::IndexActions => Fixed(INDEX_ACTIONS),
            Kind::ScanActions => Named(Kind::ScanAction),
            Kind::ScanAction => Fixed(SCAN_ACTION),
            Kind::ScanSettings => Named(Kind::ScanSetting),
            Kind::ScanSetting => Fixed(SCAN_SETTING),
            Kind::Advanced => Fixed(ADVANCED),
            Kind::AdvancedEc2 => Fixed(ADVANCED_EC2),
            Kind::AdvancedS3 => Fixed(ADVANCED_S3),
            Kind::Scalar | Kind::List => return None,
        })
    }
}
