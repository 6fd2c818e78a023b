//! Restore testing: scheduled restore drills, as AWS Backup's restore
//! testing plans run them.
//!
//! Each plan fires on its schedule (in its time zone, from when it was
//! applied); at each fire time, every selection of the plan tests each
//! resource it selects: one recovery point is chosen (the newest, or one at
//! random, among the completed points of the resource created within
//! `SelectionWindowDays` before the fire time, in a vault `IncludeVaults`
//! names and `ExcludeVaults` does not), and a restore job is recorded for it
//! with an ID derived from (plan, selection, resource, fire time), so a
//! restarted scheduler, or a second one, records each test once. Its
//! scratch target (a new directory, a new file, a new database with a
//! generated name on the source's server) is named in the job's
//! `RestoreMetadata` when the job is recorded, before anything is restored.
//!
//! A test restores the point there (the job's duration is the restore's
//! alone), runs Coffer's validation of the point (read-back, digests,
//! table counts and checksums) and the selection's hook (a command, or an
//! SQL query whose result must match), records `ValidationStatus` as
//! `PutRestoreValidationResult` would (SUCCESSFUL, FAILED with the hook's
//! output, TIMED_OUT past `ValidationWindowHours`), then deletes the scratch
//! target and records `DeletionStatus`. A scratch target a dead process
//! left is removed by the next start ([`remove_leftovers`]), which records
//! why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use coffer_catalog::ObjectKind;
use coffer_drivers::RestoreTarget;
use coffer_model::restore_metadata::{test_overrides, TestOverrides};
use coffer_model::{
    DeletionStatus, RecoveryPoint, RecoveryPointStatus, Resource, ResourceType, RestoreJob,
    RestoreJobCreator, RestoreJobStatus, RestoreTestingPlan, RestoreTestingSelection, Schedule,
    ScheduleExpression, Server, ValidationHook, ValidationStatus,
};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::env::{Env, ServerLookup};
use crate::error::Result;
use crate::exec;
use crate::jobs;
use crate::scheduling::derived_id;

/// `Algorithm` values.
pub const LATEST_WITHIN_WINDOW: &str = "LATEST_WITHIN_WINDOW";
pub const RANDOM_WITHIN_WINDOW: &str = "RANDOM_WITHIN_WINDOW";

/// How long a hook may run when the selection gives no
/// `ValidationWindowHours` (AWS's largest window).
const DEFAULT_VALIDATION_WINDOW_HOURS: u32 = 168;

/// At most this much of a hook's output goes into the job's message.
const HOOK_OUTPUT_CHARS: usize = 2_000;

/// The restore metadata key naming the directory a test's scratch target
/// lives in (files and directories), removed whole afterwards. A Coffer
/// extension beside StartRestoreJob's keys.
pub const SCRATCH_DIRECTORY: &str = "ScratchDirectory";

/// The restore metadata key naming the scratch prefix (in `TargetBucket`,
/// on `TargetEndpoint`) a test of a bucket restores into, removed whole
/// afterwards, every version and delete marker under it too. A Coffer
/// extension beside StartRestoreJob's keys.
pub const SCRATCH_PREFIX: &str = "ScratchPrefix";

/// The restore metadata key naming the selection a test is for.
pub const SELECTION: &str = "RestoreTestingSelectionName";

/// A restore testing plan as applied, with its selections.
#[derive(Clone, Debug)]
pub struct AppliedPlan {
    pub account_id: String,
    pub region: String,
    pub arn: String,
    pub plan: RestoreTestingPlan,
    pub selections: Vec<RestoreTestingSelection>,
    /// When it was first applied: nothing fires before.
    pub created_at: Timestamp,
}

/// Every applied restore testing plan with its selections.
///
/// # Errors
/// Catalog errors; an unreadable plan or selection is logged and skipped.
pub async fn applied_plans(env: &Env) -> Result<Vec<AppliedPlan>> {
    let mut selections: BTreeMap<(String, String, String), Vec<RestoreTestingSelection>> =
        BTreeMap::new();
    for object in env
        .catalog
        .list_objects(ObjectKind::RestoreTestingSelection)
        .await?
    {
        match serde_json::from_value::<RestoreTestingSelection>(object.doc) {
            Ok(s) => selections
                .entry((
                    object.account_id,
                    object.region,
                    s.restore_testing_plan_name.clone(),
                ))
                .or_default()
                .push(s),
            Err(error) => {
                tracing::error!(selection = %object.name, %error, "unreadable restore testing selection")
            }
        }
    }
    let mut out = Vec::new();
    for object in env
        .catalog
        .list_objects(ObjectKind::RestoreTestingPlan)
        .await?
    {
        match serde_json::from_value::<RestoreTestingPlan>(object.doc) {
            Ok(plan) => out.push(AppliedPlan {
                selections: selections
                    .remove(&(
                        object.account_id.clone(),
                        object.region.clone(),
                        plan.restore_testing_plan_name.clone(),
                    ))
                    .unwrap_or_default(),
                account_id: object.account_id,
                region: object.region,
                arn: object.arn,
                plan,
                created_at: object.created_at,
            }),
            Err(error) => {
                tracing::error!(plan = %object.name, %error, "unreadable restore testing plan")
            }
        }
    }
    Ok(out)
}

/// The fire times of `plan` in `from < t <= to`, none before it existed.
///
/// # Errors
/// A schedule that cannot be evaluated, in words.
pub fn fire_times(
    plan: &AppliedPlan,
    from: Timestamp,
    to: Timestamp,
) -> std::result::Result<Vec<Timestamp>, String> {
    let expression: ScheduleExpression = plan
        .plan
        .schedule_expression
        .parse()
        .map_err(|e: coffer_model::ScheduleError| e.to_string())?;
    let schedule = Schedule::new(
        expression,
        plan.plan.schedule_expression_timezone.as_deref(),
        plan.created_at,
    )
    .map_err(|e| e.to_string())?;
    let since = plan.created_at;
    let look_from = from.max(
        since
            .checked_sub(SignedDuration::from_secs(1))
            .unwrap_or(since),
    );
    if look_from >= to {
        return Ok(Vec::new());
    }
    Ok(schedule
        .fire_times_between(look_from, to)
        .into_iter()
        .filter(|t| *t >= since)
        .collect())
}

