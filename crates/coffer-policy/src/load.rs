//! Loading a file set: finding the files, parsing them, telling templates
//! from inventories, resolving parameters and intrinsics across the set,
//! reading every object, and checking what objects say about each other.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use coffer_model::{did_you_mean, NameKind, Severity};
use sha2::{Digest, Sha256};

use crate::cfn::{self, BACKUP_TYPES_NOT_MANAGED, MANAGED_TYPES};
use crate::diag::{Diagnostics, Suggestions};
use crate::intrinsic::{unmanaged_arn, Entry, ParamValue, Resolver, TemplateIndex};
use crate::inventory;
use crate::node::{self, byte_size, AliasAllowance, Node, Pos, Value};
use crate::read::{Fields, Reader};
use crate::set::{Declared, Limits, LoadOptions, Origin, PolicySet, SourceFile, Unmanaged};

/// The outcome of loading a file set: what it declares, and every problem.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub set: PolicySet,
    pub diagnostics: Diagnostics,
}

const EXTENSIONS: &[&str] = &["yaml", "yml", "json", "template"];

const TEMPLATE_SECTIONS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
];

const RESOURCE_FIELDS: &[&str] = &[
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "Metadata",
    "CreationPolicy",
    "UpdatePolicy",
];

/// Expands directories (recursively, YAML/JSON files in name order) and
/// keeps files as given.
///
/// # Errors
/// A message naming a path that does not exist or cannot be read.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)
                .map_err(|e| format!("{}: cannot read directory: {e}", path.display()))?;
            found.sort();
            if found.is_empty() {
                return Err(format!(
                    "{}: no policy files (*.yaml, *.yml, *.json, *.template) in this directory",
                    path.display()
                ));
            }
            out.extend(found);
        } else if path.exists() {
            out.push(path.clone());
        } else {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
    Ok(())
}

struct Parsed {
    label: String,
    root: Node,
}

/// Why a file was not read.
enum Unread {
    Io(std::io::Error),
    /// The file holds more than one file may.
    FileTooLarge {
        size: u64,
    },
    /// The file holds more than the files before it left of what the files
    /// of one load may hold together.
    SetTooLarge {
        size: u64,
        before: u64,
    },
}

/// Reads a file when its size, taken from its metadata before anything is
/// read, is within `limits`, the files read before it holding `before`
/// bytes. A file that grows meanwhile (or whose metadata says nothing, as
/// a pipe's) is read no further than the limits.
fn read_within(path: &Path, limits: &Limits, before: u64) -> Result<Vec<u8>, Unread> {
    let allowed = limits
        .file_bytes
        .min(limits.set_bytes.saturating_sub(before));
    let check = |size: u64| {
        if size > limits.file_bytes {
            Err(Unread::FileTooLarge { size })
        } else if size > allowed {
            Err(Unread::SetTooLarge { size, before })
        } else {
            Ok(())
        }
    };
    let file = File::open(path).map_err(Unread::Io)?;
    let size = file.metadata().map_err(Unread::Io)?.len();
    check(size)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(allowed.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Unread::Io)?;
    check(bytes.len() as u64)?;
    Ok(bytes)
}

/// Loads a file set within the documented [`Limits`]. Never stops at the
/// first problem: every diagnostic of every file is in the result.
pub fn load_files(paths: &[PathBuf], options: &LoadOptions) -> Loaded {
    load_files_with_limits(paths, options, &Limits::default())
}

/// Loads a file set within `limits`: a file larger than one may be, or
/// than what the files before it leave of the set's allowance, is not read
/// (an error names it and the limit), and a file whose aliases copy past
/// the allowance is not parsed.
pub fn load_files_with_limits(paths: &[PathBuf], options: &LoadOptions, limits: &Limits) -> Loaded {
    let mut loaded = Loaded::default();
    let mut templates = Vec::new();
    let mut inventories = inventory::Inventories::default();
    // A file that could not be parsed may declare parameters we cannot see.
    let mut all_parsed = true;
    // Bytes of the files read so far.
    let mut set_bytes: u64 = 0;
    let mut aliases = AliasAllowance::new(limits.alias_values, limits.alias_bytes);
    for path in paths {
        let label = path.display().to_string();
        let bytes = match read_within(path, limits, set_bytes) {
            Ok(b) => b,
            Err(unread) => {
                let diags = &mut loaded.diagnostics;
                match unread {
                    Unread::Io(err) => {
                        diags.push(
                            Severity::Error,
                            &label,
                            None,
                            "",
                            format!("cannot read file: {err}"),
                        );
                    }
                    Unread::FileTooLarge { size } => {
                        let limit = byte_size(limits.file_bytes);
                        diags
                            .push(
                                Severity::Error,
                                &label,
                                None,
                                "",
                                format!(
                                    "is {}, more than one policy file may hold ({limit}); it was not read",
                                    byte_size(size)
                                ),
                            )
                            .hint(format!("split its resources into files of at most {limit} and pass them together: the files of one load make one stack"));
                    }
                    Unread::SetTooLarge { size, before } => {
                        let limit = byte_size(limits.set_bytes);
                        diags
                            .push(
                                Severity::Error,
                                &label,
                                None,
                                "",
                                format!(
                                    "is {} and the files before it hold {}: more than the files of one load may hold together ({limit}); it was not read",
                                    byte_size(size),
                                    byte_size(before)
                                ),
                            )
                            .hint(format!("split the objects into stacks whose files hold at most {limit}, and apply each as a stack of its own"));
                    }
                }
                all_parsed = false;
                continue;
            }
        };
        set_bytes = set_bytes.saturating_add(bytes.len() as u64);
        loaded.set.files.push(SourceFile {
            path: label.clone(),
            sha256: hex::encode(Sha256::digest(&bytes)),
        });
        let Ok(text) = String::from_utf8(bytes) else {
            loaded
                .diagnostics
                .push(Severity::Error, &label, None, "", "is not UTF-8 text");
            all_parsed = false;
            continue;
        };
        let root = match node::parse_within(&text, &mut aliases) {
            Ok(root) => root,
            Err(err) => {
                loaded
                    .diagnostics
                    .push(Severity::Error, &label, Some(err.pos), "", err.message);
                all_parsed = false;
                continue;
            }
        };
        let is_template =
            root.get("Resources").is_some() || root.get("AWSTemplateFormatVersion").is_some();
        if is_template {
            templates.push(Parsed { label, root });
        } else if inventory::looks_like_inventory(&root) {
            inventory::read_inventory(
                &label,
                &root,
                options,
                &mut loaded.diagnostics,
                &mut loaded.set,
                &mut inventories,
            );
        } else if root.get("plans").is_some() {
            loaded
                .diagnostics
                .push(Severity::Error, &label, Some(root.pos), "", "this is an AWS Organizations backup policy: it is merged into each account's effective policy through an organization, not applied as a stack")
                .hint("attach it in an organization file and check that with `coffer org validate` (docs/organizations.md); pass CloudFormation templates and inventory files here");
        } else {
            loaded
                .diagnostics
                .push(Severity::Error, &label, Some(root.pos), "", "not a CloudFormation template (no Resources section) nor a Coffer inventory (no postgres, mysql, filesystems, sqlite, s3_endpoints or buckets section)")
                .hint("see docs/inventory.md for the inventory format");
        }
    }
    inventory::resolve_buckets(inventories, &mut loaded.diagnostics, &mut loaded.set);
    load_templates(&templates, options, all_parsed, &mut loaded);
    check_set(&mut loaded);
    loaded.diagnostics.sort();
    loaded
}

