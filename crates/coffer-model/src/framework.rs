//! Audit frameworks and their controls: the catalogue of controls Coffer
//! knows (names, parameters with defaults, scopes) and validation of a
//! framework against it.

use serde::{Deserialize, Serialize};

use crate::finding::{did_you_mean, Findings};
use crate::names::{AccountId, NameKind, Region};
use crate::resource::{ResourceType, TypeName};

/// A framework: named set of controls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Framework {
    pub framework_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub framework_description: String,
    pub framework_controls: Vec<FrameworkControl>,
    #[serde(default, skip_serializing_if = "crate::Tags::is_empty")]
    pub framework_tags: crate::Tags,
}

/// One control of a framework.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FrameworkControl {
    pub control_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub control_input_parameters: Vec<ControlInputParameter>,
    #[serde(default, skip_serializing_if = "ControlScope::is_empty")]
    pub control_scope: ControlScope,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ControlInputParameter {
    pub parameter_name: String,
    pub parameter_value: String,
}

/// Which resources a control evaluates; empty means the control's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ControlScope {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compliance_resource_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compliance_resource_types: Vec<String>,
    /// At most one tag; the value is optional.
    #[serde(default, skip_serializing_if = "crate::Tags::is_empty")]
    pub tags: crate::Tags,
}

impl ControlScope {
    pub fn is_empty(&self) -> bool {
        self.compliance_resource_ids.is_empty()
            && self.compliance_resource_types.is_empty()
            && self.tags.is_empty()
    }
}

/// What a control evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlTarget {
    Resources,
    BackupPlans,
    BackupVaults,
    RecoveryPoints,
}

/// The kind of value a control parameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A whole number in an inclusive range.
    Integer { min: u64, max: u64 },
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// Comma-separated principal ARNs, at most this many.
    ArnList { max: usize },
    /// Comma-separated region names.
    RegionList,
    /// Comma-separated account IDs, at most this many.
    AccountList { max: usize },
}

/// A parameter a control takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamDef {
    pub name: &'static str,
    /// Used when the framework does not give the parameter.
    pub default: Option<&'static str>,
    pub kind: ParamKind,
}

/// A control Coffer knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlDef {
    pub name: &'static str,
    pub target: ControlTarget,
    pub params: &'static [ParamDef],
    /// Whether the scope may name resource types (`Ty` in AWS's table).
    pub scope_types: bool,
    /// Whether Coffer can evaluate it at all (no logically air-gapped vaults here).
    pub evaluated: bool,
}

const FREQUENCY_UNITS: &[&str] = &["hours", "days"];

