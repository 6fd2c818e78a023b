//! Inventory files of one set: what they declare may be used by any other
//! file of the set, whatever order the files are read in.

use coffer_model::ResourceType;

use crate::{all_diagnostics, load, options};

/// A bucket may name an endpoint declared in a file read after its own.
#[test]
fn buckets_find_endpoints_declared_in_later_files() {
    for files in [
        ["inventory/a-buckets.yaml", "inventory/b-endpoints.yaml"],
        ["inventory/b-endpoints.yaml", "inventory/a-buckets.yaml"],
    ] {
        let loaded = load(&files);
        assert_eq!(all_diagnostics(&loaded, &options()), Vec::<String>::new());
        let [bucket] = loaded.set.resources.as_slice() else {
            panic!("{:#?}", loaded.set.resources);
        };
        assert_eq!(bucket.value.resource_type, ResourceType::S3);
        assert_eq!(
            bucket.value.resource_arn.to_string(),
            "arn:coffer:s3:eu-west-1:111122223333:bucket/app-logs"
        );
        assert_eq!(bucket.value.connection["url"], "http://127.0.0.1:9000");
        assert_eq!(bucket.value.connection["prefix"], "logs/");
        assert_eq!(bucket.value.connection["access_key_id"], "env:MINIO_KEY");
        assert_eq!(
            bucket.origin.file,
            "tests/fixtures/inventory/a-buckets.yaml"
        );
    }
}

/// An endpoint no file declares is still an error, with the close name of
/// another file; a bucket name is still unique across files.
#[test]
fn bucket_references_and_names_across_files() {
    let loaded = load(&[
        "inventory/a-buckets.yaml",
        "inventory/c-mistakes.yaml",
        "inventory/b-endpoints.yaml",
    ]);
    assert_eq!(
        all_diagnostics(&loaded, &options()),
        [
            "error: tests/fixtures/inventory/c-mistakes.yaml:3:15 buckets[0].endpoint: endpoint \"minoi\" is not declared in s3_endpoints; did you mean \"minio\"?",
            "error: tests/fixtures/inventory/c-mistakes.yaml:4:11 buckets[1].name: duplicate name \"app-logs\": tests/fixtures/inventory/a-buckets.yaml:2 already uses it; names must be unique among buckets; rename one of them (the name is part of the ARN)",
        ]
    );
    assert_eq!(loaded.set.resources.len(), 1);
}
