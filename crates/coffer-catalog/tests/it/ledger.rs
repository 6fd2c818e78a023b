//! The ledger's entry formats: entries written before actors (format 1)
//! read back and hash as they did; new entries (format 2) name the actor
//! of the handle that wrote them and carry its ledger key's MAC; the log
//! is queried by actor, kind, subject and time, newest first, in pages.

use coffer_catalog::{Actor, LedgerKey, LedgerQuery, FORMAT_V1, FORMAT_V2, GENESIS};

use crate::engines::{engines, now};
use crate::records::job;

fn operator() -> Actor {
    Actor::new(
        "arn:coffer:iam::111122223333:user/operator",
        Some("111122223333".into()),
        Some("alice".into()),
    )
}

#[tokio::test]
async fn entries_name_the_actor_of_their_handle_and_carry_its_mac() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let key = LedgerKey::from_bytes([3; 32]);
        let keyed = catalog.with_ledger_key(key.clone());
        keyed
            .as_actor(operator())
            .insert(&job("J1"), now())
            .await
            .unwrap();
        keyed
            .as_actor(Actor::scheduler())
            .insert(&job("J2"), now())
            .await
            .unwrap();
        // A handle given neither key nor actor still names Coffer itself.
        catalog.insert(&job("J3"), now()).await.unwrap();

        let entries = catalog.ledger_entries(0, 3).await.unwrap();
        assert_eq!(entries.len(), 3, "{}", engine.name);
        assert!(entries.iter().all(|e| e.format == FORMAT_V2));
        assert!(entries.iter().all(|e| e.computed_hash() == e.entry_hash));
        assert_eq!(entries[0].actor, Some(operator()), "{}", engine.name);
        assert_eq!(entries[1].actor, Some(Actor::scheduler()));
        assert_eq!(
            entries[1].actor.as_ref().unwrap().principal,
            "coffer:scheduler"
        );
        assert_eq!(entries[2].actor, Some(Actor::system()));
        assert!(key.verifies(&entries[0]) && key.verifies(&entries[1]));
        assert!(entries[2].mac.is_none());
        assert!(!LedgerKey::from_bytes([4; 32]).verifies(&entries[0]));
        assert_eq!(format!("{:?}", keyed.ledger_key()), "Some(LedgerKey(***))");
    }
}

#[tokio::test]
async fn entries_written_before_actors_still_hash_as_they_did() {
    for engine in engines().await {
        let catalog = engine.open().await;
        // A format-1 entry as the previous build wrote it (its columns only).
        let mut old = coffer_catalog::LedgerEntry {
            seq: 0,
            time: now(),
            kind: "backup job".into(),
            subject: "J0".into(),
            event: "created CREATED".into(),
            doc_sha256: "ab".repeat(32),
            prev_hash: GENESIS.into(),
            actor: None,
            entry_hash: String::new(),
            format: FORMAT_V1,
            mac: None,
        };
        old.entry_hash = old.computed_hash();
        sqlx_insert_v1(&engine.url, &old).await;
        catalog.insert(&job("J1"), now()).await.unwrap();

        let entries = catalog.ledger_entries(0, 2).await.unwrap();
        assert_eq!(entries[0], old, "{}", engine.name);
        assert_eq!(entries[0].computed_hash(), entries[0].entry_hash);
        assert_eq!(entries[1].format, FORMAT_V2);
        assert_eq!(entries[1].prev_hash, old.entry_hash);
    }
}

async fn sqlx_insert_v1(url: &str, entry: &coffer_catalog::LedgerEntry) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query("INSERT INTO ledger (seq, time, kind, subject, event, doc_sha256, prev_hash, entry_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(entry.seq)
        .bind(entry.time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .bind(&entry.kind)
        .bind(&entry.subject)
        .bind(&entry.event)
        .bind(&entry.doc_sha256)
        .bind(&entry.prev_hash)
        .bind(&entry.entry_hash)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn the_log_filters_by_actor_kind_subject_and_time_newest_first_in_pages() {
    for engine in engines().await {
        let catalog = engine.open().await;
        let later = now() + jiff::SignedDuration::from_hours(1);
        let as_operator = catalog.as_actor(operator());
        for n in 0..5 {
            as_operator
                .insert(&job(&format!("OP{n}")), now())
                .await
                .unwrap();
        }
        let scheduler = catalog.as_actor(Actor::scheduler());
        for n in 0..3 {
            scheduler
                .insert(&job(&format!("S{n}")), later)
                .await
                .unwrap();
        }
        let subjects = |entries: Vec<coffer_catalog::LedgerEntry>| {
            entries.into_iter().map(|e| e.subject).collect::<Vec<_>>()
        };
        let by_actor = LedgerQuery {
            actor: Some(operator().principal),
            ..LedgerQuery::default()
        };
        let page = catalog.ledger_log(&by_actor, 3).await.unwrap();
        assert_eq!(
            subjects(page.clone()),
            ["OP4", "OP3", "OP2"],
            "{}",
            engine.name
        );
        let next = LedgerQuery {
            before: Some(page[2].seq),
            ..by_actor.clone()
        };
        assert_eq!(
            subjects(catalog.ledger_log(&next, 3).await.unwrap()),
            ["OP1", "OP0"]
        );

        let since = LedgerQuery {
            since: Some(later),
            ..LedgerQuery::default()
        };
        assert_eq!(
            subjects(catalog.ledger_log(&since, 10).await.unwrap()),
            ["S2", "S1", "S0"]
        );
        let until = LedgerQuery {
            until: Some(now()),
            kind: Some("backup job".into()),
            ..LedgerQuery::default()
        };
        assert_eq!(catalog.ledger_log(&until, 10).await.unwrap().len(), 5);
        let subject = LedgerQuery {
            subject: Some("S1".into()),
            ..LedgerQuery::default()
        };
        assert_eq!(
            subjects(catalog.ledger_log(&subject, 10).await.unwrap()),
            ["S1"]
        );
        let nothing = LedgerQuery {
            kind: Some("weakening".into()),
            ..LedgerQuery::default()
        };
        assert!(catalog.ledger_log(&nothing, 10).await.unwrap().is_empty());
    }
}
