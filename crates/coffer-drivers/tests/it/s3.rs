//! S3 buckets against a real S3 server (moto, started by the test).

use coffer_drivers::s3::BucketTarget;
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
    let validation = validate(&second_point, &photos, &vault, dir.path())
        .await
        .unwrap();
    assert!(validation.passed(), "{validation:?}");
    let mut wrong = second_point.clone();
    wrong.content_sha256 = Some("0".repeat(64));
    let validation = validate(&wrong, &photos, &vault, dir.path()).await.unwrap();
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
