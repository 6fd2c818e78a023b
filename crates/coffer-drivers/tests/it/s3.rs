//! S3 buckets against a real S3 server (moto, started by the test).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use coffer_drivers::s3::{BucketTarget, RestoreVersions};
use coffer_drivers::{backup, restore, validate, RestoreTarget};
use coffer_model::ResourceType;
use coffer_testkit::Moto;

use crate::{point, resource, vault};

/// Every object of `bucket` under `prefix` as JSON: key (without the
/// prefix) → SHA-256, size, content type, user metadata, tags.
const DUMP: &str = r#"
import hashlib
bucket, prefix = sys.argv[1], sys.argv[2]
out = {}
for page in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=prefix):
    for o in page.get('Contents', []):
        got = s3.get_object(Bucket=bucket, Key=o['Key'])
        body = got['Body'].read()
        tags = s3.get_object_tagging(Bucket=bucket, Key=o['Key'])['TagSet']
        out[o['Key'][len(prefix):]] = {
            'sha256': hashlib.sha256(body).hexdigest(),
            'size': len(body),
            'type': got.get('ContentType'),
            'meta': got.get('Metadata', {}),
            'tags': {t['Key']: t['Value'] for t in tags},
        }
print(json.dumps(out, sort_keys=True))
"#;

fn dump(moto: &Moto, bucket: &str, prefix: &str) -> serde_json::Value {
    serde_json::from_str(&moto.boto3(DUMP, &[bucket, prefix])).unwrap()
}

