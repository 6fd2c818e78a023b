//! Reading a `mariadb-dump` stream as it passes: the table manifest (row
//! counts and order-independent row checksums) of exactly what the dump
//! holds, and the statements of one table for a one-table restore.
//!
//! The dump is taken with `--skip-extended-insert`, so each row is one
//! `INSERT INTO `t` VALUES (...);` line (the dump escapes newlines inside
//! values), and with comments on, so each table's statements sit under a
//! `-- Table structure for table `t`` or `-- Dumping data for table `t``
//! header. Lines are never held whole: only their first [`HEAD`] bytes are
//! kept, enough to classify them; the rest streams through.

use std::collections::BTreeMap;
use std::io::Write;

use coffer_model::{ContentManifest, TableManifest};
use sha2::{Digest as _, Sha256};

/// How much of a line is kept to classify it: a section header or the
/// start of a row names a table of at most 64 characters, each at most
/// four bytes and doubled when it is a backtick.
const HEAD: usize = 1024;

const INSERT: &[u8] = b"INSERT INTO `";
const CREATE_TABLE: &[u8] = b"CREATE TABLE `";
const STRUCTURE: &[u8] = b"-- Table structure for table `";
const DATA: &[u8] = b"-- Dumping data for table `";
/// Section headers of what is not a table's (views, events, routines).
const OTHER_SECTIONS: [&[u8]; 4] = [
    b"-- Temporary table structure for view ",
    b"-- Final view structure for view ",
    b"-- Dumping events for database ",
    b"-- Dumping routines for database ",
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Section {
    /// Before the first section: the session settings every part needs.
    Header,
    Structure(String),
    Data(String),
    Other,
}

/// A dump read line by line as it passes (see the module's docs).
#[derive(Debug)]
pub(crate) struct DumpScanner {
    /// Only this table's sections pass to the output (and the header).
    keep: Option<String>,
    head: Vec<u8>,
    /// Whether the current line was classified (its head is complete).
    decided: bool,
    passes: bool,
    /// The current line is a row of this table, hashed as it passes.
    row: Option<(String, Sha256)>,
    section: Section,
    /// Inside `DELIMITER ;;` (trigger, event and routine bodies), where
    /// no line is a table's or a row.
    delimited: bool,
    tables: BTreeMap<String, (u64, u128)>,
    kept_seen: bool,
}

impl DumpScanner {
    /// A scanner that lets every line pass.
    pub(crate) fn new() -> DumpScanner {
        DumpScanner {
            keep: None,
            head: Vec::with_capacity(HEAD),
            decided: false,
            passes: true,
            row: None,
            section: Section::Header,
            delimited: false,
            tables: BTreeMap::new(),
            kept_seen: false,
        }
    }

    /// A scanner that lets only `table`'s statements (and the session
    /// settings before the first table) pass.
    pub(crate) fn keeping(table: &str) -> DumpScanner {
        DumpScanner {
            keep: Some(table.to_string()),
            ..DumpScanner::new()
        }
    }

    /// Whether a section of the kept table was seen.
    pub(crate) fn kept_seen(&self) -> bool {
        self.kept_seen
    }

    /// Reads `bytes`, writing what passes to `out`.
    pub(crate) fn feed<W: Write>(&mut self, mut bytes: &[u8], out: &mut W) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let (mut part, ends) = match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => (&bytes[..=i], true),
                None => (bytes, false),
            };
            bytes = &bytes[part.len()..];
            if !self.decided {
                let take = (HEAD - self.head.len()).min(part.len());
                self.head.extend_from_slice(&part[..take]);
                part = &part[take..];
                if !ends && self.head.len() < HEAD {
                    continue;
                }
                self.decide();
                let head = std::mem::take(&mut self.head);
                let passed = self.pass(&head, out);
                self.head = head;
                passed?;
            }
            self.pass(part, out)?;
            if ends {
                self.end_line();
            }
        }
        Ok(())
    }

    /// Ends a last line without a newline, writing what passes.
    pub(crate) fn finish<W: Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        if !self.decided && !self.head.is_empty() {
            self.decide();
            let head = std::mem::take(&mut self.head);
            self.pass(&head, out)?;
        }
        if self.decided {
            self.end_line();
        }
        Ok(())
    }

    /// The tables the dump created and the rows it holds, by name.
    pub(crate) fn manifest(&self) -> ContentManifest {
        ContentManifest {
            tables: self
                .tables
                .iter()
                .map(|(name, (rows, sum))| TableManifest {
                    name: name.clone(),
                    rows: *rows,
                    checksum: format!("{sum:032x}"),
                })
                .collect(),
        }
    }

    fn pass<W: Write>(&mut self, bytes: &[u8], out: &mut W) -> std::io::Result<()> {
        if let Some((_, hasher)) = &mut self.row {
            hasher.update(bytes);
        }
        if self.passes {
            out.write_all(bytes)?;
        }
        Ok(())
    }

    fn decide(&mut self) {
        self.decided = true;
        let line = self.head.strip_suffix(b"\n").unwrap_or(&self.head);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"DELIMITER ;;" {
            self.delimited = true;
        } else if line == b"DELIMITER ;" {
            self.delimited = false;
        } else if !self.delimited {
            if let Some(name) = table_after(line, STRUCTURE) {
                self.section = Section::Structure(name);
            } else if let Some(name) = table_after(line, DATA) {
                self.section = Section::Data(name);
            } else if OTHER_SECTIONS.iter().any(|s| line.starts_with(s)) {
                self.section = Section::Other;
            } else if let Section::Structure(table) = &self.section {
                if let Some(name) = table_after(line, CREATE_TABLE) {
                    if &name == table {
                        self.tables.entry(name).or_default();
                    }
                }
            } else if let Section::Data(table) = &self.section {
                if let Some(name) = table_after(line, INSERT) {
                    if &name == table {
                        self.row = Some((name, Sha256::new()));
                    }
                }
            }
        }
        self.passes = match (&self.keep, &self.section) {
            (None, _) | (Some(_), Section::Header) => true,
            (Some(keep), Section::Structure(table) | Section::Data(table)) => keep == table,
            (Some(_), Section::Other) => false,
        };
        if self.passes && self.keep.is_some() && self.section != Section::Header {
            self.kept_seen = true;
        }
    }

    fn end_line(&mut self) {
        if let Some((name, hasher)) = self.row.take() {
            let digest = hasher.finalize();
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            let entry = self.tables.entry(name).or_default();
            entry.0 += 1;
            entry.1 = entry.1.wrapping_add(u128::from(u64::from_be_bytes(first)));
        }
        self.head.clear();
        self.decided = false;
        self.passes = true;
    }
}

