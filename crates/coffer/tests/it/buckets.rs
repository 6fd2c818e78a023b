//! S3 buckets end to end through the CLI, against two moto servers the
//! test starts: back up a bucket (then incrementally), restore into a new
//! bucket, into a prefix of an existing one, one key on another endpoint,
//! validate, and list the point with Debian's restic.

use coffer_testkit::Moto;
use serde_json::Value;

use crate::jobs::point_arn;
use crate::ok;
use crate::Home;

const STACK: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  OpenVault:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: open
"#;

const MEDIA: &str = "arn:coffer:s3:eu-west-1:210987654321:bucket/media";

/// A home with vault `open` applied and the bucket entry `bucket` (its
/// inventory lines, indented as list items) declared on the endpoint
/// `local` of `moto`.
fn home_with_bucket(moto: &Moto, stack_name: &str, bucket: &str) -> Home {
    let home = Home::new();
    let inventory = bucket_inventory(&home, moto, bucket);
    let stack = home.write("stack.yaml", STACK);
    ok(&home.run(&["apply", "--stack", stack_name, &stack, &inventory]));
    home
}

/// Writes an inventory of account 210987654321 in eu-west-1 with the
/// endpoint `local` of `moto` and the bucket entries `buckets` (indented
/// as list items); returns its path.
pub(crate) fn bucket_inventory(home: &Home, moto: &Moto, buckets: &str) -> String {
    let key = home.write("s3-key", "test\n");
    home.write(
        "inventory.yaml",
        &format!(
            r#"
defaults:
  account: "210987654321"
  region: eu-west-1
s3_endpoints:
  - name: local
    url: {}
    region: us-east-1
    access_key_id: {{file: {key}}}
    secret_access_key: {{file: {key}}}
    path_style: true
buckets:
{buckets}
"#,
            moto.url
        ),
    )
}

/// Every object of `bucket` under `prefix`: key (without the prefix) →
/// SHA-256, content type, user metadata, tags.
const DUMP: &str = r#"
import hashlib
bucket, prefix = sys.argv[1], sys.argv[2]
out = {}
for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get('Contents', []):
    got = s3.get_object(Bucket=bucket, Key=o['Key'])
    tags = s3.get_object_tagging(Bucket=bucket, Key=o['Key'])['TagSet']
    out[o['Key'][len(prefix):]] = [hashlib.sha256(got['Body'].read()).hexdigest(), got.get('ContentType'),
                                   got.get('Metadata', {}), {t['Key']: t['Value'] for t in tags}]
print(json.dumps(out, sort_keys=True))
"#;

fn dump(moto: &Moto, bucket: &str, prefix: &str) -> Value {
    serde_json::from_str(&moto.boto3(DUMP, &[bucket, prefix])).unwrap()
}