#[tokio::test]
async fn a_bucket_of_a_thousand_objects_round_trips_incrementally_with_metadata_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let moto = Moto::start_logged();
    // 1,000 objects with content types, user metadata and tags; keys whose
    // key order is not tree order ("a.txt" and "a-b/c" list before "a/x"),
    // and one object of 20 MiB.
    moto.boto3(
        r#"
s3.create_bucket(Bucket='photos')
for i in range(994):
    s3.put_object(Bucket='photos', Key=f'albums/{i % 7}/photo {i:04}.jpg', Body=(f'photo {i} ' * (i % 50 + 1)).encode(),
                  ContentType='image/jpeg', Metadata={'n': str(i), 'camera': f'c{i % 3}'}, Tagging=f'idx={i}&team=t{i % 3}')
for key in ['a.txt', 'a-b/c', 'a/x', 'a/y/z', 'readme']:
    s3.put_object(Bucket='photos', Key=key, Body=key.encode() * 3, ContentType='text/plain', Tagging='kind=text')
s3.put_object(Bucket='photos', Key='big.bin', Body=bytes(range(256)) * (80 * 1024), Metadata={'big': 'yes'})
"#,
        &[],
    );
    let credentials = dir.path().join("key");
    std::fs::write(&credentials, "test\n").unwrap();
    let reference = format!("file:{}", credentials.display());
    let photos = resource(
        ResourceType::S3,
        "photos",
        &[
            ("endpoint", "local"),
            ("url", &moto.url),
            ("signing_region", "us-east-1"),
            ("path_style", "true"),
            ("bucket", "photos"),
            ("access_key_id", &reference),
            ("secret_access_key", &reference),
        ],
    );
    let tags = |job: &str| {
        vec![
            format!("coffer-resource:{}", photos.resource_arn),
            format!("coffer-job:{job}"),
        ]
    };

    let reads_before = moto.object_reads("photos").len();
    let first = backup(&photos, &vault, tags("1"), dir.path())
        .await
        .unwrap();
    let reads = moto.object_reads("photos").len() - reads_before;
    assert_eq!(reads, 1000, "a first backup reads every object once");
    let first_point = point(&photos, &first);
    let at_first = dump(&moto, "photos", "");

    // Between the runs: two objects rewritten (one to the same size), one
    // added, one deleted, and one object's tags changed without its bytes.
    moto.boto3(
        r#"
s3.put_object(Bucket='photos', Key='a.txt', Body=b'A.TXTa.txta.txt', ContentType='text/plain')
s3.put_object(Bucket='photos', Key='albums/3/photo 0003.jpg', Body=b'changed', ContentType='image/png', Metadata={'n': 'new'})
s3.put_object(Bucket='photos', Key='new/one', Body=b'new', Tagging='fresh=1')
s3.delete_object(Bucket='photos', Key='readme')
s3.put_object_tagging(Bucket='photos', Key='a/x', Tagging={'TagSet': [{'Key': 'kind', 'Value': 'retagged'}]})
"#,
        &[],
    );
    let reads_before = moto.object_reads("photos");
    let second = backup(&photos, &vault, tags("2"), dir.path())
        .await
        .unwrap();
    let mut read: Vec<String> = moto.object_reads("photos")[reads_before.len()..].to_vec();
    read.sort();
    assert_eq!(
        read,
        ["a.txt", "albums/3/photo%200003.jpg", "new/one"],
        "an incremental backup reads only the changed objects"
    );
    assert_ne!(second.content_sha256, first.content_sha256);
    let second_point = point(&photos, &second);
    let at_second = dump(&moto, "photos", "");

    // The newest point restores into a new bucket with every byte, type,
    // metadata and tag (the retagged object's new tags included).
    let into = |bucket: &str, prefix: &str, select: Option<&str>| {
        RestoreTarget::Bucket(BucketTarget {
            endpoint: None,
            access: None,
            bucket: bucket.into(),
            prefix: prefix.into(),
            select: select.map(str::to_string),
            versions: RestoreVersions::Current,
        })
    };
    let restored = restore(
        &second_point,
        &photos,
        &vault,
        &into("restored", "", None),
        false,
    )
    .await
    .unwrap();
    assert!(restored.created.contains("s3://restored/"), "{restored:?}");
    assert_eq!(dump(&moto, "restored", ""), at_second);
    assert_eq!(at_second["a/x"]["tags"]["kind"], "retagged");
    assert_eq!(at_second.as_object().unwrap().len(), 1000);

    // The first point, into a prefix of an existing bucket: the deleted
    // object is there, as it was; the second time is refused, and forced.
    restore(
        &first_point,
        &photos,
        &vault,
        &into("restored", "then/", None),
        false,
    )
    .await
    .unwrap();
    let then = dump(&moto, "restored", "then/");
    assert_eq!(then, at_first);
    assert!(then.get("readme").is_some() && at_second.get("readme").is_none());
    let refused = restore(
        &first_point,
        &photos,
        &vault,
        &into("restored", "then/", None),
        false,
    )
    .await
    .unwrap_err();
    assert!(refused.is_target_exists(), "{refused}");
    restore(
        &first_point,
        &photos,
        &vault,
        &into("restored", "then/", None),
        true,
    )
    .await
    .unwrap();

    // One key alone; a key the point does not hold is refused.
    restore(
        &first_point,
        &photos,
        &vault,
        &into("single", "", Some("readme")),
        false,
    )
    .await
    .unwrap();
    let single = dump(&moto, "single", "");
    assert_eq!(single.as_object().unwrap().len(), 1);
    assert_eq!(single["readme"], at_first["readme"]);
    let absent = restore(
        &second_point,
        &photos,
        &vault,
        &into("single2", "", Some("readme")),
        false,
    )
    .await
    .unwrap_err();
    assert!(
        absent.to_string().contains("no key starting with"),
        "{absent}"
    );

    // Validation reads every object back against the manifest.
    let validation = validate(&second_point, &photos, &vault, dir.path(), None)
        .await
        .unwrap();
    assert!(validation.passed(), "{validation:?}");
    let mut wrong = second_point.clone();
    wrong.content_sha256 = Some("0".repeat(64));
    let validation = validate(&wrong, &photos, &vault, dir.path(), None)
        .await
        .unwrap();
    assert!(
        validation.problems[0].contains("manifest SHA-256"),
        "{validation:?}"
    );

    // Debian's restic lists the keys and the manifest.
    let repository = dir.path().join("vault").display().to_string();
    let password = coffer_vault::restic_password(&vault.secret);
    let listing = coffer_testkit::restic_ok(&repository, &password, &["ls", &second.snapshot_id]);
    assert!(listing.contains("/objects/a-b/c"), "{listing}");
    assert!(
        listing.contains("/objects/albums/3/photo 0003.jpg"),
        "{listing}"
    );
    assert!(listing.contains("/objects.jsonl"), "{listing}");
    assert!(!listing.contains("/objects/readme"), "{listing}");
    let dumped = coffer_testkit::restic_ok(
        &repository,
        &password,
        &["dump", &second.snapshot_id, "/objects/new/one"],
    );
    assert_eq!(dumped, "new");
}

