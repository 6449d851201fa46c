//! Files only the service user may read: the data directory (0700), the SQLite database and its
//! `-wal`/`-shm` companions (0600), ACME account keys and certificates (0600).
//!
//! SQLite creates `-wal` and `-shm` with the permissions of the main database file, so creating
//! that file 0600 before SQLite opens it covers all three.
use anyhow::Context;
use std::path::Path;

/// Creates `dir` (and missing parents) readable by the owner only. An existing directory is
/// left as it is, with a warning when group or others can read it.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if dir.is_dir() {
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    dir = %dir.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "data directory is accessible to other users; `chmod 700` it"
                );
            }
            return Ok(());
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating directory {}", dir.display()))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating directory {}", dir.display()))
    }
}

/// Makes sure `file` exists and only its owner can read or write it: creates it empty with mode
/// 0600, or takes group and other permissions away from an existing file.
pub fn ensure_private_file(file: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(file)
            .with_context(|| format!("creating {}", file.display()))?;
        let mode = std::fs::metadata(file)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o700))
                .with_context(|| format!("restricting permissions of {}", file.display()))?;
            tracing::warn!(file = %file.display(), "was readable by other users; now 0600");
        }
    }
    #[cfg(not(unix))]
    {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .with_context(|| format!("creating {}", file.display()))?;
    }
    Ok(())
}

/// Prepares the embedded SQLite database in `data_dir`: the directory 0700, `gigamcp.db` and
/// any existing `-wal`/`-shm` files 0600.
pub fn prepare_sqlite(data_dir: &Path) -> anyhow::Result<()> {
    create_private_dir(data_dir)?;
    ensure_private_file(&data_dir.join("gigamcp.db"))?;
    for companion in ["gigamcp.db-wal", "gigamcp.db-shm"] {
        let path = data_dir.join(companion);
        if path.exists() {
            ensure_private_file(&path)?;
        }
    }
    Ok(())
}

/// Writes `contents` to `path` atomically (a 0600 temporary file renamed over it), so a reader
/// never sees half a key and the file is never readable by others, not even briefly.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Takes an exclusive lock on `path` (created if missing), waiting on the blocking pool for
/// another process that holds it; released when the returned file is dropped. Serializes the
/// processes sharing a data directory (migrations, knowledge index builds).
pub async fn lock_exclusive(path: std::path::PathBuf) -> anyhow::Result<std::fs::File> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(file)
    })
    .await?
}