/// The ID of the test of `resource` by `selection` of `plan` at `fire_at`.
pub fn test_job_id(plan_arn: &str, selection: &str, resource: &str, fire_at: Timestamp) -> String {
    derived_id(&[
        "restore-test",
        plan_arn,
        selection,
        resource,
        &fire_at.to_string(),
    ])
}

/// The point a test at `fire_at` restores: among `points` (the resource's),
/// the completed ones created within the selection window before
/// `fire_at`, of an allowed type, in an allowed vault; the newest, or one
/// picked by `seed` (the job's ID, so a test replanned picks the same).
pub fn choose_point<'p>(
    plan: &RestoreTestingPlan,
    points: &'p [RecoveryPoint],
    fire_at: Timestamp,
    seed: &str,
) -> Option<&'p RecoveryPoint> {
    let selection = &plan.recovery_point_selection;
    // Coffer's points are all snapshots; none is continuous.
    if !selection
        .recovery_point_types
        .iter()
        .any(|t| t == "SNAPSHOT")
    {
        return None;
    }
    let earliest = fire_at
        .checked_sub(SignedDuration::from_hours(
            i64::from(selection.selection_window_days) * 24,
        ))
        .unwrap_or(Timestamp::MIN);
    let mut eligible: Vec<&RecoveryPoint> = points
        .iter()
        .filter(|p| {
            p.status == RecoveryPointStatus::Completed
                && p.snapshot_id.is_some()
                && p.creation_date >= earliest
                && p.creation_date <= fire_at
                && selection.vault_allowed(&p.backup_vault_arn)
        })
        .collect();
    eligible.sort_by(|a, b| {
        (a.creation_date, &a.recovery_point_id).cmp(&(b.creation_date, &b.recovery_point_id))
    });
    if selection.algorithm == RANDOM_WITHIN_WINDOW {
        if eligible.is_empty() {
            return None;
        }
        let digest = Sha256::digest(seed.as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        let len = u64::try_from(eligible.len()).unwrap_or(u64::MAX);
        let index = usize::try_from(u64::from_be_bytes(bytes) % len).unwrap_or(0);
        eligible.get(index).copied()
    } else {
        eligible.last().copied()
    }
}

/// Where a test of a point of `resource` restores to, as the job's
/// `RestoreMetadata` names it before anything is restored: generated from
/// its job ID under `scratch_root` (files), as a new database on the
/// resource's own server or the server `overrides` names (`TargetServer`),
/// or as a new prefix `coffer-restore-test-<id>/` in the source bucket on
/// the source's endpoint, or in the bucket and on the endpoint `overrides`
/// names (`TargetBucket`, `TargetEndpoint`); `None` for a type Coffer
/// cannot test.
pub fn scratch_metadata(
    resource: &Resource,
    job_id: &str,
    scratch_root: &Path,
    overrides: &TestOverrides,
) -> Option<BTreeMap<String, String>> {
    let short: String = job_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    let directory = scratch_root.join(format!("restore-test-{short}"));
    let mut metadata = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        metadata.insert(key.to_string(), value);
    };
    match resource.resource_type {
        ResourceType::FileSystem => {
            put(
                "TargetDirectory",
                directory.join("restored").display().to_string(),
            );
            put(SCRATCH_DIRECTORY, directory.display().to_string());
        }
        ResourceType::SQLite => {
            let file = Path::new(&resource.resource_name).file_name().map_or_else(
                || "restored.sqlite".into(),
                |n| n.to_string_lossy().to_string(),
            );
            put("TargetFile", directory.join(file).display().to_string());
            put(SCRATCH_DIRECTORY, directory.display().to_string());
        }
        ResourceType::PostgreSQL | ResourceType::MySQL => {
            put(
                "TargetDatabase",
                format!(
                    "{}{short}",
                    coffer_drivers::scratch::RESTORE_TEST_DATABASE_PREFIX
                ),
            );
            if let Some(server) = overrides.get("TargetServer") {
                put("TargetServer", server.to_string());
            }
        }
        ResourceType::S3 => {
            let bucket = overrides
                .get("TargetBucket")
                .or_else(|| resource.connection.get("bucket").map(String::as_str))?;
            let endpoint = overrides
                .get("TargetEndpoint")
                .or_else(|| resource.connection.get("endpoint").map(String::as_str))?;
            let prefix = format!("{}{short}/", coffer_drivers::s3::SCRATCH_KEY_PREFIX);
            put("TargetBucket", bucket.to_string());
            put("TargetPrefix", prefix.clone());
            put("TargetEndpoint", endpoint.to_string());
            put(SCRATCH_PREFIX, prefix);
        }
    }
    Some(metadata)
}