#[test]
fn a_bucket_backs_up_incrementally_restores_elsewhere_validates_and_lists_with_restic() {
    let home = Home::new();
    let local = Moto::start_logged();
    let offsite = Moto::start();
    local.boto3(
        r#"
s3.create_bucket(Bucket='media')
s3.put_bucket_tagging(Bucket='media', Tagging={'TagSet': [{'Key': 'team', 'Value': 'media'}]})
for i in range(20):
    s3.put_object(Bucket='media', Key=f'photos/{i}.jpg', Body=f'photo {i}'.encode() * 100, ContentType='image/jpeg',
                  Metadata={'n': str(i)}, Tagging=f'idx={i}')
s3.put_object(Bucket='media', Key='index.html', Body=b'<html></html>', ContentType='text/html')
"#,
        &[],
    );
    let key = home.write("s3-key", "test\n");
    let inventory = home.write(
        "inventory.yaml",
        &format!(
            r#"
defaults:
  account: "210987654321"
  region: eu-west-1
s3_endpoints:
  - name: local
    url: {}
    region: us-east-1
    access_key_id: {{file: {key}}}
    secret_access_key: {{file: {key}}}
    path_style: true
  - name: offsite
    url: {}
    region: us-east-1
    access_key_id: {{file: {key}}}
    secret_access_key: {{file: {key}}}
    path_style: true
buckets:
  - name: media
    endpoint: local
    bucket: media
"#,
            local.url, offsite.url
        ),
    );
    let stack = home.write("stack.yaml", STACK);
    ok(&home.run(&["apply", "--stack", "media", &stack, &inventory]));

    // Discovery adds the bucket's own tags to the inventory's.
    let discovered = home.run(&["discover", "-o", "json"]);
    ok(&discovered);
    let discovered: Value = serde_json::from_str(&discovered.stdout).unwrap();
    let media = discovered
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ResourceArn"] == MEDIA)
        .unwrap_or_else(|| panic!("{MEDIA} not discovered: {discovered}"));
    assert_eq!(media["Tags"]["team"], "media");

    let reads = local.object_reads("media").len();
    let first = home.run(&["backup", "start", "--resource", MEDIA, "--vault", "open"]);
    ok(&first);
    assert_eq!(local.object_reads("media").len() - reads, 21);
    let first = point_arn(&first);
    let at_first = dump(&local, "media", "");

    local.boto3(
        "s3.put_object(Bucket='media', Key='photos/7.jpg', Body=b'retouched', ContentType='image/png')",
        &[],
    );
    let reads = local.object_reads("media");
    let second = home.run(&["backup", "start", "--resource", MEDIA, "--vault", "open"]);
    ok(&second);
    assert_eq!(
        local.object_reads("media")[reads.len()..],
        ["photos/7.jpg".to_string()],
        "the second backup reads only the changed object"
    );
    let second = point_arn(&second);
    let at_second = dump(&local, "media", "");

    // Into a new bucket on the same endpoint, with types, metadata and tags.
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &second,
        "--target-bucket",
        "media-copy",
    ]));
    assert_eq!(dump(&local, "media-copy", ""), at_second);

    // The first point into a prefix of the bucket itself; again is refused.
    let into_prefix = [
        "restore",
        "start",
        "--recovery-point",
        &first,
        "--target-bucket",
        "media",
        "--target-prefix",
        "then/",
    ];
    ok(&home.run(&into_prefix));
    assert_eq!(dump(&local, "media", "then/"), at_first);
    let again = home.run(&into_prefix);
    assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);

    // One key, on the other endpoint.
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &first,
        "--target-bucket",
        "single",
        "--target-endpoint",
        "offsite",
        "--key",
        "photos/7.jpg",
    ]));
    let single = dump(&offsite, "single", "");
    assert_eq!(single.as_object().unwrap().len(), 1);
    assert_eq!(single["photos/7.jpg"], at_first["photos/7.jpg"]);

    // The restore jobs record the buckets they created.
    let jobs = home.run(&["jobs", "list", "-o", "json"]);
    ok(&jobs);
    assert!(
        jobs.stdout.contains("arn:coffer:s3:::media-copy")
            && jobs.stdout.contains("arn:coffer:s3:::media/then/")
            && jobs.stdout.contains("arn:coffer:s3:::single"),
        "{}",
        jobs.stdout
    );

    ok(&home.run(&["restore", "validate", "--recovery-point", &second]));

    // Debian's restic lists the point's keys with the exported key.
    let exported = home.run(&["vault", "export-key", "open", "--yes", "-o", "json"]);
    ok(&exported);
    let exported: Value = serde_json::from_str(&exported.stdout).unwrap();
    let listing = coffer_testkit::restic_ok(
        exported["repository"].as_str().unwrap(),
        exported["password"].as_str().unwrap(),
        &["ls", "latest"],
    );
    for path in [
        "/objects/photos/7.jpg",
        "/objects/index.html",
        "/objects.jsonl",
    ] {
        assert!(listing.contains(path), "{path} missing from {listing}");
    }
}