/// The backtick-quoted table name that follows `prefix` (whose last byte
/// is the opening backtick) at the start of `line`.
fn table_after(line: &[u8], prefix: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(prefix)?;
    let mut name = Vec::new();
    let mut index = 0;
    while index < rest.len() {
        if rest[index] == b'`' {
            if rest.get(index + 1) == Some(&b'`') {
                name.push(b'`');
                index += 2;
                continue;
            }
            return String::from_utf8(name).ok();
        }
        name.push(rest[index]);
        index += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "/*!40101 SET NAMES utf8mb4 */;\n\
--\n\
-- Table structure for table `t`\n\
--\n\
\n\
DROP TABLE IF EXISTS `t`;\n\
CREATE TABLE `t` (\n\
  `id` int(11) NOT NULL\n\
) ENGINE=InnoDB;\n\
\n\
--\n\
-- Dumping data for table `t`\n\
--\n\
\n\
LOCK TABLES `t` WRITE;\n\
INSERT INTO `t` VALUES (4,'it\\'s a \\\\ back\\nslash',0x00FF0A27);\n\
INSERT INTO `t` VALUES (5,NULL,NULL);\n\
INSERT INTO `t` VALUES (6,'\u{fc}n\u{ef} \u{1f389}','');\n\
UNLOCK TABLES;\n\
DELIMITER ;;\n\
/*!50003 CREATE*/ /*!50003 TRIGGER trg BEFORE INSERT ON t FOR EACH ROW\n\
INSERT INTO `t` VALUES (99);\n\
*/;;\n\
DELIMITER ;\n\
\n\
--\n\
-- Table structure for table `we``ird`\n\
--\n\
\n\
CREATE TABLE `we``ird` (\n\
  `x` int(11) DEFAULT NULL\n\
);\n\
\n\
--\n\
-- Dumping routines for database 'db'\n\
--\n\
CREATE PROCEDURE `p`()\n\
INSERT INTO `t` VALUES (100);\n\
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;";

    /// Scans `dump` fed in pieces of `piece` bytes.
    #[track_caller]
    fn scan(dump: &[u8], piece: usize, keep: Option<&str>) -> (ContentManifest, Vec<u8>, bool) {
        let mut scanner = keep.map_or_else(DumpScanner::new, DumpScanner::keeping);
        let mut out = Vec::new();
        for chunk in dump.chunks(piece) {
            scanner.feed(chunk, &mut out).unwrap();
        }
        scanner.finish(&mut out).unwrap();
        (scanner.manifest(), out, scanner.kept_seen())
    }

    #[test]
    fn rows_are_counted_per_table_whatever_the_pieces() {
        let (manifest, out, _) = scan(DUMP.as_bytes(), 4096, None);
        assert_eq!(out, DUMP.as_bytes(), "everything passes unchanged");
        let names: Vec<_> = manifest.tables.iter().map(|t| (&*t.name, t.rows)).collect();
        assert_eq!(names, [("t", 3), ("we`ird", 0)]);
        for piece in [1, 2, 7, 64] {
            assert_eq!(scan(DUMP.as_bytes(), piece, None).0, manifest, "{piece}");
        }
    }

    #[test]
    fn the_checksum_is_independent_of_row_order_and_sees_any_change() {
        let (manifest, ..) = scan(DUMP.as_bytes(), 4096, None);
        // Row 5 moved after row 6: the same rows in another order.
        let reordered = DUMP
            .replace("INSERT INTO `t` VALUES (5,NULL,NULL);\n", "")
            .replace(
                "'');\nUNLOCK TABLES;",
                "'');\nINSERT INTO `t` VALUES (5,NULL,NULL);\nUNLOCK TABLES;",
            );
        assert_ne!(reordered, DUMP);
        assert_eq!(scan(reordered.as_bytes(), 4096, None).0, manifest);
        let changed = DUMP.replace("(5,NULL,NULL)", "(5,'NULL',NULL)");
        let found = scan(changed.as_bytes(), 4096, None).0;
        assert_eq!(found.tables[0].rows, 3);
        assert_ne!(found.tables[0].checksum, manifest.tables[0].checksum);
    }

    #[test]
    fn a_long_row_is_hashed_whole_without_being_held() {
        let long = "x".repeat(3 * HEAD);
        let dump = DUMP.replace("(5,NULL,NULL)", &format!("(5,'{long}',NULL)"));
        let other = DUMP.replace("(5,NULL,NULL)", &format!("(5,'{long}y',NULL)"));
        let a = scan(dump.as_bytes(), 100, None);
        let b = scan(other.as_bytes(), 100, None);
        assert_eq!(a.1, dump.as_bytes());
        assert_eq!(a.0.tables[0].rows, 3);
        assert_ne!(a.0.tables[0].checksum, b.0.tables[0].checksum);
    }

    #[test]
    fn one_table_keeps_its_sections_and_the_session_settings() {
        let (_, out, seen) = scan(DUMP.as_bytes(), 5, Some("we`ird"));
        let out = String::from_utf8(out).unwrap();
        assert!(seen);
        assert!(out.starts_with("/*!40101 SET NAMES utf8mb4 */;\n"), "{out}");
        assert!(out.contains("CREATE TABLE `we``ird`"), "{out}");
        assert!(!out.contains("`t`"), "{out}");
        assert!(!out.contains("PROCEDURE"), "{out}");
        let (_, out, _) = scan(DUMP.as_bytes(), 3, Some("t"));
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("TRIGGER trg"),
            "a table's triggers come with it: {out}"
        );
        assert_eq!(out.matches("INSERT INTO").count(), 4, "{out}");
        assert!(!scan(DUMP.as_bytes(), 3, Some("nope")).2);
    }

    #[test]
    fn table_names_unquote_doubled_backticks() {
        assert_eq!(
            table_after(b"INSERT INTO `a``b` VALUES (1);", INSERT).as_deref(),
            Some("a`b")
        );
        assert_eq!(table_after(b"INSERT INTO `unterminated", INSERT), None);
        assert_eq!(table_after(b"SELECT 1", INSERT), None);
    }
}