/// The restore target a test's `RestoreMetadata` names, its server or S3
/// endpoint resolved.
///
/// # Errors
/// A key missing, a server or endpoint no longer declared, in words.
pub async fn scratch_target(
    env: &Env,
    job: &RestoreJob,
    resource: &Resource,
) -> std::result::Result<RestoreTarget, String> {
    let metadata = &job.restore_metadata;
    let get = |key: &str| {
        metadata.get(key).cloned().ok_or_else(|| {
            format!(
                "the restore test's RestoreMetadata names no {key}, so its scratch target is unknown"
            )
        })
    };
    match resource.resource_type {
        ResourceType::FileSystem => Ok(RestoreTarget::Directory {
            path: PathBuf::from(get("TargetDirectory")?),
            select: None,
        }),
        ResourceType::SQLite => Ok(RestoreTarget::File {
            path: PathBuf::from(get("TargetFile")?),
        }),
        ResourceType::PostgreSQL | ResourceType::MySQL => {
            let server = match metadata.get("TargetServer") {
                Some(name) => Some(Box::new(test_server(env, name, resource).await?)),
                None => None,
            };
            Ok(RestoreTarget::Database {
                name: get("TargetDatabase")?,
                table: None,
                server,
            })
        }
        ResourceType::S3 => {
            let endpoint = get("TargetEndpoint")?;
            let access = env
                .s3_endpoint_access(resource, &endpoint)
                .await
                .map_err(|e| e.to_string())??;
            Ok(RestoreTarget::Bucket(coffer_drivers::s3::BucketTarget {
                endpoint: Some(endpoint),
                access,
                bucket: get("TargetBucket")?,
                prefix: get(SCRATCH_PREFIX)?,
                select: None,
                versions: coffer_drivers::s3::RestoreVersions::Current,
            }))
        }
    }
}

/// The declared server `name` a test of `resource` restores on, of the
/// resource's engine.
async fn test_server(
    env: &Env,
    name: &str,
    resource: &Resource,
) -> std::result::Result<Server, String> {
    match env.declared_server(name).await.map_err(|e| e.to_string())? {
        ServerLookup::Found(server) if server.engine == resource.resource_type => Ok(*server),
        ServerLookup::Found(server) => Err(format!(
            "server {} (TargetServer) runs {}, and {} is a {} database; name a {} server in the selection's RestoreMetadataOverrides",
            server.name,
            server.engine.as_str(),
            resource.resource_arn,
            resource.resource_type.as_str(),
            resource.resource_type.as_str()
        )),
        ServerLookup::Missing(message) | ServerLookup::Ambiguous(message) => {
            Err(format!("TargetServer: {message}"))
        }
    }
}

/// What a hook is told of the restored copy.
struct Restored<'a> {
    target: &'a RestoreTarget,
    /// `COFFER_RESTORED`: a path, a database's name, `s3://bucket/prefix/`.
    place: String,
    /// `COFFER_RESTORED_ADDRESS`: a path, `postgresql://...`, or a
    /// bucket's S3 endpoint URL.
    address: String,
}

/// Where a test's copy was restored, for its hook.
fn restored_at<'a>(
    target: &'a RestoreTarget,
    resource: &Resource,
    outcome: &coffer_drivers::RestoreOutcome,
) -> Restored<'a> {
    let (place, address) = match target {
        RestoreTarget::Directory { path, .. } | RestoreTarget::File { path } => {
            (path.display().to_string(), outcome.created.clone())
        }
        RestoreTarget::Database { name, .. } => (name.clone(), outcome.created.clone()),
        RestoreTarget::Bucket(bucket) => (
            format!("s3://{}/{}", bucket.bucket, bucket.prefix),
            bucket
                .access
                .as_ref()
                .map(|access| access.endpoint.clone())
                .or_else(|| resource.connection.get("url").cloned())
                .unwrap_or_default(),
        ),
    };
    Restored {
        target,
        place,
        address,
    }
}

/// The scratch target a test's metadata names, in words.
fn scratch_words(metadata: &BTreeMap<String, String>) -> String {
    if let Some(dir) = metadata.get(SCRATCH_DIRECTORY) {
        format!("the scratch directory {dir}")
    } else if let Some(prefix) = metadata.get(SCRATCH_PREFIX) {
        format!(
            "the scratch prefix s3://{}/{prefix} on endpoint {}",
            metadata.get("TargetBucket").map_or("", String::as_str),
            metadata.get("TargetEndpoint").map_or("", String::as_str)
        )
    } else if let Some(db) = metadata.get("TargetDatabase") {
        match metadata.get("TargetServer") {
            Some(server) => format!("the scratch database {db} on server {server}"),
            None => format!("the scratch database {db}"),
        }
    } else {
        "no scratch target".into()
    }
}

/// Where tests restore files: the home's `tmp/restore-tests`.
pub fn scratch_root(env: &Env) -> PathBuf {
    env.config.home().join("tmp").join("restore-tests")
}