/// Every control of AWS Backup Audit Manager, with AWS's defaults.
///
/// RESTORE_TIME_FOR_RESOURCES_MEET_TARGET has no documented default for
/// `maxRestoreTime`; Coffer uses 720 minutes, the value of AWS's samples.
pub const CONTROLS: &[ControlDef] = &[
    ControlDef {
        name: "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
        target: ControlTarget::Resources,
        params: &[],
        scope_types: true,
        evaluated: true,
    },
    ControlDef {
        name: "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
        target: ControlTarget::BackupPlans,
        params: &[
            ParamDef {
                name: "requiredFrequencyValue",
                default: Some("1"),
                kind: ParamKind::Integer { min: 1, max: 31 },
            },
            ParamDef {
                name: "requiredFrequencyUnit",
                default: Some("days"),
                kind: ParamKind::OneOf(FREQUENCY_UNITS),
            },
            ParamDef {
                name: "requiredRetentionDays",
                default: Some("35"),
                kind: ParamKind::Integer {
                    min: 1,
                    max: 36_500,
                },
            },
        ],
        scope_types: false,
        evaluated: true,
    },
    ControlDef {
        name: "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
        target: ControlTarget::BackupVaults,
        params: &[ParamDef {
            name: "principalArnList",
            default: None,
            kind: ParamKind::ArnList { max: 5 },
        }],
        scope_types: false,
        evaluated: true,
    },
    ControlDef {
        name: "BACKUP_RECOVERY_POINT_ENCRYPTED",
        target: ControlTarget::RecoveryPoints,
        params: &[],
        scope_types: true,
        evaluated: true,
    },
    ControlDef {
        name: "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK",
        target: ControlTarget::RecoveryPoints,
        params: &[ParamDef {
            name: "requiredRetentionDays",
            default: Some("35"),
            kind: ParamKind::Integer {
                min: 1,
                max: 36_500,
            },
        }],
        scope_types: true,
        evaluated: true,
    },
    ControlDef {
        name: "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION",
        target: ControlTarget::Resources,
        params: &[ParamDef {
            name: "crossRegionList",
            default: None,
            kind: ParamKind::RegionList,
        }],
        scope_types: true,
        evaluated: true,
    },
    ControlDef {
        name: "BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT",
        target: ControlTarget::Resources,
        params: &[ParamDef {
            name: "crossAccountList",
            default: None,
            kind: ParamKind::AccountList { max: 5 },
        }],
        scope_types: true,
        evaluated: true,
    },
    ControlDef {
        name: "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK",
        target: ControlTarget::Resources,
        params: &[
            ParamDef {
                name: "minRetentionDays",
                default: None,
                kind: ParamKind::Integer {
                    min: 1,
                    max: 36_500,
                },
            },
            ParamDef {
                name: "maxRetentionDays",
                default: None,
                kind: ParamKind::Integer {
                    min: 1,
                    max: 36_500,
                },
            },
        ],
        scope_types: true,
        evaluated: true,
    },
    ControlDef {
        name: "BACKUP_LAST_RECOVERY_POINT_CREATED",
        target: ControlTarget::Resources,
        params: &[
            ParamDef {
                name: "recoveryPointAgeValue",
                default: Some("1"),
                kind: ParamKind::Integer { min: 1, max: 744 },
            },
            ParamDef {
                name: "recoveryPointAgeUnit",
                default: Some("days"),
                kind: ParamKind::OneOf(FREQUENCY_UNITS),
            },
        ],
        scope_types: true,
        evaluated: true,
    },
    ControlDef {
        name: "RESTORE_TIME_FOR_RESOURCES_MEET_TARGET",
        target: ControlTarget::Resources,
        params: &[ParamDef {
            name: "maxRestoreTime",
            default: Some("720"),
            kind: ParamKind::Integer {
                min: 1,
                max: 52_560_000,
            },
        }],
        scope_types: true,
        evaluated: true,
    },
    ControlDef {
        name: "RESOURCES_IN_LOGICALLY_AIR_GAPPED_VAULT",
        target: ControlTarget::Resources,
        params: &[
            ParamDef {
                name: "recoveryPointAgeValue",
                default: Some("1"),
                kind: ParamKind::Integer { min: 1, max: 2184 },
            },
            ParamDef {
                name: "recoveryPointAgeUnit",
                default: Some("days"),
                kind: ParamKind::OneOf(FREQUENCY_UNITS),
            },
        ],
        scope_types: true,
        evaluated: false,
    },
];

/// CloudFormation type names of Backup objects that a control scope may name.
pub const BACKUP_OBJECT_TYPES: &[&str] = &[
    "AWS::Backup::BackupPlan",
    "AWS::Backup::BackupVault",
    "AWS::Backup::RecoveryPoint",
];

impl ControlDef {
    pub fn find(name: &str) -> Option<&'static ControlDef> {
        CONTROLS.iter().find(|c| c.name == name)
    }

    pub fn param(&self, name: &str) -> Option<&'static ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }
}