/// Every version of `bucket` under `prefix`: key → its versions newest
/// first (SHA-256, content type, user metadata, tags), its number of
/// delete markers and whether the newest entry is one. (moto lists a
/// page's delete markers after its versions, with dates cut to the
/// second, so their place among the versions is not compared.)
const VERSIONS: &str = r#"
import hashlib
bucket, prefix = sys.argv[1], sys.argv[2]
out = {}
for page in s3.get_paginator('list_object_versions').paginate(Bucket=bucket, Prefix=prefix):
    for v in page.get('Versions', []):
        got = s3.get_object(Bucket=bucket, Key=v['Key'], VersionId=v['VersionId'])
        body = got['Body'].read()
        tags = s3.get_object_tagging(Bucket=bucket, Key=v['Key'], VersionId=v['VersionId'])['TagSet']
        entry = out.setdefault(v['Key'][len(prefix):], {'versions': [], 'delete_markers': 0, 'deleted': False})
        entry['versions'].append({
            'sha256': hashlib.sha256(body).hexdigest(),
            'type': got.get('ContentType'),
            'meta': got.get('Metadata', {}),
            'tags': {t['Key']: t['Value'] for t in tags},
        })
    for d in page.get('DeleteMarkers', []):
        entry = out.setdefault(d['Key'][len(prefix):], {'versions': [], 'delete_markers': 0, 'deleted': False})
        entry['delete_markers'] += 1
        entry['deleted'] = entry['deleted'] or d['IsLatest']
print(json.dumps(out, sort_keys=True))
"#;

fn versions(moto: &Moto, bucket: &str, prefix: &str) -> serde_json::Value {
    serde_json::from_str(&moto.boto3(VERSIONS, &[bucket, prefix])).unwrap()
}

fn bucket_resource(
    moto: &Moto,
    dir: &std::path::Path,
    bucket: &str,
    versions: bool,
) -> coffer_model::Resource {
    let credentials = dir.join("key");
    std::fs::write(&credentials, "test\n").unwrap();
    let reference = format!("file:{}", credentials.display());
    let mut connection = vec![
        ("endpoint", "local"),
        ("url", moto.url.as_str()),
        ("signing_region", "us-east-1"),
        ("path_style", "true"),
        ("bucket", bucket),
        ("access_key_id", reference.as_str()),
        ("secret_access_key", reference.as_str()),
    ];
    if versions {
        connection.push(("versions", "all"));
    }
    resource(ResourceType::S3, bucket, &connection)
}

/// Versioned GetObject requests answered so far for `bucket` (bodies read).
fn version_reads(moto: &Moto, bucket: &str) -> Vec<String> {
    let start = format!("GET /{bucket}/");
    moto.requests()
        .into_iter()
        .filter_map(|line| {
            let path = line.strip_prefix(&start)?.split(' ').next()?.to_string();
            (path.contains("versionId=") && !path.contains("tagging")).then_some(path)
        })
        .collect()
}