fn load_templates(
    templates: &[Parsed],
    options: &LoadOptions,
    all_parsed: bool,
    loaded: &mut Loaded,
) {
    let diags = &mut loaded.diagnostics;
    let mut index = TemplateIndex::default();
    let mut declared_in: HashMap<String, (String, Pos)> = HashMap::new();
    let mut used_parameters: Vec<String> = Vec::new();
    for template in templates {
        let file = template.label.as_str();
        let mut reader = Reader::new(file, "", template.root.pos, diags);
        let Some(top) = reader.fields(&template.root, "", "", TEMPLATE_SECTIONS) else {
            continue;
        };
        if let Some(transform) = top.get("Transform") {
            reader
                .error(transform.pos, "Transform", "template macros and transforms (AWS::Serverless, AWS::Include, ...) are not supported")
                .hint("expand the template first (e.g. with `aws cloudformation package`) and pass the result");
        }
        if let Some(version) = top.get("AWSTemplateFormatVersion") {
            if version.as_str() != Some("2010-09-09") {
                reader
                    .error(
                        version.pos,
                        "AWSTemplateFormatVersion",
                        format!(
                            "{} is not a template format version",
                            version.as_str().unwrap_or("this")
                        ),
                    )
                    .hint("use '2010-09-09', the only version");
            }
        }
        match top.get("Resources").map(|r| (r, r.as_map())) {
            Some((_, Some(entries))) => {
                for (key, node) in entries {
                    if let Some((first_file, first_pos)) = declared_in.get(&key.name) {
                        reader
                            .error(key.pos, &key.name, format!("logical ID {:?} is already declared at {first_file}:{first_pos}", key.name))
                            .hint("logical IDs must be unique across the files of one stack");
                        continue;
                    }
                    declared_in.insert(key.name.clone(), (file.to_string(), key.pos));
                    let type_name = node
                        .get("Type")
                        .and_then(Node::as_str)
                        .unwrap_or_default()
                        .to_string();
                    index.resources.insert(
                        key.name.clone(),
                        Entry {
                            file: file.to_string(),
                            type_name,
                            node: node.clone(),
                            key_pos: key.pos,
                        },
                    );
                }
            }
            Some((resources, None)) => {
                reader.error(
                    resources.pos,
                    "Resources",
                    format!(
                        "must be a mapping of logical IDs to resources, found {}",
                        resources.kind_name()
                    ),
                );
            }
            None => {
                reader.error(
                    template.root.pos,
                    "",
                    "a template needs a Resources section",
                );
            }
        }
        if let Some(mappings) = top.get("Mappings").and_then(Node::as_map) {
            for (key, node) in mappings {
                index.mappings.insert(key.name.clone(), node.clone());
            }
        }
        if let Some(conditions) = top.get("Conditions").and_then(Node::as_map) {
            for (key, node) in conditions {
                index
                    .conditions
                    .insert(key.name.clone(), (file.to_string(), node.clone()));
            }
        }
        if let Some(parameters) = top.get("Parameters") {
            read_parameters(
                &mut reader,
                parameters,
                options,
                &mut index,
                &mut used_parameters,
            );
        }
    }
    for name in options.parameters.keys() {
        if all_parsed && !used_parameters.contains(name) {
            let known: Vec<&str> = used_parameters.iter().map(String::as_str).collect();
            let diag = diags.push(
                Severity::Error,
                "command line",
                None,
                format!("--parameter {name}"),
                format!("no template in these files declares a parameter {name:?}"),
            );
            if let Some(s) = did_you_mean(name, known) {
                diag.hint(format!("did you mean {s:?}?"));
            }
        }
    }

    let mut resolver = Resolver::new(&index, options);
    let mut suggestions = Suggestions::default();
    for (logical_id, entry) in &index.resources {
        let mut reader = Reader::new(&entry.file, logical_id, entry.key_pos, diags);
        let Some(rf) = reader.fields(&entry.node, "", "", RESOURCE_FIELDS) else {
            continue;
        };
        let Some(type_name) = reader
            .required(&rf, "Type")
            .and_then(|n| reader.string(n, "Type", "Type"))
        else {
            continue;
        };
        if let Some(depends) = rf.get("DependsOn") {
            let targets: Vec<&Node> = match &depends.value {
                Value::Seq(items) => items.iter().collect(),
                _ => vec![depends],
            };
            for target in targets {
                if let Some(t) = target.as_str() {
                    if !index.resources.contains_key(t) {
                        let suggestion =
                            suggestions.did_you_mean(t, index.resources.keys().map(String::as_str));
                        let diag = reader.error(
                            target.pos,
                            "DependsOn",
                            format!("{t:?} is not a logical ID in these files"),
                        );
                        if let Some(s) = suggestion {
                            diag.hint(format!("did you mean {s:?}?"));
                        }
                    }
                }
            }
        }
        resolver.at(&entry.file, logical_id);
        if let Some(condition) = rf.get("Condition") {
            let Some(name) = condition.as_str() else {
                reader.error(
                    condition.pos,
                    "Condition",
                    "must name a condition of the Conditions section",
                );
                continue;
            };
            match resolver.condition(name, condition.pos, "Condition") {
                Some(true) => {}
                Some(false) | None => continue,
            }
        }
        let origin = Origin {
            file: entry.file.clone(),
            logical_id: logical_id.clone(),
            pos: entry.key_pos,
            fields: BTreeMap::new(),
        };
        if !MANAGED_TYPES.contains(&type_name.as_str()) {
            if BACKUP_TYPES_NOT_MANAGED.contains(&type_name.as_str()) {
                reader.warning(entry.key_pos, "Type", format!("{type_name} is not managed by Coffer yet; it is listed but nothing is created"));
            } else if type_name.starts_with("AWS::Backup::") {
                let diag = reader.error(
                    entry.key_pos,
                    "Type",
                    format!("{type_name} is not an AWS Backup resource type"),
                );
                if let Some(s) = did_you_mean(
                    &type_name,
                    MANAGED_TYPES
                        .iter()
                        .chain(BACKUP_TYPES_NOT_MANAGED)
                        .copied(),
                ) {
                    diag.hint(format!("did you mean {s:?}?"));
                }
                continue;
            } else {
                match type_shape(&type_name) {
                    TypeShape::Aws => {}
                    TypeShape::Custom => {
                        reader.warning(entry.key_pos, "Type", format!("{type_name} is a custom resource: Coffer does not run the code behind it; it is listed but nothing is created"));
                    }
                    TypeShape::Registry => {
                        reader.warning(entry.key_pos, "Type", format!("{type_name} is a CloudFormation registry extension, which Coffer does not run; it is listed but nothing is created"));
                    }
                    TypeShape::Malformed => {
                        reader.error(
                            entry.key_pos,
                            "Type",
                            format!("{type_name:?} is not a resource type (expected AWS::Service::Kind)"),
                        );
                        continue;
                    }
                }
            }
            let name = resolver
                .name_of(logical_id)
                .unwrap_or_else(|| logical_id.clone());
            loaded.set.unmanaged.push(Unmanaged {
                logical_id: logical_id.clone(),
                arn: unmanaged_arn(
                    &type_name,
                    logical_id,
                    &name,
                    options.account.as_str(),
                    options.region.as_str(),
                ),
                type_name,
                file: entry.file.clone(),
            });
            continue;
        }
        let Some(props) = reader.required(&rf, "Properties") else {
            continue;
        };
        let resolved = resolve_properties(&mut resolver, &type_name, props);
        match type_name.as_str() {
            "AWS::Backup::BackupVault" => match cfn::read_vault(&mut reader, &resolved, options) {
                Some(v) => loaded.set.vaults.push(declared(v, origin, &reader)),
                None => {
                    if let Some(name) = resolver.name_of(logical_id) {
                        loaded.set.incomplete_vaults.push(name);
                    }
                }
            },
            "AWS::Backup::BackupPlan" => match cfn::read_plan(&mut reader, &resolved) {
                Some(v) => loaded.set.plans.push(declared(v, origin, &reader)),
                None => {
                    if let Some(name) = resolver.name_of(logical_id) {
                        loaded.set.incomplete_plans.push(name);
                    }
                }
            },
            "AWS::Backup::BackupSelection" => {
                if let Some(v) = cfn::read_selection(&mut reader, &resolved) {
                    loaded.set.selections.push(declared(v, origin, &reader));
                }
            }
            "AWS::Backup::Framework" => {
                match cfn::read_framework(&mut reader, &resolved, logical_id) {
                    Some(v) => loaded.set.frameworks.push(declared(v, origin, &reader)),
                    None => {
                        if let Some(name) = resolver.name_of(logical_id) {
                            loaded.set.incomplete_frameworks.push(name);
                        }
                    }
                }
            }
            "AWS::Backup::RestoreTestingPlan" => {
                match cfn::read_restore_testing_plan(&mut reader, &resolved) {
                    Some(v) => loaded
                        .set
                        .restore_testing_plans
                        .push(declared(v, origin, &reader)),
                    None => {
                        if let Some(name) = resolver.name_of(logical_id) {
                            loaded.set.incomplete_restore_testing_plans.push(name);
                        }
                    }
                }
            }
            "AWS::Backup::RestoreTestingSelection" => {
                if let Some(v) = cfn::read_restore_testing_selection(&mut reader, &resolved) {
                    loaded
                        .set
                        .restore_testing_selections
                        .push(declared(v, origin, &reader));
                }
            }
            "AWS::IAM::User" => match cfn::read_user(&mut reader, &resolved, logical_id) {
                Some(v) => loaded.set.users.push(declared(v, origin, &reader)),
                None => {
                    if let Some(name) = resolver.name_of(logical_id) {
                        loaded.set.incomplete_users.push(name);
                    }
                }
            },
            "AWS::IAM::ManagedPolicy" => {
                match cfn::read_managed_policy(&mut reader, &resolved, logical_id) {
                    Some(v) => loaded
                        .set
                        .managed_policies
                        .push(declared(v, origin, &reader)),
                    None => {
                        if let Some(name) = resolver.name_of(logical_id) {
                            loaded.set.incomplete_managed_policies.push(name);
                        }
                    }
                }
            }
            "AWS::IAM::Role" => {
                if let Some(v) = cfn::read_role(&mut reader, &resolved, logical_id) {
                    loaded.set.roles.push(declared(v, origin, &reader));
                }
            }
            _ => {
                if let Some(v) = cfn::read_report_plan(&mut reader, &resolved, logical_id) {
                    loaded.set.report_plans.push(declared(v, origin, &reader));
                }
            }
        }
    }
    resolver.in_outputs = true;
    for template in templates {
        if let Some(outputs) = template.root.get("Outputs").and_then(Node::as_map) {
            for (key, output) in outputs {
                resolver.at(&template.label, &format!("Outputs.{}", key.name));
                if let Some(value) = output.get("Value") {
                    resolver.resolve(value, "Value");
                }
            }
        }
    }
    let resolver_diags = std::mem::take(&mut resolver.diags);
    diags.extend(resolver_diags);
}

