//! The report S3 client against a real moto server that checks every
//! request's SigV4 signature: keys that need encoding, listings over
//! several pages, Object Lock on puts, S3's errors by code.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use coffer_model::LockMode;
use coffer_report::bundle::ObjectLock;
use coffer_report::s3::{retain_until_text, Delivery as _, LockConfiguration, S3Client};
use coffer_vault::S3Access;

fn client(moto: &coffer_testkit::Moto, id: &str, secret: &str, bucket: &str) -> S3Client {
    S3Client::new(
        &S3Access {
            endpoint: moto.url.clone(),
            region: "us-east-1".into(),
            access_key_id: Some(id.into()),
            secret_access_key: Some(secret.into()),
            virtual_host_style: false,
        },
        bucket,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_put_list_get_and_lock_objects() {
    let (moto, id, secret) = coffer_testkit::Moto::start_checking_signatures();
    moto.boto3_as(
        &id,
        &secret,
        "s3.create_bucket(Bucket='signed', ObjectLockEnabledForBucket=True)\ns3.create_bucket(Bucket='plain')",
        &[],
    );
    let s3 = client(&moto, &id, &secret, "signed").with_page_size(2);
    assert_eq!(
        s3.object_lock().await.unwrap(),
        Some(LockConfiguration {
            enabled: true,
            default_retention: None
        })
    );

    let until = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 3600).unwrap();
    let lock = ObjectLock {
        mode: LockMode::Compliance,
        retain_until_date: until,
    };
    let keys = [
        "audit/BACKUP_JOB_REPORT/year=2026/month=11/a b+c.csv",
        "audit/BACKUP_JOB_REPORT/year=2026/month=11/r\u{e9}sum\u{e9}.json",
        "audit/BACKUP_JOB_REPORT/year=2026/month=11/x~y_z.pdf",
    ];
    for key in keys {
        s3.put(key, key.as_bytes(), Some(&lock)).await.unwrap();
    }
    s3.put("elsewhere/manifest.json", b"{}", None)
        .await
        .unwrap();

    // Three objects over two pages of two; the one outside the prefix is not listed.
    let listed = s3.list("audit/BACKUP_JOB_REPORT/").await.unwrap();
    let mut names: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    names.sort_unstable();
    let mut expected = keys.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for key in keys {
        assert_eq!(s3.get(key).await.unwrap(), key.as_bytes());
        let head = s3.head(key).await.unwrap();
        assert_eq!(head.lock_mode.as_deref(), Some("COMPLIANCE"), "{key}");
        assert_eq!(
            head.retain_until.as_deref(),
            Some(retain_until_text(until).as_str()),
            "{key}"
        );
        assert_eq!(head.size, Some(key.len() as u64));
        assert!(head.version_id.is_some(), "{key}");
    }
    let delivery = s3
        .fetch_delivery("elsewhere/")
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no delivery under elsewhere/"));
    assert_eq!(
        delivery.objects.keys().collect::<Vec<_>>(),
        ["manifest.json"]
    );
    assert!(s3
        .fetch_delivery("audit/BACKUP_JOB_REPORT/")
        .await
        .unwrap()
        .is_none());

    // S3's answers surface by code, with the message.
    let missing = s3.get("audit/none.csv").await.unwrap_err();
    assert_eq!(missing.code.as_deref(), Some("NoSuchKey"), "{missing}");
    assert!(
        missing
            .to_string()
            .starts_with("S3 GetObject of s3://signed/audit/none.csv: HTTP 404 NoSuchKey"),
        "{missing}"
    );
    let forged = client(&moto, &id, "not-the-secret", "signed")
        .get(keys[0])
        .await
        .unwrap_err();
    assert_eq!(
        forged.code.as_deref(),
        Some("SignatureDoesNotMatch"),
        "{forged}"
    );
    assert!(!forged.to_string().contains("not-the-secret"), "{forged}");

    // A bucket without Object Lock: no configuration, and a retained put refused.
    let plain = client(&moto, &id, &secret, "plain");
    assert_eq!(plain.object_lock().await.unwrap(), None);
    let refused = plain.put("r.csv", b"x", Some(&lock)).await.unwrap_err();
    assert_eq!(refused.code.as_deref(), Some("InvalidRequest"), "{refused}");
    plain.put("r.csv", b"x", None).await.unwrap();
    assert_eq!(plain.head("r.csv").await.unwrap().lock_mode, None);
}