/// A bucket declared with `versions: all`: its versions back up through
/// the CLI, restore all (each key's oldest first) or one of a key.
#[test]
fn a_versioned_bucket_restores_every_version_or_one_through_the_cli() {
    let local = Moto::start();
    local.boto3(
        r#"
import time
s3.create_bucket(Bucket='history')
s3.put_bucket_versioning(Bucket='history', VersioningConfiguration={'Status': 'Enabled'})
for n in range(3):
    s3.put_object(Bucket='history', Key='doc', Body=f'doc {n}'.encode())
s3.put_object(Bucket='history', Key='gone', Body=b'gone')
time.sleep(1.1)
s3.delete_object(Bucket='history', Key='gone')
"#,
        &[],
    );
    let home = home_with_bucket(
        &local,
        "history",
        "  - name: history\n    endpoint: local\n    versions: all",
    );
    let arn = "arn:coffer:s3:eu-west-1:210987654321:bucket/history";
    let backup = home.run(&["backup", "start", "--resource", arn, "--vault", "open"]);
    ok(&backup);
    let point = point_arn(&backup);
    let history = r#"
bucket = sys.argv[1]
got = s3.list_object_versions(Bucket=bucket)
print(json.dumps({
    'versions': [(v['Key'], s3.get_object(Bucket=bucket, Key=v['Key'], VersionId=v['VersionId'])['Body'].read().decode()) for v in got.get('Versions', [])],
    'markers': [d['Key'] for d in got.get('DeleteMarkers', [])],
}))
"#;
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &point,
        "--target-bucket",
        "history-all",
        "--all-versions",
    ]));
    assert_eq!(
        local.boto3(history, &["history-all"]),
        local.boto3(history, &["history"])
    );
    let oldest = local
        .boto3(
            "print(s3.list_object_versions(Bucket='history', Prefix='doc')['Versions'][-1]['VersionId'])",
            &[],
        )
        .trim()
        .to_string();
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &point,
        "--target-bucket",
        "history-one",
        "--key",
        "doc",
        "--version-id",
        &oldest,
    ]));
    let one: Value = serde_json::from_str(&local.boto3(history, &["history-one"])).unwrap();
    assert_eq!(one["versions"], serde_json::json!([["doc", "doc 0"]]));
    let refused = home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &point,
        "--target-bucket",
        "history-none",
        "--version-id",
        &oldest,
    ]);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("--key"), "{}", refused.stderr);
}

/// Objects deleted after the listing, before their bodies are read (the
/// backup paused at the `s3-before-read` failpoint meanwhile), are left out
/// of the point, and the completed job says which in its status message.
#[test]
fn objects_deleted_during_a_backup_are_named_in_the_completed_job() {
    let local = Moto::start();
    local.boto3(
        r#"
s3.create_bucket(Bucket='media')
for i in range(12):
    s3.put_object(Bucket='media', Key=f'photos/{i:02}.jpg', Body=f'photo {i}'.encode() * 100)
"#,
        &[],
    );
    let home = home_with_bucket(
        &local,
        "media",
        "  - name: media\n    endpoint: local\n    bucket: media",
    );
    let resume = home.path().join("resume");
    let child = crate::spawn_to_failpoint(
        &home,
        &format!("s3-before-read@{}", resume.display()),
        "s3-before-read",
        &["backup", "start", "--resource", MEDIA, "--vault", "open"],
    );
    local.boto3(
        "s3.delete_object(Bucket='media', Key='photos/10.jpg')\ns3.delete_object(Bucket='media', Key='photos/11.jpg')",
        &[],
    );
    std::fs::write(&resume, "").unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("warning") && stdout.contains("2 object(s) deleted"),
        "{stdout}"
    );

    let jobs = home.run(&["jobs", "list", "-o", "json"]);
    ok(&jobs);
    let jobs: Value = serde_json::from_str(&jobs.stdout).unwrap();
    let backup = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["Type"] == "BACKUP")
        .map(|j| &j["Job"])
        .unwrap_or_else(|| panic!("no backup job in {jobs}"));
    assert_eq!(backup["State"], "COMPLETED", "{backup}");
    let message = backup["StatusMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("photos/10.jpg") && message.contains("photos/11.jpg"),
        "{backup}"
    );

    // The point holds the ten objects read, not the two deleted.
    let point = crate::jobs::point_arn(&crate::Run {
        code: 0,
        stdout: stdout.into_owned(),
        stderr: String::new(),
    });
    ok(&home.run(&[
        "restore",
        "start",
        "--recovery-point",
        &point,
        "--target-bucket",
        "media-then",
    ]));
    let restored = dump(&local, "media-then", "");
    assert_eq!(restored.as_object().unwrap().len(), 10, "{restored}");
}
