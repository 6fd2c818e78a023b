//! Where restore tests restore: a bucket's drill into a scratch prefix of
//! the bucket itself (a versioned one, on the moto server the test
//! starts), validated by a hook that reads the prefix, removed with every
//! version after the test, never captured by a backup meanwhile, and
//! removed at the next start when the process was killed; a PostgreSQL
//! drill on the test server its selection's `RestoreMetadataOverrides`
//! name (`TargetServer`), cleaned up there.

use coffer_model::{DeletionStatus, RestoreJobStatus, ValidationStatus};
use coffer_testkit::{Engine, Moto, ScratchServer};

use crate::restore_testing::drills_now;
use crate::{ok, Home};

const ACCOUNT: &str = "210987654321";
const MEDIA: &str = "arn:coffer:s3:eu-west-1:210987654321:bucket/media";

/// The moto venv's Python, which has boto3.
fn python() -> String {
    format!(
        "{}/bin/python",
        std::env::var("COFFER_TEST_VENV").expect("COFFER_TEST_VENV is set by .ci/run")
    )
}

/// A hook reading the restored prefix (`COFFER_RESTORED` is
/// `s3://bucket/prefix/`, `COFFER_RESTORED_ADDRESS` the endpoint's URL):
/// it prints the keys found there and passes when they are the current
/// objects of the bucket.
const BUCKET_HOOK: &str = r#"
import os, sys, boto3
place = os.environ['COFFER_RESTORED']
assert place.startswith('s3://'), place
bucket, prefix = place[len('s3://'):].split('/', 1)
s3 = boto3.client('s3', endpoint_url=os.environ['COFFER_RESTORED_ADDRESS'], region_name='us-east-1',
                  aws_access_key_id='test', aws_secret_access_key='test')
keys = sorted(o['Key'][len(prefix):] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get('Contents', []))
print('restored:', ' '.join(keys))
sys.exit(0 if keys == ['index.html', 'photos/1.jpg'] else 1)
"#;

/// The vault `primary` and the restore testing plan `drills` (weekly,
/// the newest point of any vault), for selections to follow.
const DRILLS: &str = r#"
Resources:
  Primary:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: primary
  Drills:
    Type: AWS::Backup::RestoreTestingPlan
    Properties:
      RestoreTestingPlanName: drills
      ScheduleExpression: cron(0 5 ? * MON *)
      RecoveryPointSelection:
        Algorithm: LATEST_WITHIN_WINDOW
        IncludeVaults: ["*"]
        RecoveryPointTypes: [SNAPSHOT]"#;

/// [`DRILLS`] with the selection `buckets`, testing every bucket, its
/// properties ending with `more`.
fn buckets_stack(more: &str) -> String {
    format!(
        r#"{DRILLS}
  Buckets:
    Type: AWS::Backup::RestoreTestingSelection
    Properties:
      RestoreTestingPlanName: !Ref Drills
      RestoreTestingSelectionName: buckets
      ProtectedResourceType: S3
      IamRoleArn: arn:coffer:iam::{ACCOUNT}:role/restore
      ProtectedResourceArns: ["*"]{more}
"#
    )
}

/// `[versions, delete markers]` under a prefix of a bucket.
const VERSIONS: &str = r#"
got = s3.list_object_versions(Bucket=sys.argv[1], Prefix=sys.argv[2])
print(json.dumps([len(got.get('Versions', [])), len(got.get('DeleteMarkers', []))]))
"#;

fn versions(moto: &Moto, bucket: &str, prefix: &str) -> (u64, u64) {
    let counts: Vec<u64> = serde_json::from_str(&moto.boto3(VERSIONS, &[bucket, prefix])).unwrap();
    (counts[0], counts[1])
}