/// The tests the applied plans ask for with fire times in `(from, to]`,
/// over `resources`, as PENDING restore jobs (derived IDs). A fire time
/// whose start window (`StartWindowHours`) ended before `now` is logged as
/// missed and records nothing; a selection with no eligible point for a
/// resource is logged.
///
/// # Errors
/// Catalog errors.
pub async fn planned_tests(
    env: &Env,
    resources: &[Resource],
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Result<Vec<RestoreJob>> {
    let plans = applied_plans(env).await?;
    let mut out = Vec::new();
    let mut points_of: BTreeMap<String, Vec<RecoveryPoint>> = BTreeMap::new();
    for plan in &plans {
        let times = match fire_times(plan, from, to) {
            Ok(times) => times,
            Err(message) => {
                tracing::error!(plan = %plan.arn, %message, "cannot plan the restore testing plan");
                continue;
            }
        };
        for fire_at in times {
            let start_by = fire_at
                .checked_add(SignedDuration::from_hours(i64::from(
                    plan.plan.start_window_hours,
                )))
                .unwrap_or(Timestamp::MAX);
            if start_by <= now {
                tracing::warn!(plan = %plan.arn, %fire_at, %start_by, "restore test missed: no scheduler ran before its start window ended");
                continue;
            }
            out.extend(tests_at(env, plan, fire_at, resources, now, &mut points_of).await?);
        }
    }
    Ok(out)
}

/// The tests `plan` asks for at `fire_at`: one per resource a selection
/// selects, with the point chosen and the scratch target named.
async fn tests_at(
    env: &Env,
    plan: &AppliedPlan,
    fire_at: Timestamp,
    resources: &[Resource],
    now: Timestamp,
    points_of: &mut BTreeMap<String, Vec<RecoveryPoint>>,
) -> Result<Vec<RestoreJob>> {
    let root = scratch_root(env);
    let mut out = Vec::new();
    for selection in &plan.selections {
        for resource in resources.iter().filter(|r| {
            r.account_id.as_str() == plan.account_id
                && r.region.as_str() == plan.region
                && selection.selects(r)
        }) {
            let arn = resource.resource_arn.to_string();
            if !points_of.contains_key(&arn) {
                let points = env
                    .catalog
                    .list::<RecoveryPoint>(&[("resource_arn", &arn), ("status", "COMPLETED")])
                    .await?
                    .into_iter()
                    .map(|s| s.record)
                    .collect();
                points_of.insert(arn.clone(), points);
            }
            let id = test_job_id(
                &plan.arn,
                &selection.restore_testing_selection_name,
                &arn,
                fire_at,
            );
            let points = points_of.get(&arn).map_or(&[][..], Vec::as_slice);
            let Some(point) = choose_point(&plan.plan, points, fire_at, &id) else {
                tracing::warn!(plan = %plan.arn, selection = %selection.restore_testing_selection_name, resource = %arn, %fire_at, "no recovery point to test: none completed within the selection window in an included vault");
                continue;
            };
            // Overrides a selection applied before they were checked may be
            // refused now: the test is still recorded, with no scratch
            // target, and fails when it runs, saying why (so it is listed,
            // notified and counted like any failed test).
            let mut metadata = match test_overrides(
                resource.resource_type,
                &selection.restore_metadata_overrides,
            ) {
                Ok(overrides) => {
                    let Some(mut metadata) = scratch_metadata(resource, &id, &root, &overrides)
                    else {
                        tracing::warn!(resource = %arn, kind = resource.resource_type.as_str(), "restore tests of this resource are not supported: its connection names no bucket or endpoint");
                        continue;
                    };
                    metadata.extend(overrides.not_applied);
                    metadata
                }
                Err(refused) => {
                    tracing::error!(plan = %plan.arn, selection = %selection.restore_testing_selection_name, resource = %arn, refused = %refused_words(&refused), "the selection's RestoreMetadataOverrides are refused: its test will fail");
                    BTreeMap::new()
                }
            };
            metadata.insert(
                SELECTION.into(),
                selection.restore_testing_selection_name.clone(),
            );
            out.push(RestoreJob {
                restore_job_id: id,
                account_id: plan.account_id.clone(),
                region: plan.region.clone(),
                recovery_point_arn: point.recovery_point_arn.clone(),
                status: RestoreJobStatus::Pending,
                status_message: Some(format!(
                    "restore test of {} at {fire_at} ({} {})",
                    selection.restore_testing_selection_name,
                    plan.plan.recovery_point_selection.algorithm,
                    point.creation_date
                )),
                creation_date: now,
                completion_date: None,
                created_resource_arn: None,
                resource_type: resource.resource_type,
                percent_done: 0,
                validation_status: None,
                validation_status_message: None,
                restore_target: Some(scratch_words(&metadata)),
                restore_metadata: metadata,
                runner: None,
                created_by: Some(RestoreJobCreator {
                    restore_testing_plan_arn: plan.arn.clone(),
                }),
                deletion_status: None,
                deletion_status_message: None,
                restore_duration_millis: None,
            });
        }
    }
    Ok(out)
}

/// Refused override keys with why, in one line.
fn refused_words(refused: &[(String, String)]) -> String {
    refused
        .iter()
        .map(|(key, why)| format!("{key}: {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs the tests `plan` (by name, in an account and region) asks for now,
/// as if it fired: each recorded, then run to its end in this process.
///
/// # Errors
/// A plan not applied there; catalog errors.
pub async fn start_now(
    env: &Env,
    account: &str,
    region: &str,
    plan_name: &str,
) -> Result<Vec<RestoreJob>> {
    let Some(plan) = applied_plans(env).await?.into_iter().find(|p| {
        p.account_id == account
            && p.region == region
            && p.plan.restore_testing_plan_name == plan_name
    }) else {
        return Err(crate::error::Error::Missing {
            what: "restore testing plan",
            name: plan_name.to_string(),
            hint:
                "; apply the stack that declares it (`coffer get restore-testing-plans` lists them)"
                    .into(),
        });
    };
    let resources = env.discover().await?;
    let now = env.now();
    let tests = tests_at(env, &plan, now, &resources, now, &mut BTreeMap::new()).await?;
    env.catalog.insert_new(&tests, now).await?;
    let mut ended = Vec::with_capacity(tests.len());
    for test in &tests {
        ended.push(run_test(env, &test.restore_job_id).await?);
    }
    Ok(ended)
}

/// The plan and selection a test belongs to, when they are still applied.
async fn plan_of(
    env: &Env,
    job: &RestoreJob,
) -> Result<Option<(RestoreTestingPlan, RestoreTestingSelection)>> {
    let (Some(creator), Some(name)) = (&job.created_by, job.restore_metadata.get(SELECTION)) else {
        return Ok(None);
    };
    Ok(applied_plans(env)
        .await?
        .into_iter()
        .find(|p| p.arn == creator.restore_testing_plan_arn)
        .and_then(|p| {
            let plan = p.plan;
            p.selections
                .into_iter()
                .find(|s| &s.restore_testing_selection_name == name)
                .map(|s| (plan, s))
        }))
}

/// The point a test restores, chosen when it starts (as AWS chooses it):
/// among the completed points of the planned point's resource, as the
/// plan's `RecoveryPointSelection` picks at `now`. The point chosen when
/// the test was planned stands when the plan is no longer applied; `None`
/// when no point qualifies any more (deleted or aged out of the window
/// while the test waited).
async fn point_to_test(
    env: &Env,
    planned: RecoveryPoint,
    plan: Option<&RestoreTestingPlan>,
    job_id: &str,
    now: Timestamp,
) -> Result<Option<RecoveryPoint>> {
    let Some(plan) = plan else {
        return Ok(Some(planned));
    };
    let points: Vec<RecoveryPoint> = env
        .catalog
        .list::<RecoveryPoint>(&[
            ("resource_arn", planned.resource_arn.as_str()),
            ("status", "COMPLETED"),
        ])
        .await?
        .into_iter()
        .map(|s| s.record)
        .collect();
    Ok(choose_point(plan, &points, now, job_id).cloned())
}

/// How long a restore took: by the environment's clock (the clock the
/// job's dates are on, a manual one in simulations), and never less than
/// the monotonic clock measured (a wall clock stepped back mid-restore).
fn restore_millis(env: &Env, started: Instant, started_at: Timestamp) -> u64 {
    let monotonic = started.elapsed();
    let by_clock = env
        .now()
        .duration_since(started_at)
        .try_into()
        .unwrap_or(Duration::ZERO);
    u64::try_from(monotonic.max(by_clock).as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// How a hook ended.
enum HookEnd {
    Passed(String),
    Failed(String),
    TimedOut(String),
}

/// Truncates a hook's output for a message.
fn clip(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= HOOK_OUTPUT_CHARS {
        text.to_string()
    } else {
        let kept: String = text.chars().take(HOOK_OUTPUT_CHARS).collect();
        format!("{kept}...")
    }
}

/// Resolves when the validation window has closed: by the environment's
/// clock (a manual clock in tests), or after as long on the real one.
async fn window_closed(env: &Env, deadline: Timestamp, window: Duration) {
    let started = Instant::now();
    loop {
        if env.now() >= deadline || started.elapsed() >= window {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20).min(window)).await;
    }
}

/// Runs the hook against the restored copy at `place`.
async fn run_hook(
    env: &Env,
    hook: &ValidationHook,
    resource: &Resource,
    restored: &Restored<'_>,
    job_id: &str,
    (deadline, window): (Timestamp, Duration),
) -> HookEnd {
    let work = async {
        if let Some(sql) = &hook.sql {
            let expect = hook.expect.clone().unwrap_or_default();
            let server = match restored.target {
                RestoreTarget::Database { server, .. } => server.as_deref(),
                _ => None,
            };
            let found =
                coffer_drivers::scratch::query_restored(resource, server, &restored.place, sql)
                    .await;
            return match found {
                Ok(found) if found.trim() == expect.trim() => {
                    HookEnd::Passed(format!("SQL hook returned {:?} as expected", clip(&found)))
                }
                Ok(found) => HookEnd::Failed(format!(
                    "SQL hook returned {:?}, expected {:?}",
                    clip(&found),
                    clip(&expect)
                )),
                Err(error) => HookEnd::Failed(format!("SQL hook failed: {error}")),
            };
        }
        let Some((program, args)) = hook.command.split_first() else {
            return HookEnd::Passed(String::new());
        };
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .env("COFFER_RESTORED", &restored.place)
            .env("COFFER_RESTORED_ADDRESS", &restored.address)
            .env("COFFER_RESTORE_JOB_ID", job_id)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        match command.output().await {
            Ok(output) => {
                let mut text = String::from_utf8_lossy(&output.stdout).to_string();
                let stderr = String::from_utf8_lossy(&output.stderr);
                if !stderr.trim().is_empty() {
                    if !text.trim().is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&stderr);
                }
                if output.status.success() {
                    HookEnd::Passed(format!("hook {program} passed: {}", clip(&text)))
                } else {
                    HookEnd::Failed(format!(
                        "hook {program} exited with {}: {}",
                        output.status,
                        clip(&text)
                    ))
                }
            }
            Err(error) => HookEnd::Failed(format!("hook {program} could not start: {error}")),
        }
    };
    tokio::select! {
        end = work => end,
        () = window_closed(env, deadline, window) => HookEnd::TimedOut(format!(
            "the validation hook was still running when the validation window closed at {deadline}; it was stopped"
        )),
    }
}

/// Removes a test's scratch target, as its metadata names it: the
/// scratch directory, the scratch prefix of a bucket (on the endpoint the
/// job names), or the scratch database (on the server the job names, or
/// the source's).
async fn remove_scratch(env: &Env, job: &RestoreJob) -> std::result::Result<String, String> {
    if let Some(dir) = job.restore_metadata.get(SCRATCH_DIRECTORY) {
        let path = PathBuf::from(dir);
        return match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(format!("removed the scratch directory {dir}")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(format!("the scratch directory {dir} was not there"))
            }
            Err(e) => Err(format!("cannot remove the scratch directory {dir}: {e}")),
        };
    }
    let words = scratch_words(&job.restore_metadata);
    let is_database = job.restore_metadata.contains_key("TargetDatabase");
    if !is_database && !job.restore_metadata.contains_key(SCRATCH_PREFIX) {
        return Ok("no scratch target was recorded".into());
    }
    let points = env
        .catalog
        .list::<RecoveryPoint>(&[("arn", &job.recovery_point_arn)])
        .await
        .map_err(|e| e.to_string())?;
    let Some(point) = points.into_iter().next() else {
        return Err(format!(
            "recovery point {} is gone, so the resource whose test made {words} is unknown",
            job.recovery_point_arn
        ));
    };
    let resource = env
        .resource(&point.record.resource_arn)
        .await
        .map_err(|e| e.to_string())?;
    let target = scratch_target(env, job, &resource)
        .await
        .map_err(|why| format!("cannot remove {words}: {why}"))?;
    match &target {
        RestoreTarget::Database { name, server, .. } => {
            coffer_drivers::scratch::drop_restored_database(&resource, server.as_deref(), name)
                .await
                .map(|()| format!("dropped {words}"))
                .map_err(|e| format!("cannot drop {words}: {e}"))
        }
        RestoreTarget::Bucket(bucket) => {
            let access = match &bucket.access {
                Some(access) => access.clone(),
                None => {
                    coffer_drivers::s3::place(&resource)
                        .map_err(|e| format!("cannot remove {words}: {e}"))?
                        .access
                }
            };
            coffer_drivers::s3::remove_scratch_prefix(&access, &bucket.bucket, &bucket.prefix)
                .await
                .map(|deleted| {
                    format!("removed {words}: {deleted} object(s), version(s) and delete marker(s) deleted")
                })
                .map_err(|e| format!("cannot remove {words}: {e}"))
        }
        _ => Ok("no scratch target was recorded".into()),
    }
}

/// Writes a change to a test without moving its status (and without
/// moving a completed job's completion date).
async fn record(env: &Env, id: &str, change: impl FnOnce(&mut RestoreJob)) -> Result<RestoreJob> {
    let current = exec::fetch::<RestoreJob>(env, id).await?.record;
    let completed_at = current.completion_date;
    exec::set_state(env, id, current.status, |j: &mut RestoreJob| {
        j.completion_date = completed_at;
        change(j);
    })
    .await
}

/// Runs one restore test (a PENDING job [`planned_tests`] recorded, or one
/// started by hand) to its end: restore, validation and hook, deletion.
///
/// # Errors
/// Catalog errors recording it; what goes wrong in the test itself is
/// recorded in the job.
pub async fn run_test(env: &Env, id: &str) -> Result<RestoreJob> {
    jobs::track(id, false);
    let result = run_test_tracked(env, id).await;
    jobs::track(id, true);
    result
}

/// [`run_test`] on a thread of its own driven by the current runtime (a
/// restore's future need not be sendable between threads), its end
/// awaited by the returned future, which is.
pub fn run_test_on_thread(
    env: Env,
    id: String,
) -> impl std::future::Future<Output = (String, Result<RestoreJob>)> + Send + 'static {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::runtime::Handle::current();
    let spawned = std::thread::Builder::new()
        .name(format!("restore test {id}"))
        .spawn({
            let id = id.clone();
            move || {
                let ended = handle.block_on(run_test(&env, &id));
                let _ = tx.send(ended);
            }
        });
    async move {
        if let Err(error) = spawned {
            return (
                id,
                Err(crate::error::Error::Task(format!(
                    "no thread could be started for the restore test: {error}"
                ))),
            );
        }
        match rx.await {
            Ok(ended) => (id, ended),
            Err(_) => (
                id,
                Err(crate::error::Error::Task(
                    "the restore test's thread ended without a result".into(),
                )),
            ),
        }
    }
}

/// Records a test that could not start (`why`): FAILED, and nothing to
/// delete, so no later start takes it for a crash's leftovers.
async fn not_started(env: &Env, id: &str, why: &str) -> Result<RestoreJob> {
    let message = format!("the restore test could not start: {why}");
    exec::transition(
        env,
        id,
        RestoreJobStatus::Failed,
        |s| s == RestoreJobStatus::Pending,
        |j: &mut RestoreJob| {
            j.status_message = Some(message.clone());
            j.deletion_status = Some(DeletionStatus::Successful);
            j.deletion_status_message = Some("nothing was restored".into());
        },
    )
    .await
}

async fn run_test_tracked(env: &Env, id: &str) -> Result<RestoreJob> {
    let job = exec::fetch::<RestoreJob>(env, id).await?.record;
    let applied = plan_of(env, &job).await.ok().flatten();
    let selection = applied.as_ref().map(|(_, s)| s);
    // What it needs: the point (chosen now), its resource and vault.
    let prepared = async {
        let planned = env
            .catalog
            .list::<RecoveryPoint>(&[("arn", &job.recovery_point_arn)])
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
            .map(|s| s.record)
            .ok_or_else(|| {
                format!(
                    "recovery point {} is not in the catalog: it was deleted before its test ran",
                    job.recovery_point_arn
                )
            })?;
        let resource_arn = planned.resource_arn.clone();
        let plan = applied.as_ref().map(|(p, _)| p);
        let point = point_to_test(env, planned, plan, id, env.now())
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "no recovery point of {resource_arn} qualifies now: none is completed within the selection window ({} days) in an included vault (the point planned, {}, is deleted or aged out)",
                    plan.map_or(0, |p| p.recovery_point_selection.selection_window_days),
                    job.recovery_point_arn
                )
            })?;
        let found = async {
            let resource = env.resource(&point.resource_arn).await?;
            let vault = env.vault_by_arn(&point.backup_vault_arn).await?;
            let opened = env.open_point(&vault, &point).await?;
            Ok::<_, crate::error::Error>((resource, opened))
        }
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>((point, found.0, found.1))
    }
    .await;
    let (point, resource, opened) = match prepared {
        Ok(found) => found,
        Err(error) => return not_started(env, id, &error).await,
    };
    if let Some((_, selection)) = &applied {
        if let Err(refused) = test_overrides(
            resource.resource_type,
            &selection.restore_metadata_overrides,
        ) {
            return not_started(
                env,
                id,
                &format!(
                    "selection {}'s RestoreMetadataOverrides are refused ({}); change them in its template or with UpdateRestoreTestingSelection",
                    selection.restore_testing_selection_name,
                    refused_words(&refused)
                ),
            )
            .await;
        }
    }
    let target = match scratch_target(env, &job, &resource).await {
        Ok(target) => target,
        Err(why) => return not_started(env, id, &why).await,
    };
    // The scratch target is in the job's metadata already; from RUNNING
    // on, a restart removes whatever of it exists.
    let chosen_now = point.recovery_point_arn != job.recovery_point_arn;
    exec::transition(
        env,
        id,
        RestoreJobStatus::Running,
        |s| s == RestoreJobStatus::Pending,
        |j: &mut RestoreJob| {
            j.runner = Some(exec::this_runner());
            if chosen_now {
                j.status_message = Some(format!(
                    "{}; chosen when it started: {} ({}) instead of {}",
                    j.status_message.clone().unwrap_or_default(),
                    point.recovery_point_arn,
                    point.creation_date,
                    j.recovery_point_arn
                ));
                j.recovery_point_arn.clone_from(&point.recovery_point_arn);
            }
        },
    )
    .await?;
    if let Some(dir) = job.restore_metadata.get(SCRATCH_DIRECTORY) {
        if let Err(error) = tokio::fs::create_dir_all(dir).await {
            tracing::error!(%dir, %error, "cannot create the scratch directory");
        }
    }
    tracing::info!(job = %id, point = %point.recovery_point_arn, target = ?job.restore_target, "restore test started");
    let started = Instant::now();
    let started_at = env.now();
    #[cfg(feature = "failpoints")]
    fail::fail_point!(crate::failpoints::RESTORE_TEST_RESTORING);
    let restored = coffer_drivers::restore(&point, &resource, &opened, &target, false).await;
    let millis = restore_millis(env, started, started_at);
    let outcome = match restored {
        Ok(outcome) => outcome,
        Err(error) => {
            let message = format!("the restore failed: {error}");
            exec::set_state(env, id, RestoreJobStatus::Failed, |j: &mut RestoreJob| {
                j.status_message = Some(message.clone());
                j.deletion_status = Some(DeletionStatus::Deleting);
            })
            .await?;
            return finish_deletion(env, id).await;
        }
    };
    #[cfg(feature = "failpoints")]
    fail::fail_point!(crate::failpoints::RESTORE_TEST_AFTER_RESTORE);
    let created_resource_arn = target.created_resource_arn(&resource);
    exec::set_state(
        env,
        id,
        RestoreJobStatus::Completed,
        |j: &mut RestoreJob| {
            j.percent_done = 100;
            j.created_resource_arn = Some(created_resource_arn);
            j.restore_duration_millis = Some(millis);
            j.validation_status = Some(ValidationStatus::Validating);
        },
    )
    .await?;
    // Validation: Coffer's own, then the hook, within the window.
    let hours = selection
        .as_ref()
        .and_then(|s| s.validation_window_hours)
        .unwrap_or(DEFAULT_VALIDATION_WINDOW_HOURS);
    let window = Duration::from_secs(u64::from(hours) * 3600);
    let deadline = env
        .now()
        .checked_add(SignedDuration::from_hours(i64::from(hours)))
        .unwrap_or(Timestamp::MAX);
    let restored = restored_at(&target, &resource, &outcome);
    let scratch = scratch_root(env);
    let checks = async {
        // A database is validated on the server the test restored it on.
        let server = match &target {
            RestoreTarget::Database { server, .. } => server.as_deref(),
            _ => None,
        };
        let validation =
            coffer_drivers::validate(&point, &resource, &opened, &scratch, server).await;
        let (mut passed, mut words) = match validation {
            Ok(v) if v.passed() => (true, v.checked.join("; ")),
            Ok(v) => (false, v.problems.join("; ")),
            Err(error) => (false, format!("validation could not run: {error}")),
        };
        let hook = selection
            .as_ref()
            .and_then(|s| s.coffer_validation_hook.clone());
        if let (true, Some(hook)) = (passed, hook) {
            match run_hook(env, &hook, &resource, &restored, id, (deadline, window)).await {
                HookEnd::Passed(text) => {
                    if !text.is_empty() {
                        words = format!("{words}; {text}");
                    }
                }
                HookEnd::Failed(text) => {
                    passed = false;
                    words = text;
                }
                HookEnd::TimedOut(text) => return (ValidationStatus::TimedOut, text),
            }
        }
        (
            if passed {
                ValidationStatus::Successful
            } else {
                ValidationStatus::Failed
            },
            words,
        )
    };
    let (status, message) = tokio::select! {
        ended = checks => ended,
        () = window_closed(env, deadline, window) => (
            ValidationStatus::TimedOut,
            format!("validation was still running when the validation window closed at {deadline}"),
        ),
    };
    record(env, id, |j| {
        let (status, message) = with_reported(j, status, message);
        j.validation_status = Some(status);
        j.validation_status_message = Some(message);
        j.deletion_status = Some(DeletionStatus::Deleting);
    })
    .await?;
    finish_deletion(env, id).await
}