impl FrameworkControl {
    /// The value of a parameter: the one given, else the control's default.
    pub fn parameter(&self, name: &str) -> Option<String> {
        self.control_input_parameters
            .iter()
            .find(|p| p.parameter_name == name)
            .map(|p| p.parameter_value.clone())
            .or_else(|| {
                ControlDef::find(&self.control_name)
                    .and_then(|def| def.param(name))
                    .and_then(|p| p.default.map(str::to_string))
            })
    }

    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        let Some(def) = ControlDef::find(&self.control_name) else {
            let finding = findings.error(
                "ControlName",
                format!(
                    "{:?} is not a control of AWS Backup Audit Manager",
                    self.control_name
                ),
            );
            match did_you_mean(&self.control_name, CONTROLS.iter().map(|c| c.name)) {
                Some(s) => finding.hint(format!("did you mean {s:?}?")),
                None => finding.hint(format!(
                    "use one of {}",
                    CONTROLS
                        .iter()
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            return findings;
        };
        if !def.evaluated {
            findings.warning(
                "ControlName",
                format!("{} checks logically air-gapped vaults, which Coffer does not have; it will report INSUFFICIENT_DATA", def.name),
            );
        }
        for (idx, param) in self.control_input_parameters.iter().enumerate() {
            let field = format!("ControlInputParameters[{idx}]");
            if self.control_input_parameters[..idx]
                .iter()
                .any(|p| p.parameter_name == param.parameter_name)
            {
                findings.error(
                    format!("{field}.ParameterName"),
                    format!("parameter {:?} is given twice", param.parameter_name),
                );
                continue;
            }
            let Some(param_def) = def.param(&param.parameter_name) else {
                let finding = findings.warning(
                    format!("{field}.ParameterName"),
                    format!(
                        "{} does not use a parameter {:?}; it is ignored",
                        def.name, param.parameter_name
                    ),
                );
                let names: Vec<&str> = def.params.iter().map(|p| p.name).collect();
                match did_you_mean(&param.parameter_name, names.iter().copied()) {
                    Some(s) => finding.hint(format!("did you mean {s:?}?")),
                    None if names.is_empty() => finding.hint("this control takes no parameters"),
                    None => finding.hint(format!("its parameters are {}", names.join(", "))),
                };
                continue;
            };
            if let Err(message) = check_param_value(param_def, &param.parameter_value) {
                findings.error(format!("{field}.ParameterValue"), message);
            }
        }
        // The unit bounds the value: 24 hours / 31 days for frequency,
        // 744 hours / 31 days for recovery point age.
        for (value_name, unit_name, max_hours) in [
            ("requiredFrequencyValue", "requiredFrequencyUnit", 24u64),
            ("recoveryPointAgeValue", "recoveryPointAgeUnit", 744),
        ] {
            if def.param(value_name).is_none() || !def.evaluated {
                continue;
            }
            let (Some(value), Some(unit)) = (self.parameter(value_name), self.parameter(unit_name))
            else {
                continue;
            };
            let Ok(value) = value.parse::<u64>() else {
                continue;
            };
            let max = if unit == "hours" { max_hours } else { 31 };
            if value > max {
                let idx = self
                    .control_input_parameters
                    .iter()
                    .position(|p| p.parameter_name == value_name)
                    .unwrap_or(0);
                findings.error(
                    format!("ControlInputParameters[{idx}].ParameterValue"),
                    format!(
                        "{value_name} ({value}) must be at most {max} when {unit_name} is {unit}"
                    ),
                );
            }
        }
        let scope = &self.control_scope;
        if scope.tags.len() > 1 {
            findings
                .error(
                    "ControlScope.Tags",
                    format!(
                        "a control scope takes at most one tag, found {}",
                        scope.tags.len()
                    ),
                )
                .hint("split the control into one framework control per tag");
        }
        if scope.compliance_resource_ids.len() > 100 {
            findings.error(
                "ControlScope.ComplianceResourceIds",
                "a control scope takes at most 100 resource IDs",
            );
        }
        for (idx, type_name) in scope.compliance_resource_types.iter().enumerate() {
            let field = format!("ControlScope.ComplianceResourceTypes[{idx}]");
            if BACKUP_OBJECT_TYPES.contains(&type_name.as_str()) {
                continue;
            }
            match ResourceType::resolve_name(type_name) {
                Ok(TypeName::Types(_)) => {}
                Ok(TypeName::NoDriver(name)) => {
                    findings.warning(
                        field,
                        format!("{name} is an AWS resource type Coffer has no driver for; it selects nothing here"),
                    );
                }
                Err(message) => {
                    findings.error(field, message);
                }
            }
        }
        if !def.scope_types
            && !scope.compliance_resource_types.is_empty()
            && scope
                .compliance_resource_types
                .iter()
                .any(|t| !BACKUP_OBJECT_TYPES.contains(&t.as_str()))
        {
            findings.warning(
                "ControlScope.ComplianceResourceTypes",
                format!("{} evaluates {} and cannot be scoped by resource type; the types are ignored", def.name, target_noun(def.target)),
            ).hint("scope it by tag or resource ID instead");
        }
        findings
    }
}

fn target_noun(target: ControlTarget) -> &'static str {
    match target {
        ControlTarget::Resources => "resources",
        ControlTarget::BackupPlans => "backup plans",
        ControlTarget::BackupVaults => "backup vaults",
        ControlTarget::RecoveryPoints => "recovery points",
    }
}

fn check_param_value(def: &ParamDef, value: &str) -> Result<(), String> {
    let name = def.name;
    match def.kind {
        ParamKind::Integer { min, max } => match value.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            Ok(n) => Err(format!("{name} ({n}) must be between {min} and {max}")),
            Err(_) => Err(format!("{name} must be a whole number, found {value:?}")),
        },
        ParamKind::OneOf(words) => {
            if words.contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "{name} must be one of {}, found {value:?}",
                    words.join(", ")
                ))
            }
        }
        ParamKind::ArnList { max } => {
            let items: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if items.len() > max {
                return Err(format!(
                    "{name} takes at most {max} ARNs, found {}",
                    items.len()
                ));
            }
            for item in items {
                crate::Arn::parse(item).map_err(|e| format!("{name}: {e}"))?;
            }
            Ok(())
        }
        ParamKind::RegionList => {
            for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                Region::new(item).map_err(|e| format!("{name}: {e}"))?;
            }
            Ok(())
        }
        ParamKind::AccountList { max } => {
            let items: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if items.len() > max {
                return Err(format!(
                    "{name} takes at most {max} account IDs, found {}",
                    items.len()
                ));
            }
            for item in items {
                AccountId::new(item).map_err(|e| format!("{name}: {e}"))?;
            }
            Ok(())
        }
    }
}