/// A home over the versioned bucket `media` of `moto` (three versions of
/// `photos/1.jpg`, `index.html`, and `old.txt` deleted), declared with
/// `versions: all`, backed up once into `primary`, with a restore testing
/// plan `drills` whose selection tests every bucket with [`BUCKET_HOOK`].
fn bucket_home(moto: &Moto) -> Home {
    moto.boto3(
        r#"
s3.create_bucket(Bucket='media')
s3.put_bucket_versioning(Bucket='media', VersioningConfiguration={'Status': 'Enabled'})
for n in range(3):
    s3.put_object(Bucket='media', Key='photos/1.jpg', Body=f'photo {n}'.encode() * 50, ContentType='image/jpeg')
s3.put_object(Bucket='media', Key='index.html', Body=b'<html></html>', ContentType='text/html')
s3.put_object(Bucket='media', Key='old.txt', Body=b'old')
s3.delete_object(Bucket='media', Key='old.txt')
"#,
        &[],
    );
    let home = Home::new();
    let hook = home.write("hook.py", BUCKET_HOOK);
    let inventory = crate::buckets::bucket_inventory(
        &home,
        moto,
        "  - name: media\n    endpoint: local\n    versions: all",
    );
    let stack = home.write(
        "stack.yaml",
        &buckets_stack(&format!(
            "\n      CofferValidationHook:\n        Command: [{}, {hook}]",
            python()
        )),
    );
    ok(&home.run(&["apply", "--stack", "drills", &stack, &inventory]));
    ok(&home.run(&["backup", "start", "--resource", MEDIA, "--vault", "primary"]));
    home
}

#[test]
fn a_bucket_drill_restores_into_a_scratch_prefix_and_leaves_no_version_behind() {
    let moto = Moto::start();
    let home = bucket_home(&moto);
    let before = versions(&moto, "media", "");
    assert_eq!(before, (5, 1));

    let jobs = drills_now(&home, "drills");
    let [job] = &jobs[..] else {
        panic!("one test: {jobs:#?}")
    };
    assert_eq!(job.status, RestoreJobStatus::Completed, "{job:#?}");
    assert_eq!(
        job.validation_status,
        Some(ValidationStatus::Successful),
        "{job:#?}"
    );
    let message = job.validation_status_message.as_deref().unwrap();
    assert!(
        message.contains("restored: index.html photos/1.jpg"),
        "{message}"
    );
    // Named before anything was restored: the source bucket, a scratch
    // prefix generated from the job's ID, the source's endpoint.
    let metadata = &job.restore_metadata;
    let prefix = metadata["ScratchPrefix"].clone();
    assert!(
        prefix.starts_with("coffer-restore-test-") && prefix.ends_with('/'),
        "{metadata:?}"
    );
    assert_eq!(metadata["TargetPrefix"], prefix);
    assert_eq!(metadata["TargetBucket"], "media");
    assert_eq!(metadata["TargetEndpoint"], "local");
    assert_eq!(
        job.created_resource_arn.as_deref(),
        Some(format!("arn:coffer:s3:::media/{prefix}").as_str())
    );
    assert_eq!(
        job.deletion_status,
        Some(DeletionStatus::Successful),
        "{job:#?}"
    );
    assert!(
        job.deletion_status_message
            .as_deref()
            .unwrap()
            .contains(&format!("removed the scratch prefix s3://media/{prefix}")),
        "{job:#?}"
    );
    // Gone with its versions; the bucket's own history untouched.
    assert_eq!(versions(&moto, "media", &prefix), (0, 0));
    assert_eq!(versions(&moto, "media", ""), before);
}

#[test]
fn a_bucket_scratch_prefix_a_killed_test_left_is_never_backed_up_and_is_removed_at_the_next_start()
{
    let moto = Moto::start();
    let home = bucket_home(&moto);
    let (id, prefix) = crate::crash_jobs::killed_after_restore(
        &home,
        &["restore-testing", "start", "--plan", "drills"],
        "ScratchPrefix",
    );
    assert_eq!(
        versions(&moto, "media", &prefix),
        (2, 0),
        "the test restored into {prefix}"
    );

    // A backup while the scratch prefix is there does not capture it.
    let backup = home.run(&["backup", "start", "--resource", MEDIA, "--vault", "primary"]);
    ok(&backup);
    let point = crate::jobs::point_arn(&backup);
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &point,
        "--target-bucket",
        "check",
        "--all-versions",
    ]));
    let keys: Vec<String> = serde_json::from_str(&moto.boto3(
        "print(json.dumps(sorted({v['Key'] for v in s3.list_object_versions(Bucket='check').get('Versions', [])})))",
        &[],
    ))
    .unwrap();
    assert_eq!(keys, ["index.html", "old.txt", "photos/1.jpg"], "{keys:?}");
    // An object the killed test was writing in parts: an upload begun
    // under the prefix, one part stored, never completed.
    moto.boto3(
        "u = s3.create_multipart_upload(Bucket='media', Key=sys.argv[1] + 'big.bin')\n\
         s3.upload_part(Bucket='media', Key=sys.argv[1] + 'big.bin', UploadId=u['UploadId'], PartNumber=1, Body=b'x' * 1024)",
        &[&prefix],
    );
    assert_eq!(uploads(&moto, &prefix), 1);

    let job = crate::crash_jobs::serve_until_scratch_removed(&home, &id)
        .expect("the next start removed the scratch prefix");
    let why = job["DeletionStatusMessage"].as_str().unwrap();
    assert!(
        why.contains("stopped before it removed its scratch target")
            && why.contains(&format!("removed the scratch prefix s3://media/{prefix}")),
        "{why}"
    );
    assert_eq!(job["ValidationStatus"], "FAILED", "{job:#}");
    assert_eq!(versions(&moto, "media", &prefix), (0, 0));
    assert_eq!(uploads(&moto, &prefix), 0, "the upload was aborted");
    assert_eq!(versions(&moto, "media", ""), (5, 1));
}

