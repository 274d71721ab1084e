//! Secrets given inline or through a `*_file` key. A secret never appears in `Debug` output, so
//! it cannot leak into logs by accident.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// A secret string whose `Debug` form is redacted.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Both the inline key and the `*_file` key are set; remove one.
    #[error("both `{key}` and `{key}_file` are set; keep only one")]
    Both {
        /// The inline key name.
        key: String,
    },
    /// The secret file could not be read; check the path and its permissions.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file named by the `*_file` key.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The secret file is empty.
    #[error("`{path}` is empty")]
    Empty {
        /// The file named by the `*_file` key.
        path: String,
    },
}

/// Resolves a secret given inline or in a file (first line, trimmed). `None` when neither is set.
pub fn resolve(
    key: &str,
    inline: Option<&SecretString>,
    file: Option<&Path>,
) -> Result<Option<SecretString>, SecretError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(SecretError::Both { key: key.into() }),
        (Some(s), None) => Ok(Some(s.clone())),
        (None, None) => Ok(None),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|source| SecretError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let line = text.lines().next().unwrap_or("").trim();
            if line.is_empty() {
                return Err(SecretError::Empty {
                    path: path.display().to_string(),
                });
            }
            Ok(Some(SecretString::new(line)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_secret() {
        let s = SecretString::new("rahasia-sekali");
        assert!(!format!("{s:?}").contains("rahasia"));
    }

    #[test]
    fn a_secret_file_is_read_from_its_first_line() {
        let dir = std::env::temp_dir().join(format!("hadir-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "abc123\nignored\n").unwrap();
        let got = resolve("token", None, Some(&path)).unwrap().unwrap();
        assert_eq!(got.expose(), "abc123");
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(
            resolve("token", None, Some(&path)),
            Err(SecretError::Empty { .. })
        ));
        assert!(matches!(
            resolve("token", Some(&SecretString::new("x")), Some(&path)),
            Err(SecretError::Both { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