/// What a resource type Coffer does not manage is, by its name alone
/// (Coffer cannot know every AWS type, so an unknown one is listed).
enum TypeShape {
    /// `AWS::Service::Kind`.
    Aws,
    /// `Custom::Name` or `AWS::CloudFormation::CustomResource`: code that a
    /// Lambda function or SNS topic runs.
    Custom,
    /// A third-party type (`Org::Service::Kind`) or module
    /// (`Org::Service::Name::MODULE`) of the CloudFormation registry.
    Registry,
    /// Anything else, which AWS rejects.
    Malformed,
}

fn type_shape(type_name: &str) -> TypeShape {
    let parts: Vec<&str> = type_name.split("::").collect();
    let word = |part: &&str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@'))
    };
    if !parts.iter().all(word) {
        return TypeShape::Malformed;
    }
    match parts.as_slice() {
        ["AWS", "CloudFormation", "CustomResource"] | ["Custom", _] => TypeShape::Custom,
        ["AWS", _, _] => TypeShape::Aws,
        ["AWS", ..] | ["Custom", ..] => TypeShape::Malformed,
        [_, _, _] | [_, _, _, "MODULE"] => TypeShape::Registry,
        _ => TypeShape::Malformed,
    }
}

/// An object read by `reader`, with the positions of its fields.
fn declared<T>(value: T, mut origin: Origin, reader: &Reader<'_>) -> Declared<T> {
    origin.fields = reader.positions();
    Declared { value, origin }
}