/// How many multipart uploads under `prefix` of `media` are pending.
fn uploads(moto: &Moto, prefix: &str) -> usize {
    moto.boto3(
        "print(len(s3.list_multipart_uploads(Bucket='media', Prefix=sys.argv[1]).get('Uploads', [])))",
        &[prefix],
    )
    .trim()
    .parse()
    .unwrap()
}

#[test]
fn a_postgres_drill_restores_on_the_server_its_overrides_name_and_drops_it_there() {
    let standby = ScratchServer::start(Engine::Postgres);
    let db = format!(
        "rdrill_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    coffer_testkit::psql(&format!("CREATE DATABASE {db}"));
    let _dropped = DropOnExit(db.clone());
    coffer_testkit::psql_in(
        &db,
        "CREATE TABLE accounts (id int PRIMARY KEY, amount int); INSERT INTO accounts VALUES (1, 10), (2, 20), (3, 30);",
    );
    let arn = format!("arn:coffer:postgres:eu-west-1:{ACCOUNT}:database/local/{db}");
    let home = Home::new();
    let inventory = home.write(
        "inventory.yaml",
        &format!(
            "defaults:\n  account: \"{ACCOUNT}\"\n  region: eu-west-1\npostgres:\n  - name: local\n    host: 127.0.0.1\n    port: 5432\n    user: postgres\n    databases: [{db}]\n{}",
            standby.inventory("standby").trim_start_matches("postgres:\n")
        ),
    );
    let selection = |name: &str, extra: &str| {
        format!(
            r#"
  {name}:
    Type: AWS::Backup::RestoreTestingSelection
    Properties:
      RestoreTestingPlanName: !Ref Drills
      RestoreTestingSelectionName: {name}
      ProtectedResourceType: PostgreSQL
      IamRoleArn: arn:coffer:iam::{ACCOUNT}:role/restore
      ProtectedResourceArns: [{arn}]
      RestoreMetadataOverrides:
        TargetServer: standby
{extra}"#
        )
    };
    let stack = home.write(
        "stack.yaml",
        &format!(
            "{DRILLS}{}{}",
            selection(
                "bysql",
                "      CofferValidationHook:\n        Sql: SELECT sum(amount) FROM accounts\n        Expect: \"60\"\n"
            ),
            selection(
                "byaddress",
                "        DBInstanceClass: db.t3.micro\n      CofferValidationHook:\n        Command: [sh, -c, 'echo \"at $COFFER_RESTORED_ADDRESS\"']\n"
            ),
        ),
    );
    ok(&home.run(&["apply", "--stack", "drills", &stack, &inventory]));
    ok(&home.run(&["backup", "start", "--resource", &arn, "--vault", "primary"]));

    let jobs = drills_now(&home, "drills");
    assert_eq!(jobs.len(), 2, "{jobs:#?}");
    for job in &jobs {
        assert_eq!(
            job.validation_status,
            Some(ValidationStatus::Successful),
            "{job:#?}"
        );
        assert_eq!(job.restore_metadata["TargetServer"], "standby", "{job:#?}");
        // Coffer's own validation restored on the standby too, never on
        // the source's server.
        assert!(
            job.validation_status_message
                .as_deref()
                .unwrap()
                .contains(&format!("on 127.0.0.1:{} succeeded", standby.port)),
            "{job:#?}"
        );
        // What the test created is named on the server it was created on.
        assert!(
            job.created_resource_arn
                .as_deref()
                .unwrap()
                .ends_with(&format!(
                    ":database/standby/{}",
                    job.restore_metadata["TargetDatabase"]
                )),
            "{job:#?}"
        );
        assert_eq!(
            job.deletion_status,
            Some(DeletionStatus::Successful),
            "{job:#?}"
        );
        let scratch = &job.restore_metadata["TargetDatabase"];
        assert!(
            job.deletion_status_message
                .as_deref()
                .unwrap()
                .contains(&format!(
                    "dropped the scratch database {scratch} on server standby"
                )),
            "{job:#?}"
        );
    }
    let by_address = jobs
        .iter()
        .find(|j| j.restore_metadata["RestoreTestingSelectionName"] == "byaddress")
        .unwrap();
    let scratch = &by_address.restore_metadata["TargetDatabase"];
    let message = by_address.validation_status_message.as_deref().unwrap();
    assert!(
        message.contains(&format!(
            "at postgresql://127.0.0.1:{}/{scratch}",
            standby.port
        )),
        "restored on the standby server: {message}"
    );
    assert_eq!(
        by_address.restore_metadata["NotApplied.DBInstanceClass"],
        "db.t3.micro"
    );
    // Nothing left on either server.
    let left = "SELECT count(*) FROM pg_database WHERE datname LIKE 'coffer_restore_test_%'";
    assert_eq!(standby.sql(None, left).trim(), "0");
    for job in &jobs {
        let name = &job.restore_metadata["TargetDatabase"];
        assert!(coffer_testkit::psql_in(
            "postgres",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        )
        .trim()
        .is_empty());
    }
}

/// Drops a database of the shared PostgreSQL server at the end.
struct DropOnExit(String);

impl Drop for DropOnExit {
    fn drop(&mut self) {
        coffer_testkit::drop_database(&self.0);
    }
}

/// A bucket that retains every new object (a default Object Lock
/// retention) is not tested in a scratch prefix of its own: nothing is
/// written there, and the test fails saying to name a scratch bucket.
#[test]
fn a_bucket_with_a_default_retention_is_not_drilled_in_place() {
    let moto = Moto::start();
    moto.boto3(
        r#"
s3.create_bucket(Bucket='locked', ObjectLockEnabledForBucket=True)
s3.put_object_lock_configuration(Bucket='locked', ObjectLockConfiguration={'ObjectLockEnabled': 'Enabled', 'Rule': {'DefaultRetention': {'Mode': 'COMPLIANCE', 'Days': 30}}})
s3.put_object(Bucket='locked', Key='ledger.csv', Body=b'a,b\n')
"#,
        &[],
    );
    let home = Home::new();
    let inventory =
        crate::buckets::bucket_inventory(&home, &moto, "  - name: locked\n    endpoint: local");
    let stack = home.write("stack.yaml", &buckets_stack(""));
    ok(&home.run(&["apply", "--stack", "drills", &stack, &inventory]));
    let locked = "arn:coffer:s3:eu-west-1:210987654321:bucket/locked";
    ok(&home.run(&[
        "backup",
        "start",
        "--resource",
        locked,
        "--vault",
        "primary",
    ]));
    let before = versions(&moto, "locked", "");

    let run = home.run(&["restore-testing", "start", "--plan", "drills", "-o", "json"]);
    assert_eq!(
        run.code, 1,
        "a failed test fails the command: {}",
        run.stderr
    );
    let jobs: Vec<coffer_model::RestoreJob> = serde_json::from_str(&run.stdout).unwrap();
    let [job] = &jobs[..] else {
        panic!("one test: {jobs:#?}")
    };
    assert_eq!(job.status, RestoreJobStatus::Failed, "{job:#?}");
    let message = job.status_message.as_deref().unwrap();
    assert!(
        message.contains("default Object Lock retention (COMPLIANCE for 30 day(s))")
            && message.contains("TargetBucket"),
        "{message}"
    );
    assert_eq!(
        job.deletion_status,
        Some(DeletionStatus::Successful),
        "{job:#?}"
    );
    assert_eq!(versions(&moto, "locked", ""), before, "nothing written");
}
