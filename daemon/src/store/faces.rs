//! Enrolled face templates (issue 5): embeddings only, each tagged with the SHA-256 of the model
//! that made it. Photos are never stored here.

use rusqlite::{params, Connection, Transaction};
use serde::Serialize;

use super::StoreError;

/// One stored template.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceTemplate {
    /// Row id.
    pub id: i64,
    /// Employee NIP.
    pub nip: String,
    /// SHA-256 (hex) of the embedding model.
    pub model_sha256: String,
    /// The embedding, little-endian f32.
    pub embedding: Vec<u8>,
    /// Photo quality measures (JSON).
    pub quality: String,
    /// Where it came from (`cli:<file name>`, `web`, ...).
    pub source: String,
    /// When enrolled (UTC).
    pub created_utc: String,
}

/// A template to store.
#[derive(Debug, Clone)]
pub struct NewFaceTemplate {
    /// Dimensions of the embedding.
    pub dims: usize,
    /// The embedding, little-endian f32.
    pub embedding: Vec<u8>,
    /// Photo quality measures (JSON).
    pub quality: String,
    /// Where it came from.
    pub source: String,
}

/// Per-employee summary for `hadir face list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaceEnrollment {
    /// Employee NIP.
    pub nip: String,
    /// Model SHA-256 (hex).
    pub model_sha256: String,
    /// Templates stored.
    pub templates: u32,
    /// Last enrollment (UTC).
    pub last_utc: String,
}

/// The employee's templates (every model; the caller filters).
pub(crate) fn templates(conn: &Connection, nip: &str) -> Result<Vec<FaceTemplate>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, nip, model_sha256, embedding, quality, source, created_utc
         FROM face_templates WHERE nip = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([nip], |r| {
        Ok(FaceTemplate {
            id: r.get(0)?,
            nip: r.get(1)?,
            model_sha256: r.get(2)?,
            embedding: r.get(3)?,
            quality: r.get(4)?,
            source: r.get(5)?,
            created_utc: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replaces the employee's templates of this model with `new`; returns how many were replaced.
pub(crate) fn replace(
    tx: &Transaction<'_>,
    nip: &str,
    model_sha256: &str,
    new: &[NewFaceTemplate],
    now_utc: &str,
) -> Result<usize, StoreError> {
    let removed = tx.execute(
        "DELETE FROM face_templates WHERE nip = ?1 AND model_sha256 = ?2",
        params![nip, model_sha256],
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO face_templates (nip, model_sha256, dims, embedding, quality, source, created_utc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for t in new {
        insert.execute(params![
            nip,
            model_sha256,
            t.dims as i64,
            t.embedding,
            t.quality,
            t.source,
            now_utc
        ])?;
    }
    Ok(removed)
}

/// Deletes every template of the employee (all models); returns how many.
pub(crate) fn remove(tx: &Transaction<'_>, nip: &str) -> Result<usize, StoreError> {
    Ok(tx.execute("DELETE FROM face_templates WHERE nip = ?1", [nip])?)
}

/// Enrolled employees, per model.
pub(crate) fn enrollments(conn: &Connection) -> Result<Vec<FaceEnrollment>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT nip, model_sha256, COUNT(*), MAX(created_utc) FROM face_templates
         GROUP BY nip, model_sha256 ORDER BY nip, model_sha256",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(FaceEnrollment {
            nip: r.get(0)?,
            model_sha256: r.get(1)?,
            templates: r.get(2)?,
            last_utc: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl super::Store {
    /// The employee's face templates (every model).
    pub async fn face_templates(&self, nip: String) -> Result<Vec<FaceTemplate>, StoreError> {
        self.read(move |c| templates(c, &nip)).await
    }

    /// Replaces the employee's templates of this model (durable when this returns); returns
    /// how many were replaced.
    pub async fn replace_face_templates(
        &self,
        nip: String,
        model_sha256: String,
        new: Vec<NewFaceTemplate>,
    ) -> Result<usize, StoreError> {
        self.write(move |tx| {
            replace(
                tx,
                &nip,
                &model_sha256,
                &new,
                &jiff::Timestamp::now().to_string(),
            )
        })
        .await
    }

    /// Deletes every template of the employee; returns how many.
    pub async fn remove_face_templates(&self, nip: String) -> Result<usize, StoreError> {
        self.write(move |tx| remove(tx, &nip)).await
    }

    /// Enrolled employees, per model.
    pub async fn face_enrollments(&self) -> Result<Vec<FaceEnrollment>, StoreError> {
        self.read(enrollments).await
    }
}

/// Makes the database and its WAL/SHM files readable by the service user only (mode 0600): they
/// hold face templates and retained selfies (UU PDP). Files that do not exist yet are skipped
/// (SQLite creates the WAL and SHM with the database file's mode).
pub(crate) fn restrict_permissions(db: &std::path::Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = std::path::PathBuf::from(name);
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(
                |source| StoreError::Io {
                    what: "restrict the database file permissions",
                    source,
                },
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use crate::store::{DiskLimits, NewFaceTemplate, StoreOwner};

    #[tokio::test]
    async fn templates_are_replaced_per_model_listed_and_removed_and_the_file_is_private() {
        let dir = std::env::temp_dir().join(format!(
            "hadir-faces-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let limits = DiskLimits {
            max_db_bytes: 0,
            min_free_bytes: 0,
        };
        let (owner, _) =
            StoreOwner::open(&dir, "o", jiff::tz::TimeZone::UTC, limits).expect("opens");
        let store = owner.store();
        let t = |v: u8| NewFaceTemplate {
            dims: 2,
            embedding: vec![v; 8],
            quality: "{}".into(),
            source: "test".into(),
        };
        let nip = "1987".to_string();
        assert_eq!(
            store
                .replace_face_templates(nip.clone(), "aa".into(), vec![t(1), t(2)])
                .await
                .unwrap(),
            0
        );
        store
            .replace_face_templates(nip.clone(), "bb".into(), vec![t(3)])
            .await
            .unwrap();
        assert_eq!(
            store
                .replace_face_templates(nip.clone(), "aa".into(), vec![t(4)])
                .await
                .unwrap(),
            2,
            "re-enrolling replaces this model's templates only"
        );
        let all = store.face_templates(nip.clone()).await.unwrap();
        let models: Vec<&str> = all.iter().map(|t| t.model_sha256.as_str()).collect();
        assert_eq!(models, ["bb", "aa"]);
        let listed = store.face_enrollments().await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(store.remove_face_templates(nip.clone()).await.unwrap(), 2);
        assert!(store.face_templates(nip).await.unwrap().is_empty());
        let mode = std::fs::metadata(dir.join(crate::store::DB_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "database mode {mode:o}");
        drop(store);
        owner.close();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