/// Resolves a resource's properties. A plan's fields are named from inside
/// `BackupPlan` (`CriticalPlan.BackupPlanRule[1]`), as its reader names them,
/// so both name a field the same way.
fn resolve_properties(resolver: &mut Resolver<'_>, type_name: &str, props: &Node) -> Node {
    match &props.value {
        Value::Map(entries)
            if type_name == "AWS::Backup::BackupPlan"
                && props.tag.is_none()
                && !entries
                    .iter()
                    .any(|(k, _)| k.name == "Ref" || k.name.starts_with("Fn::")) =>
        {
            let out = entries
                .iter()
                .map(|(key, value)| {
                    let path = if key.name == "BackupPlan" {
                        ""
                    } else {
                        key.name.as_str()
                    };
                    (key.clone(), resolver.resolve(value, path))
                })
                .collect();
            Node::new(Value::Map(out), props.pos)
        }
        _ => resolver.resolve(props, ""),
    }
}

fn read_parameters(
    reader: &mut Reader<'_>,
    parameters: &Node,
    options: &LoadOptions,
    index: &mut TemplateIndex,
    used: &mut Vec<String>,
) {
    let Some(entries) = parameters.as_map() else {
        reader.error(
            parameters.pos,
            "Parameters",
            "must be a mapping of parameter names to definitions",
        );
        return;
    };
    let known = [
        "Type",
        "Default",
        "AllowedValues",
        "AllowedPattern",
        "Description",
        "MinLength",
        "MaxLength",
        "MinValue",
        "MaxValue",
        "ConstraintDescription",
        "NoEcho",
    ];
    for (key, definition) in entries {
        let src = format!("Parameters.{}", key.name);
        used.push(key.name.clone());
        // Until a value is found: references to it are then already explained.
        index
            .parameters
            .insert(key.name.clone(), ParamValue::Missing);
        let Some(f) = reader.fields(definition, &src, &src, &known) else {
            continue;
        };
        let Some(param_type) = reader
            .required(&f, "Type")
            .and_then(|n| reader.string(n, &f.src("Type"), &f.model("Type")))
        else {
            continue;
        };
        let no_echo = f
            .get("NoEcho")
            .and_then(|n| reader.boolean(n, &f.src("NoEcho"), &f.model("NoEcho")))
            .unwrap_or(false);
        let constraint = f
            .get("ConstraintDescription")
            .and_then(|n| {
                reader.string(
                    n,
                    &f.src("ConstraintDescription"),
                    &f.model("ConstraintDescription"),
                )
            })
            .filter(|text| !text.trim().is_empty());
        // Read before the value, so that a bad pattern is reported even
        // when the parameter has no value.
        let pattern = f
            .get("AllowedPattern")
            .and_then(|n| allowed_pattern(reader, n, &f.src("AllowedPattern")));
        let given = options.parameters.get(&key.name).cloned();
        // Where a bad value was written: its Default, or the parameter's name
        // when it came from the command line.
        let value_pos = match (&given, f.get("Default")) {
            (None, Some(n)) => n.pos,
            _ => key.pos,
        };
        let type_pos = f.get("Type").map_or(key.pos, |n| n.pos);
        let default = match f.get("Default") {
            None => None,
            Some(n) => match &n.value {
                Value::Null => None,
                Value::Seq(items) => Some(
                    items
                        .iter()
                        .filter_map(Node::scalar_text)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                _ => match n.scalar_text() {
                    Some(text) => Some(text.to_string()),
                    None => {
                        reader.error(
                            n.pos,
                            &f.src("Default"),
                            format!(
                                "must be a string, a number or a list, found {}",
                                n.kind_name()
                            ),
                        );
                        continue;
                    }
                },
            },
        };
        let Some(raw) = given.or(default) else {
            reader
                .error(
                    key.pos,
                    &src,
                    format!("parameter {} has no value", key.name),
                )
                .hint(format!(
                    "give it a Default, or pass a value for parameter {}",
                    key.name
                ));
            continue;
        };
        // A NoEcho value is a secret: no message repeats it.
        let shown = if no_echo {
            "the value given".to_string()
        } else {
            format!("value {raw:?}")
        };
        // A value that breaks a constraint: CloudFormation then shows the
        // ConstraintDescription, when there is one.
        let refuse = |reader: &mut Reader<'_>, message: String| {
            let diag = reader.error(value_pos, &src, message);
            if let Some(constraint) = &constraint {
                diag.hint(constraint.clone());
            }
        };
        if let Some(allowed) = f.get("AllowedValues") {
            let allowed_values: Vec<String> =
                reader.string_list(allowed, &f.src("AllowedValues"), &f.model("AllowedValues"));
            if !allowed_values.is_empty() && !allowed_values.contains(&raw) {
                refuse(
                    reader,
                    format!(
                        "{shown} is not one of the AllowedValues ({})",
                        allowed_values.join(", ")
                    ),
                );
                continue;
            }
        }
        let value = match param_type.as_str() {
            "String" => {
                let length = raw.chars().count();
                if let Some(bound) = outside(&f, "MinLength", "MaxLength", length as f64) {
                    refuse(
                        reader,
                        format!(
                            "{shown} ({length} character{}) is {bound}",
                            if length == 1 { "" } else { "s" }
                        ),
                    );
                    continue;
                }
                ParamValue::Str(raw)
            }
            "Number" => {
                let Ok(number) = raw.trim().parse::<f64>() else {
                    refuse(reader, format!("{shown} is not a Number"));
                    continue;
                };
                if let Some(bound) = outside(&f, "MinValue", "MaxValue", number) {
                    refuse(reader, format!("{shown} is {bound}"));
                    continue;
                }
                ParamValue::Str(raw)
            }
            "CommaDelimitedList" | "List<Number>" | "List<String>" => {
                ParamValue::List(raw.split(',').map(|s| s.trim().to_string()).collect())
            }
            t if t.starts_with("AWS::SSM::") => {
                reader
                    .error(type_pos, &f.src("Type"), format!("{t} parameters are read from AWS Systems Manager, which Coffer cannot reach"))
                    .hint("change the Type to String and pass the value as a parameter");
                continue;
            }
            t if t.starts_with("List<") => {
                ParamValue::List(raw.split(',').map(|s| s.trim().to_string()).collect())
            }
            t if t.starts_with("AWS::") => ParamValue::Str(raw),
            other => {
                let types = ["String", "Number", "CommaDelimitedList", "List<Number>"];
                let diag = reader.error(
                    type_pos,
                    &f.src("Type"),
                    format!("{other:?} is not a parameter type"),
                );
                if let Some(s) = did_you_mean(other, types) {
                    diag.hint(format!("did you mean {s:?}?"));
                }
                continue;
            }
        };
        // The pattern must match the whole value (CloudFormation's rule), or
        // each item of a list; it applies to strings, not numbers.
        let numeric = matches!(param_type.as_str(), "Number" | "List<Number>");
        if let Some((text, regex)) = pattern.as_ref().filter(|_| !numeric) {
            let mismatch = match &value {
                ParamValue::Str(v) => (!regex.is_match(v)).then(|| shown.clone()),
                ParamValue::List(items) => {
                    items.iter().find(|item| !regex.is_match(item)).map(|item| {
                        if no_echo {
                            "an item of the value given".to_string()
                        } else {
                            format!("item {item:?} of {shown}")
                        }
                    })
                }
                ParamValue::Missing => None,
            };
            if let Some(what) = mismatch {
                refuse(
                    reader,
                    format!("{what} does not match the AllowedPattern {text:?}"),
                );
                continue;
            }
        }
        index.parameters.insert(key.name.clone(), value);
    }
}