#[tokio::test]
async fn noncurrent_versions_and_delete_markers_round_trip_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let moto = Moto::start_logged();
    // Three versions of one key, each with its own type, metadata and
    // tags; a key deleted (its newest entry a delete marker); a key
    // deleted and written again; a key with one version.
    moto.boto3(
        r#"
import time
s3.create_bucket(Bucket='history')
s3.put_bucket_versioning(Bucket='history', VersioningConfiguration={'Status': 'Enabled'})
for n in range(3):
    s3.put_object(Bucket='history', Key='doc', Body=f'doc version {n}'.encode() * (n + 1),
                  ContentType=f'text/v{n}', Metadata={'n': str(n)}, Tagging=f'n={n}')
s3.put_object(Bucket='history', Key='gone', Body=b'soon deleted')
s3.put_object(Bucket='history', Key='back/again', Body=b'first life')
# moto dates a delete marker to the second: a second apart, its place
# among the versions shows in the dates.
time.sleep(1.1)
s3.delete_object(Bucket='history', Key='gone')
s3.delete_object(Bucket='history', Key='back/again')
time.sleep(1.1)
s3.put_object(Bucket='history', Key='back/again', Body=b'second life')
s3.put_object(Bucket='history', Key='plain', Body=b'plain')
"#,
        &[],
    );
    let bucket = bucket_resource(&moto, dir.path(), "history", true);
    let tags = |job: &str| {
        vec![
            format!("coffer-resource:{}", bucket.resource_arn),
            format!("coffer-job:{job}"),
        ]
    };
    let before = versions(&moto, "history", "");
    assert_eq!(before["doc"]["versions"].as_array().unwrap().len(), 3);
    assert_eq!(before["gone"]["deleted"], true);
    assert_eq!(before["back/again"]["delete_markers"], 1);
    assert_eq!(before["back/again"]["deleted"], false);

    let reads_before = version_reads(&moto, "history").len();
    let first = backup(&bucket, &vault, tags("1"), dir.path())
        .await
        .unwrap();
    assert_eq!(
        version_reads(&moto, "history").len() - reads_before,
        7,
        "each version read once (delete markers have no bytes)"
    );
    let first_point = point(&bucket, &first);

    // Every version restores into a new bucket in the same order per key,
    // delete markers included.
    let into = |bucket: &str, select: Option<&str>, versions: RestoreVersions| {
        RestoreTarget::Bucket(BucketTarget {
            endpoint: None,
            access: None,
            bucket: bucket.into(),
            prefix: String::new(),
            select: select.map(str::to_string),
            versions,
        })
    };
    restore(
        &first_point,
        &bucket,
        &vault,
        &into("history-all", None, RestoreVersions::All),
        false,
    )
    .await
    .unwrap();
    assert_eq!(versions(&moto, "history-all", ""), before);

    // The current versions alone: no deleted key, the newest bytes.
    restore(
        &first_point,
        &bucket,
        &vault,
        &into("history-now", None, RestoreVersions::Current),
        false,
    )
    .await
    .unwrap();
    let now = dump(&moto, "history-now", "");
    let mut keys: Vec<&String> = now.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["back/again", "doc", "plain"]);
    assert_eq!(now["doc"]["sha256"], before["doc"]["versions"][0]["sha256"]);
    assert_eq!(now["doc"]["tags"]["n"], "2");

    // One chosen version of one key, as that key's object.
    let oldest_doc: String = moto
        .boto3(
            // Listed newest first: the last is the oldest.
            "print(s3.list_object_versions(Bucket='history', Prefix='doc')['Versions'][-1]['VersionId'])",
            &[],
        )
        .trim()
        .to_string();
    restore(
        &first_point,
        &bucket,
        &vault,
        &into(
            "history-one",
            Some("doc"),
            RestoreVersions::One(oldest_doc.clone()),
        ),
        false,
    )
    .await
    .unwrap();
    let one = dump(&moto, "history-one", "");
    assert_eq!(one.as_object().unwrap().len(), 1);
    assert_eq!(one["doc"]["sha256"], before["doc"]["versions"][2]["sha256"]);
    assert_eq!(one["doc"]["type"], "text/v0");
    let absent = restore(
        &first_point,
        &bucket,
        &vault,
        &into(
            "history-none",
            Some("doc"),
            RestoreVersions::One("no-such-version".into()),
        ),
        false,
    )
    .await
    .unwrap_err();
    assert!(absent.to_string().contains("no version"), "{absent}");

    // All versions into an existing bucket without versioning is refused.
    moto.boto3("s3.create_bucket(Bucket='unversioned')", &[]);
    let refused = restore(
        &first_point,
        &bucket,
        &vault,
        &into("unversioned", None, RestoreVersions::All),
        false,
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("versioning"), "{refused}");

    // Incremental by key and version: a new version of doc and a delete
    // of plain read one body, though doc's former current version is now
    // noncurrent.
    moto.boto3(
        r#"
s3.put_object(Bucket='history', Key='doc', Body=b'doc version 3', ContentType='text/v3')
s3.delete_object(Bucket='history', Key='plain')
"#,
        &[],
    );
    let after = versions(&moto, "history", "");
    let reads_before = version_reads(&moto, "history");
    let second = backup(&bucket, &vault, tags("2"), dir.path())
        .await
        .unwrap();
    let read: Vec<String> = version_reads(&moto, "history")[reads_before.len()..].to_vec();
    assert_eq!(read.len(), 1, "only the new version is read: {read:?}");
    assert!(read[0].starts_with("doc?"), "{read:?}");
    let second_point = point(&bucket, &second);
    restore(
        &second_point,
        &bucket,
        &vault,
        &into("history-2", None, RestoreVersions::All),
        false,
    )
    .await
    .unwrap();
    assert_eq!(versions(&moto, "history-2", ""), after);
    assert_eq!(after["doc"]["versions"].as_array().unwrap().len(), 4);
    assert_eq!(after["plain"]["deleted"], true);

    // Validation reads every version back; restic lists them.
    let validation = validate(&second_point, &bucket, &vault, dir.path(), None)
        .await
        .unwrap();
    assert!(validation.passed(), "{validation:?}");
    assert!(
        validation
            .checked
            .iter()
            .any(|line| line.starts_with("11 object(s)")),
        "8 versions and 3 delete markers: {validation:?}"
    );
    let repository = dir.path().join("vault").display().to_string();
    let password = coffer_vault::restic_password(&vault.secret);
    let listing = coffer_testkit::restic_ok(&repository, &password, &["ls", &second.snapshot_id]);
    assert_eq!(listing.matches("/history/doc/").count(), 4, "{listing}");
    assert!(listing.contains("/history/back/again/"), "{listing}");
}