/// Coffer's validation result `(status, message)` of a test combined
/// with a result an external validator reported meanwhile
/// (PutRestoreValidationResult, recorded while the job was VALIDATING):
/// Coffer's failure or timeout wins; when Coffer's checks pass, the
/// reported result stands. Both messages are kept.
fn with_reported(
    job: &RestoreJob,
    status: ValidationStatus,
    message: String,
) -> (ValidationStatus, String) {
    match job.validation_status {
        Some(reported) if reported != ValidationStatus::Validating => {
            let words = job
                .validation_status_message
                .clone()
                .unwrap_or_else(|| reported.as_str().to_string());
            let status = if status == ValidationStatus::Successful {
                reported
            } else {
                status
            };
            (status, format!("{message}; {words}"))
        }
        _ => (status, message),
    }
}

/// Deletes the test's scratch target and records how that went.
async fn finish_deletion(env: &Env, id: &str) -> Result<RestoreJob> {
    let job = exec::fetch::<RestoreJob>(env, id).await?.record;
    let removed = remove_scratch(env, &job).await;
    let job = record(env, id, |j| match &removed {
        Ok(words) => {
            j.deletion_status = Some(DeletionStatus::Successful);
            j.deletion_status_message = Some(words.clone());
        }
        Err(words) => {
            j.deletion_status = Some(DeletionStatus::Failed);
            j.deletion_status_message = Some(format!(
                "{words}; the next start of `coffer serve` tries again"
            ));
        }
    })
    .await?;
    tracing::info!(job = %id, status = ?job.status, validation = ?job.validation_status, deletion = ?job.deletion_status, "restore test ended");
    Ok(job)
}