/// A parameter's AllowedPattern, compiled to match whole values. `None` when
/// it cannot be used (reported).
fn allowed_pattern(
    reader: &mut Reader<'_>,
    node: &Node,
    src: &str,
) -> Option<(String, regex_lite::Regex)> {
    let text = reader.string(node, src, src)?;
    match regex_lite::Regex::new(&format!("^(?:{text})$")) {
        Ok(regex) => Some((text, regex)),
        // Java's regular expressions, which CloudFormation uses, have these.
        Err(err) if err.to_string().contains("not supported") => {
            reader
                .warning(
                    node.pos,
                    src,
                    format!("{text:?} cannot be checked by Coffer: {err}; values are not checked against it"),
                )
                .hint("write the pattern without look-around, backreferences, Unicode classes or nested classes");
            None
        }
        Err(err) => {
            reader.error(
                node.pos,
                src,
                format!("{text:?} is not a regular expression: {err}"),
            );
            None
        }
    }
}

/// Which of a parameter's `min`/`max` constraints `value` breaks, if any
/// (`below MinValue (1)`).
fn outside(f: &Fields<'_>, min: &str, max: &str, value: f64) -> Option<String> {
    let limit = |name: &str| {
        f.get(name)
            .and_then(Node::scalar_text)
            .and_then(|t| t.trim().parse::<f64>().ok())
    };
    match (limit(min), limit(max)) {
        (Some(low), _) if value < low => Some(format!("below {min} ({low})")),
        (_, Some(high)) if value > high => Some(format!("above {max} ({high})")),
        _ => None,
    }
}