/// Objects 100 to 199 of the 300 are rewritten (another size, another
/// generation in their bytes and metadata) and ten of them deleted after
/// the listing, just before the first body is read.
#[tokio::test]
async fn objects_changed_or_deleted_during_a_backup_are_recorded_as_read() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let moto = Arc::new(Moto::start_logged());
    moto.boto3(
        r#"
s3.create_bucket(Bucket='busy')
for i in range(300):
    s3.put_object(Bucket='busy', Key=f'k/{i:03}', Body=f'gen 0 of {i:03};'.encode() * 2000, Metadata={'gen': '0'})
"#,
        &[],
    );
    let bucket = bucket_resource(&moto, dir.path(), "busy", false);
    let changed = Arc::new(AtomicBool::new(false));
    let hook: coffer_drivers::s3::BeforeRead = {
        let moto = Arc::clone(&moto);
        let changed = Arc::clone(&changed);
        Arc::new(move |_key: &str| {
            if !changed.swap(true, Ordering::SeqCst) {
                moto.boto3(
                    r#"
for i in range(100, 200):
    s3.put_object(Bucket='busy', Key=f'k/{i:03}', Body=f'gen 1 of {i:03};'.encode() * 3000, Metadata={'gen': '1'})
for i in range(150, 160):
    s3.delete_object(Bucket='busy', Key=f'k/{i:03}')
"#,
                    &[],
                );
            }
        })
    };
    let tags = vec![format!("coffer-resource:{}", bucket.resource_arn)];
    let outcome = coffer_drivers::s3::backup_with(&bucket, &vault, tags, dir.path(), Some(hook))
        .await
        .unwrap();
    assert!(changed.load(Ordering::SeqCst));
    assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
    assert!(
        outcome.warnings[0].starts_with("10 object(s) deleted")
            && outcome.warnings[0].contains("k/150"),
        "{:?}",
        outcome.warnings
    );

    // Each record of the manifest describes the bytes stored: the ETag is
    // their MD5, the size and SHA-256 theirs, the metadata their generation.
    let repository = dir.path().join("vault").display().to_string();
    let password = coffer_vault::restic_password(&vault.secret);
    let manifest = coffer_testkit::restic_ok(
        &repository,
        &password,
        &["dump", &outcome.snapshot_id, "/objects.jsonl"],
    );
    let records: Vec<serde_json::Value> = manifest
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 290);
    let point = point(&bucket, &outcome);
    restore(
        &point,
        &bucket,
        &vault,
        &RestoreTarget::Bucket(BucketTarget {
            endpoint: None,
            access: None,
            bucket: "busy-restored".into(),
            prefix: String::new(),
            select: None,
            versions: RestoreVersions::Current,
        }),
        false,
    )
    .await
    .unwrap();
    let restored: serde_json::Value = serde_json::from_str(&moto.boto3(
        r#"
import hashlib
out = {}
for page in s3.get_paginator('list_objects_v2').paginate(Bucket='busy-restored'):
    for o in page.get('Contents', []):
        body = s3.get_object(Bucket='busy-restored', Key=o['Key'])['Body'].read()
        out[o['Key']] = {'md5': hashlib.md5(body).hexdigest(), 'sha256': hashlib.sha256(body).hexdigest(), 'size': len(body), 'gen': body[4:5].decode()}
print(json.dumps(out))
"#,
        &[],
    ))
    .unwrap();
    let mut generation_1 = 0;
    for record in &records {
        let key = record["key"].as_str().unwrap();
        let bytes = &restored[key];
        assert_eq!(
            record["etag"].as_str().unwrap().trim_matches('"'),
            bytes["md5"],
            "{key}"
        );
        assert_eq!(record["sha256"], bytes["sha256"], "{key}");
        assert_eq!(record["size"], bytes["size"], "{key}");
        assert_eq!(record["metadata"]["gen"], bytes["gen"], "{key}");
        let index: u32 = key[2..].parse().unwrap();
        let expected = if (100..200).contains(&index) {
            "1"
        } else {
            "0"
        };
        assert_eq!(bytes["gen"], expected, "{key}");
        if expected == "1" {
            generation_1 += 1;
        }
        assert!(
            !(150..160).contains(&index),
            "{key} was deleted before it was read"
        );
    }
    assert_eq!(generation_1, 90);
    let validation = validate(&point, &bucket, &vault, dir.path(), None)
        .await
        .unwrap();
    assert!(validation.passed(), "{validation:?}");
}
