//! Who may read a SQLite database file: its owner only. The file holds
//! every stored report share and sealed task secrets, so a new database is
//! created here with mode 0600 before SQLite opens it; SQLite gives the
//! `-wal` and `-shm` files it makes later the database file's permissions
//! (its Unix VFS copies them), so they are private too. An existing file
//! keeps the mode its operator chose, with a warning if anyone but its
//! owner can read it.

use std::path::Path;
use tracing::warn;

/// Creates the database file at `path` readable and writable by its owner
/// only, if it does not exist yet (SQLite takes an empty file for an empty
/// database). Warns about an existing file that others can read. A file
/// that cannot be created is left for SQLite's open to report.
pub(super) fn create_private(path: &Path) {
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        return;
    }
    create_private_impl(path)
}

#[cfg(unix)]
fn create_private_impl(path: &Path) {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            if let Ok(metadata) = std::fs::metadata(path) {
                let mode = metadata.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    warn!(
                        path = %path.display(),
                        mode = format!("{mode:o}"),
                        "others than its owner may open the SQLite database file \
                         (chmod 600 it)"
                    );
                }
            }
        }
        // A folder that does not exist or may not be written: SQLite's own
        // open fails next, with the error the startup hint knows.
        Err(_) => {}
    }
}

#[cfg(not(unix))]
fn create_private_impl(_path: &Path) {}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_database_file_is_private_and_an_existing_one_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.sqlite");
        create_private(&new);
        assert_eq!(mode(&new), 0o600);
        let existing = dir.path().join("existing.sqlite");
        std::fs::write(&existing, b"").unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o640)).unwrap();
        create_private(&existing);
        assert_eq!(mode(&existing), 0o640);
    }

    #[test]
    fn a_file_in_a_missing_folder_is_left_for_sqlite_to_report() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/db.sqlite");
        create_private(&path);
        assert!(!path.exists());
    }
}