/// Checks what the objects of the set say about each other: unique names,
/// selections naming plans, report plans naming frameworks, rules whose
/// retention their vault's lock will refuse.
fn check_set(loaded: &mut Loaded) {
    let set = &loaded.set;
    let diags = &mut loaded.diagnostics;
    fn duplicates<T>(
        diags: &mut Diagnostics,
        files: &[SourceFile],
        items: &[Declared<T>],
        what: &str,
        key: impl Fn(&T) -> String,
    ) {
        // In file order, so that the later declaration is the one reported
        // (objects come in logical-ID order).
        let file_indexes: HashMap<&str, usize> = files
            .iter()
            .enumerate()
            .map(|(idx, f)| (f.path.as_str(), idx))
            .rev()
            .collect();
        let file_index = |o: &Origin| {
            file_indexes
                .get(o.file.as_str())
                .copied()
                .unwrap_or(usize::MAX)
        };
        let mut ordered: Vec<&Declared<T>> = items.iter().collect();
        ordered.sort_by_key(|d| (file_index(&d.origin), d.origin.pos));
        let mut seen: BTreeMap<String, &Origin> = BTreeMap::new();
        for item in ordered {
            let k = key(&item.value);
            if let Some(first) = seen.get(&k) {
                diags
                    .push(
                        Severity::Error,
                        &item.origin.file,
                        Some(item.origin.pos),
                        item.origin.logical_id.clone(),
                        format!(
                            "{what} {k:?} is already declared by {} ({}:{})",
                            first.logical_id, first.file, first.pos
                        ),
                    )
                    .hint("names must be unique within an account and region");
            } else {
                seen.insert(k, &item.origin);
            }
        }
    }
    duplicates(diags, &set.files, &set.vaults, "backup vault", |v| {
        v.backup_vault_name.clone()
    });
    duplicates(diags, &set.files, &set.plans, "backup plan", |p| {
        p.backup_plan_name.clone()
    });
    duplicates(diags, &set.files, &set.selections, "selection", |s| {
        format!("{}/{}", s.backup_plan_name, s.selection_name)
    });
    duplicates(diags, &set.files, &set.frameworks, "framework", |f| {
        f.framework_name.clone()
    });
    duplicates(diags, &set.files, &set.report_plans, "report plan", |r| {
        r.report_plan_name.clone()
    });
    duplicates(
        diags,
        &set.files,
        &set.restore_testing_plans,
        "restore testing plan",
        |p| p.restore_testing_plan_name.clone(),
    );
    duplicates(
        diags,
        &set.files,
        &set.restore_testing_selections,
        "restore testing selection",
        |s| {
            format!(
                "{}/{}",
                s.restore_testing_plan_name, s.restore_testing_selection_name
            )
        },
    );
    duplicates(diags, &set.files, &set.resources, "resource", |r| {
        r.resource_arn.to_string()
    });
    duplicates(diags, &set.files, &set.servers, "server", |s| {
        s.name.clone()
    });
    duplicates(diags, &set.files, &set.endpoints, "S3 endpoint", |e| {
        e.name.clone()
    });
    duplicates(diags, &set.files, &set.users, "IAM user", |u| {
        u.user_name.clone()
    });
    duplicates(
        diags,
        &set.files,
        &set.managed_policies,
        "managed policy",
        |p| p.managed_policy_name.clone(),
    );
    duplicates(diags, &set.files, &set.roles, "IAM role", |r| {
        r.role_name.clone()
    });
}

