//! Where the database client tools are: in the directory `config.toml`'s
//! `[tools]` names for their family, else on `PATH`. The directories are
//! this process's, like `PATH` itself: the service sets them once from its
//! configuration ([`use_tool_dirs`]) and every driver looks tools up here.

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

use coffer_model::ToolDirs;

use crate::process::ToolError;

static DIRS: RwLock<ToolDirs> = RwLock::new(ToolDirs {
    postgresql: None,
    mysql: None,
});

/// The client tools' families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    PostgreSql,
    MySql,
}

impl Family {
    /// The Debian package that brings the family's client tools.
    pub(crate) fn package(self) -> &'static str {
        match self {
            Family::PostgreSql => "postgresql-client",
            Family::MySql => "mariadb-client",
        }
    }

    fn setting(self) -> &'static str {
        match self {
            Family::PostgreSql => "postgresql_bin_dir",
            Family::MySql => "mysql_bin_dir",
        }
    }
}

/// Makes the drivers look for each family's tools in its directory (none:
/// on `PATH`), for the rest of the process.
pub fn use_tool_dirs(dirs: &ToolDirs) {
    *DIRS.write().unwrap_or_else(PoisonError::into_inner) = dirs.clone();
}

/// The first of a tool's `names` found: in the family's configured
/// directory when there is one (and only there), else on `PATH`.
///
/// # Errors
/// `NotInstalled` naming the Debian package, or `NotInDirectory` naming
/// the configured directory.
pub(crate) fn locate(
    family: Family,
    names: &'static [&'static str],
) -> Result<(&'static str, PathBuf), ToolError> {
    let configured = {
        let dirs = DIRS.read().unwrap_or_else(PoisonError::into_inner);
        match family {
            Family::PostgreSql => dirs.postgresql.clone(),
            Family::MySql => dirs.mysql.clone(),
        }
    };
    let tool = || match names {
        [one] => (*one).to_string(),
        _ => format!("{} (or {})", names[0], names[1..].join(", ")),
    };
    let search: Vec<PathBuf> = match &configured {
        Some(dir) => vec![dir.clone()],
        None => std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect(),
    };
    for name in names {
        for dir in &search {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok((name, candidate));
            }
        }
    }
    Err(match configured {
        Some(dir) => ToolError::NotInDirectory {
            tool: tool(),
            dir,
            setting: family.setting(),
        },
        None => ToolError::NotInstalled {
            tool: tool(),
            package: family.package().to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the directories are the process's.
    #[test]
    fn a_tool_is_found_in_its_configured_directory_or_on_path_and_a_missing_one_is_named() {
        let error = locate(Family::MySql, &["coffer-no-such-tool", "coffer-nor-this"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "coffer-no-such-tool (or coffer-nor-this) is not installed or not on PATH (Debian package mariadb-client)"
        );
        let error = locate(Family::PostgreSql, &["coffer-no-such-tool"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "coffer-no-such-tool is not installed or not on PATH (Debian package postgresql-client)"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("coffer-nor-this"), "").unwrap();
        use_tool_dirs(&ToolDirs {
            postgresql: None,
            mysql: Some(dir.path().to_path_buf()),
        });
        let found = locate(Family::MySql, &["coffer-no-such-tool", "coffer-nor-this"]);
        let sh = locate(Family::MySql, &["sh"]);
        let on_path = locate(Family::PostgreSql, &["sh"]);
        use_tool_dirs(&ToolDirs::default());
        assert_eq!(
            found.unwrap(),
            ("coffer-nor-this", dir.path().join("coffer-nor-this"))
        );
        assert_eq!(
            sh.unwrap_err().to_string(),
            format!(
                "sh is not in {}, the directory config.toml's [tools] mysql_bin_dir names; put it there, or correct the setting",
                dir.path().display()
            )
        );
        assert!(on_path.is_ok(), "{on_path:?}");
    }
}