/// Removes the scratch targets of tests whose process is gone (a crash
/// mid-test) or whose deletion failed, and records why on each job; a test
/// this process runs is never touched. Returns the jobs cleaned.
///
/// # Errors
/// Catalog errors reading the jobs; a job that cannot be written is
/// logged and left for the next pass.
pub async fn remove_leftovers(env: &Env) -> Result<Vec<String>> {
    let mut cleaned = Vec::new();
    for stored in env
        .catalog
        .list::<RestoreJob>(&[("scratch", "LEFT")])
        .await?
    {
        let job = stored.record;
        if !job.scratch_left() || !jobs::left_by_dead(&job.restore_job_id, job.runner.as_deref()) {
            continue;
        }
        let id = job.restore_job_id.clone();
        let removed = remove_scratch(env, &job).await;
        let process = job.runner.clone().unwrap_or_else(|| "unknown".into());
        let why = format!(
            "the process running this restore test ({process}) stopped before it removed its scratch target; removed at the start of {}",
            exec::this_runner()
        );
        let interrupted = format!(
            "interrupted: the process running this restore test ({process}) stopped (a crash or kill) before it finished"
        );
        let written = if job.status == RestoreJobStatus::Running {
            exec::set_state(env, &id, RestoreJobStatus::Failed, |j: &mut RestoreJob| {
                j.status_message = Some(interrupted.clone());
                apply_removal(j, &removed, &why, &interrupted);
            })
            .await
        } else {
            record(env, &id, |j| apply_removal(j, &removed, &why, &interrupted)).await
        };
        match written {
            Ok(_) => {
                tracing::warn!(job = %id, reason = %why, "a restore test's scratch target was left; removed");
                cleaned.push(id);
            }
            Err(error) => {
                tracing::error!(job = %id, %error, "cannot record a restore test's leftover removal")
            }
        }
    }
    Ok(cleaned)
}