/// Names that objects of a set may refer to without declaring them: objects
/// of other stacks already in the catalog.
#[derive(Clone, Debug, Default)]
pub struct External {
    /// Vault name → its lock, if any.
    pub vaults: BTreeMap<String, Option<coffer_model::VaultLockConfiguration>>,
    pub plans: Vec<String>,
    pub framework_arns: Vec<String>,
    /// IAM user names of the account.
    pub users: Vec<String>,
    /// Managed policy ARNs of the account.
    pub managed_policy_arns: Vec<String>,
}

/// Checks references between objects: rules to vaults, copy actions to
/// vault locks, selections to plans, report plans to frameworks.
///
/// With `strict`, a reference to something neither declared nor in
/// `external` is an error (plan/apply, which know the catalog); otherwise a
/// warning (validate, which reads only files).
pub fn check_references(
    set: &PolicySet,
    options: &LoadOptions,
    external: &External,
    strict: bool,
    diags: &mut Diagnostics,
) {
    let severity = if strict {
        Severity::Error
    } else {
        Severity::Warning
    };
    let mut suggestions = Suggestions::default();
    let missing_note = if strict {
        "it is not declared in these files nor in the catalog"
    } else {
        "it is not declared in these files; apply will need it in the catalog"
    };
    // Rules target vaults of this account and region, by name: the declared
    // ones and those of other stacks.
    let mut vaults: BTreeMap<String, Option<coffer_model::VaultLockConfiguration>> =
        external.vaults.clone();
    for v in &set.vaults {
        vaults.insert(
            v.value.backup_vault_name.clone(),
            v.value.lock_configuration,
        );
    }
    // Copy actions name their destination by ARN, which may be a vault of
    // another account or region: only a vault known here has a known lock.
    let locks: BTreeMap<String, (&str, coffer_model::VaultLockConfiguration)> = vaults
        .iter()
        .filter_map(|(name, lock)| {
            let arn = coffer_model::Arn::backup_vault(&options.region, &options.account, name);
            lock.map(|lock| (arn.to_string(), (name.as_str(), lock)))
        })
        .collect();
    let incomplete_vaults: BTreeSet<&str> =
        set.incomplete_vaults.iter().map(String::as_str).collect();
    for plan in &set.plans {
        let o = &plan.origin;
        for (idx, rule) in plan.value.rules.iter().enumerate() {
            let rule_src = format!("BackupPlanRule[{idx}]");
            let subject = format!("{}.{rule_src}", o.logical_id);
            match vaults.get(&rule.target_backup_vault_name) {
                // An invalid name is already an error: it cannot exist anyway.
                None if NameKind::BackupVault
                    .check(&rule.target_backup_vault_name)
                    .is_err() => {}
                // Declared, with errors already reported.
                None if incomplete_vaults.contains(rule.target_backup_vault_name.as_str()) => {}
                None => {
                    let suggestion = suggestions.did_you_mean(
                        &rule.target_backup_vault_name,
                        vaults.keys().map(String::as_str),
                    );
                    let diag = diags.push(
                        severity,
                        &o.file,
                        Some(o.at(&[&format!("{rule_src}.TargetBackupVault")])),
                        format!("{subject}.TargetBackupVault"),
                        format!(
                            "backup vault {:?} does not exist: {missing_note}",
                            rule.target_backup_vault_name
                        ),
                    );
                    if let Some(s) = suggestion {
                        diag.hint(format!("did you mean {s:?}?"));
                    }
                }
                Some(Some(lock)) => {
                    if let Err(reason) = lock.check_retention(rule.lifecycle.delete_after_days) {
                        diags
                            .push(
                                Severity::Warning,
                                &o.file,
                                Some(o.at(&[&format!("{rule_src}.Lifecycle"), &rule_src])),
                                format!("{subject}.Lifecycle"),
                                format!(
                                    "every job of this rule will fail: {reason} of vault {:?}",
                                    rule.target_backup_vault_name
                                ),
                            )
                            .hint("align DeleteAfterDays with the vault lock");
                    }
                }
                Some(None) => {}
            }
            for (c_idx, action) in rule.copy_actions.iter().enumerate() {
                let Ok(dest_arn) = coffer_model::Arn::parse(&action.destination_backup_vault_arn)
                else {
                    continue;
                };
                if let Some((dest, lock)) = locks.get(&dest_arn.to_string()) {
                    if let Err(reason) = lock.check_retention(action.lifecycle.delete_after_days) {
                        let action = format!("{rule_src}.CopyActions[{c_idx}]");
                        diags
                            .push(Severity::Warning, &o.file, Some(o.at(&[&format!("{action}.Lifecycle"), &action])), format!("{}.{action}.Lifecycle", o.logical_id), format!("every copy of this action will fail: {reason} of vault {dest:?}"))
                            .hint("align the copy's DeleteAfterDays with the destination vault lock");
                    }
                }
            }
        }
    }
    // Sets, not lists: each selection looks its plan up.
    let mut plans: BTreeSet<&str> = external.plans.iter().map(String::as_str).collect();
    plans.extend(set.plans.iter().map(|p| p.value.backup_plan_name.as_str()));
    plans.extend(set.incomplete_plans.iter().map(String::as_str));
    for selection in &set.selections {
        let o = &selection.origin;
        if !plans.contains(selection.value.backup_plan_name.as_str()) {
            let suggestion =
                suggestions.did_you_mean(&selection.value.backup_plan_name, plans.iter().copied());
            let diag = diags.push(
                severity,
                &o.file,
                Some(o.at(&["BackupPlanId"])),
                format!("{}.BackupPlanId", o.logical_id),
                format!(
                    "backup plan {:?} does not exist: {missing_note}",
                    selection.value.backup_plan_name
                ),
            );
            match suggestion {
                Some(s) => diag.hint(format!("did you mean {s:?}?")),
                None => diag.hint("use !Ref to the AWS::Backup::BackupPlan resource"),
            };
        }
    }
    let testing_plans: BTreeSet<&str> = set
        .restore_testing_plans
        .iter()
        .map(|p| p.value.restore_testing_plan_name.as_str())
        .chain(
            set.incomplete_restore_testing_plans
                .iter()
                .map(String::as_str),
        )
        .collect();
    for selection in &set.restore_testing_selections {
        let o = &selection.origin;
        let plan = selection.value.restore_testing_plan_name.as_str();
        if !testing_plans.contains(plan) {
            let suggestion = suggestions.did_you_mean(plan, testing_plans.iter().copied());
            let diag = diags.push(
                Severity::Error,
                &o.file,
                Some(o.at(&["RestoreTestingPlanName"])),
                format!("{}.RestoreTestingPlanName", o.logical_id),
                format!("restore testing plan {plan:?} is not declared in these files"),
            );
            match suggestion {
                Some(s) => diag.hint(format!("did you mean {s:?}?")),
                None => diag.hint(
                    "declare the AWS::Backup::RestoreTestingPlan in the same stack and use !Ref to it",
                ),
            };
        }
    }
    let mut frameworks: BTreeSet<String> = external.framework_arns.iter().cloned().collect();
    let declared = set.frameworks.iter().map(|f| &f.value.framework_name);
    for name in declared.chain(&set.incomplete_frameworks) {
        let arn = coffer_model::Arn::framework(&options.region, &options.account, name);
        frameworks.insert(arn.to_string());
    }
    for report in &set.report_plans {
        let o = &report.origin;
        for (idx, arn) in report
            .value
            .report_setting
            .framework_arns
            .iter()
            .enumerate()
        {
            if !frameworks.contains(arn) {
                diags
                    .push(
                        severity,
                        &o.file,
                        Some(o.at(&[&format!("ReportSetting.FrameworkArns[{idx}]")])),
                        format!("{}.ReportSetting.FrameworkArns[{idx}]", o.logical_id),
                        format!("framework {arn:?} does not exist: {missing_note}"),
                    )
                    .hint("use !GetAtt MyFramework.FrameworkArn");
            }
        }
    }
    check_iam_references(set, options, external, severity, missing_note, diags);
}

