//! Hadir's configuration: one TOML file, validated once at start, reporting every problem with its
//! key path and line. Unknown keys are errors. Everything has a default, so the gateway also runs
//! with no file at all.
#![forbid(unsafe_code)]

mod locate;
mod model;
pub mod secret;
mod validate;

use std::fmt;
use std::path::Path;

pub use model::*;
pub use secret::{SecretError, SecretString};

/// One thing wrong with a configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Key path such as `office.sites[0].radius_m` (empty for a syntax error).
    pub path: String,
    /// 1-based line in the file, when the key is present in it.
    pub line: Option<usize>,
    /// What is wrong and, where possible, what would be right.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: ")?,
            None => f.write_str("(no line): ")?,
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// A configuration that cannot be used, with every problem found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read; check the path and permissions.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration; fix each listed problem.
    #[error("{} problem(s) in {source_name}:\n{}", problems.len(), render(problems))]
    Invalid {
        /// File name used in messages.
        source_name: String,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// The problems, empty for a read error.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses and validates configuration text; `source_name` is used in messages.
pub fn parse(text: &str, source_name: &str) -> Result<Config, ConfigError> {
    let invalid = |problems: Vec<Problem>| ConfigError::Invalid {
        source_name: source_name.to_string(),
        problems,
    };
    let doc = match locate::Located::parse(text) {
        Ok(doc) => doc,
        Err(problem) => return Err(invalid(vec![problem])),
    };
    let (config, mut problems) = validate::deserialize_sections(text);
    problems.extend(validate::check_semantics(&config));
    if problems.is_empty() {
        return Ok(config);
    }
    for p in &mut problems {
        p.line = doc.line_of(&p.path);
    }
    problems.sort_by_key(|p| (p.line.unwrap_or(usize::MAX), p.path.clone()));
    Err(invalid(problems))
}

/// The built-in configuration used when `hadir run` gets no file.
pub fn embedded_default() -> Config {
    Config::default()
}

#[cfg(test)]
mod tests;