fn apply_removal(
    j: &mut RestoreJob,
    removed: &std::result::Result<String, String>,
    why: &str,
    interrupted: &str,
) {
    if j.validation_status == Some(ValidationStatus::Validating) || j.validation_status.is_none() {
        j.validation_status = Some(ValidationStatus::Failed);
        j.validation_status_message = Some(interrupted.to_string());
    }
    match removed {
        Ok(words) => {
            j.deletion_status = Some(DeletionStatus::Successful);
            j.deletion_status_message = Some(format!("{why}: {words}"));
        }
        Err(words) => {
            j.deletion_status = Some(DeletionStatus::Failed);
            j.deletion_status_message = Some(format!("{why}, but {words}"));
        }
    }
}

/// The tests that wait to run: PENDING jobs of restore testing plans, not
/// among `running`.
///
/// # Errors
/// Catalog errors.
pub async fn waiting_tests(env: &Env, running: &BTreeSet<String>) -> Result<Vec<RestoreJob>> {
    Ok(env
        .catalog
        .list::<RestoreJob>(&[("status", "PENDING")])
        .await?
        .into_iter()
        .map(|s| s.record)
        .filter(|j| j.created_by.is_some() && !running.contains(&j.restore_job_id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket() -> Resource {
        Resource {
            resource_arn: coffer_model::Arn::parse(
                "arn:coffer:s3:eu-west-1:210987654321:bucket/media",
            )
            .unwrap(),
            resource_type: ResourceType::S3,
            resource_name: "media".into(),
            account_id: coffer_model::AccountId::new("210987654321").unwrap(),
            region: coffer_model::Region::new("eu-west-1").unwrap(),
            tags: Default::default(),
            connection: [("bucket", "media-bucket"), ("endpoint", "local")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_buckets_scratch_prefix_is_in_the_source_bucket_unless_overridden() {
        let root = Path::new("/home/tmp/restore-tests");
        let metadata =
            scratch_metadata(&bucket(), "Ab-12.cd", root, &TestOverrides::default()).unwrap();
        let expected: BTreeMap<String, String> = [
            ("ScratchPrefix", "coffer-restore-test-ab12cd/"),
            ("TargetBucket", "media-bucket"),
            ("TargetEndpoint", "local"),
            ("TargetPrefix", "coffer-restore-test-ab12cd/"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(metadata, expected);
        assert_eq!(
            scratch_words(&metadata),
            "the scratch prefix s3://media-bucket/coffer-restore-test-ab12cd/ on endpoint local"
        );
        let overrides = test_overrides(
            ResourceType::S3,
            &[("TargetBucket", "drills"), ("TargetEndpoint", "offsite")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap();
        let metadata = scratch_metadata(&bucket(), "x", root, &overrides).unwrap();
        assert_eq!(metadata["TargetBucket"], "drills");
        assert_eq!(metadata["TargetEndpoint"], "offsite");
        // A bucket whose connection names no bucket cannot be tested.
        let mut unknown = bucket();
        unknown.connection.clear();
        assert!(scratch_metadata(&unknown, "x", root, &TestOverrides::default()).is_none());
    }
}