/// Users naming managed policies, managed policies naming users: each must
/// be declared here or already be in the account.
fn check_iam_references(
    set: &PolicySet,
    options: &LoadOptions,
    external: &External,
    severity: Severity,
    missing_note: &str,
    diags: &mut Diagnostics,
) {
    let mut suggestions = Suggestions::default();
    let mut users: BTreeSet<&str> = external.users.iter().map(String::as_str).collect();
    users.extend(set.users.iter().map(|u| u.value.user_name.as_str()));
    users.extend(set.incomplete_users.iter().map(String::as_str));
    let mut policies: BTreeSet<String> = external.managed_policy_arns.iter().cloned().collect();
    let declared = set
        .managed_policies
        .iter()
        .map(|p| &p.value.managed_policy_name);
    for name in declared.chain(&set.incomplete_managed_policies) {
        policies.insert(coffer_model::managed_policy_arn(&options.account, name));
    }
    for policy in &set.managed_policies {
        let o = &policy.origin;
        for (idx, user) in policy.value.users.iter().enumerate() {
            if users.contains(user.as_str()) {
                continue;
            }
            let suggestion = suggestions.did_you_mean(user, users.iter().copied());
            let diag = diags.push(
                severity,
                &o.file,
                Some(o.at(&[&format!("Users[{idx}]"), "Users"])),
                format!("{}.Users[{idx}]", o.logical_id),
                format!("IAM user {user:?} does not exist: {missing_note}"),
            );
            match suggestion {
                Some(s) => diag.hint(format!("did you mean {s:?}?")),
                None => diag.hint("declare it as an AWS::IAM::User and name it with !Ref"),
            };
        }
    }
    let named = set
        .users
        .iter()
        .map(|u| (&u.origin, &u.value.managed_policy_arns))
        .chain(
            set.roles
                .iter()
                .map(|r| (&r.origin, &r.value.managed_policy_arns)),
        );
    for (o, arns) in named {
        for (idx, arn) in arns.iter().enumerate() {
            if policies.contains(arn) {
                continue;
            }
            let field = format!("ManagedPolicyArns[{idx}]");
            let at = Some(o.at(&[&field, "ManagedPolicyArns"]));
            let subject = format!("{}.{field}", o.logical_id);
            if arn.starts_with("arn:aws:iam::aws:policy/") {
                // AWS's own managed policies (a backup role's service
                // policy) mean nothing here; a role names them often.
                diags
                    .push(
                        Severity::Warning,
                        &o.file,
                        at,
                        subject,
                        format!("{arn:?} is an AWS managed policy, which Coffer does not have; it grants nothing here"),
                    )
                    .hint("write the permissions as an AWS::IAM::ManagedPolicy of this template");
                continue;
            }
            let suggestion = suggestions.did_you_mean(arn, policies.iter().map(String::as_str));
            let diag = diags.push(
                severity,
                &o.file,
                at,
                subject,
                format!("managed policy {arn:?} does not exist: {missing_note}"),
            );
            match suggestion {
                Some(s) => diag.hint(format!("did you mean {s:?}?")),
                None => diag.hint(
                    "declare it as an AWS::IAM::ManagedPolicy and name it with !Ref (its ARN)",
                ),
            };
        }
    }
}