impl Framework {
    pub fn validate(&self) -> Findings {
        let mut findings = Findings::new();
        if let Err(err) = NameKind::Framework.check(&self.framework_name) {
            findings.error("FrameworkName", err.to_string());
        }
        if self.framework_description.chars().count() > 1024 {
            findings.error(
                "FrameworkDescription",
                "FrameworkDescription must be at most 1024 characters",
            );
        }
        if self.framework_controls.is_empty() {
            findings.error(
                "FrameworkControls",
                "a framework needs at least one control",
            );
        }
        for (idx, control) in self.framework_controls.iter().enumerate() {
            findings.extend_under(&format!("FrameworkControls[{idx}]"), control.validate());
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(name: &str, params: &[(&str, &str)]) -> FrameworkControl {
        FrameworkControl {
            control_name: name.into(),
            control_input_parameters: params
                .iter()
                .map(|(n, v)| ControlInputParameter {
                    parameter_name: n.to_string(),
                    parameter_value: v.to_string(),
                })
                .collect(),
            control_scope: ControlScope::default(),
        }
    }

    fn texts(f: &Findings) -> Vec<String> {
        f.iter().map(|x| format!("{}: {x}", x.severity)).collect()
    }

    #[test]
    fn defaults_fill_missing_parameters() {
        let c = control(
            "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
            &[("requiredRetentionDays", "90")],
        );
        assert_eq!(c.parameter("requiredRetentionDays").as_deref(), Some("90"));
        assert_eq!(
            c.parameter("requiredFrequencyUnit").as_deref(),
            Some("days")
        );
        assert!(c.validate().is_empty());
    }

    #[test]
    fn unused_parameter_is_a_warning_and_bad_value_an_error() {
        let c = control(
            "BACKUP_RECOVERY_POINT_ENCRYPTED",
            &[("requiredRetentionDays", "35")],
        );
        let f = c.validate();
        assert!(!f.has_errors());
        assert!(
            texts(&f)[0].starts_with("warning: ControlInputParameters[0].ParameterName"),
            "{:?}",
            texts(&f)
        );
        let c = control(
            "BACKUP_LAST_RECOVERY_POINT_CREATED",
            &[("recoveryPointAgeUnit", "weeks")],
        );
        assert!(c.validate().has_errors());
        let c = control(
            "BACKUP_LAST_RECOVERY_POINT_CREATED",
            &[("recoveryPointAgeValue", "40")],
        );
        assert!(texts(&c.validate())[0].contains("at most 31 when recoveryPointAgeUnit is days"));
    }

    #[test]
    fn unknown_control_suggests_the_close_one() {
        let f = control("BACKUP_RECOVERY_POINT_ENCRYPTD", &[]).validate();
        assert!(texts(&f)[0].contains("did you mean \"BACKUP_RECOVERY_POINT_ENCRYPTED\""));
    }

    #[test]
    fn scope_with_type_without_driver_warns() {
        let mut c = control("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN", &[]);
        c.control_scope.compliance_resource_types = vec!["EBS".into(), "RDS".into()];
        let f = c.validate();
        assert_eq!(f.len(), 1);
        assert!(!f.has_errors());
        c.control_scope.compliance_resource_types = vec!["Postgres".into()];
        assert!(c.validate().has_errors());
    }
}
