//! Configuration problems: one [`ConfigIssue`] per problem, many per [`ConfigError`].

use std::fmt;
use std::path::PathBuf;

/// One problem (or warning) in a configuration, with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigIssue {
    /// The config file name as given to the loader (empty for configs built in code).
    pub file: String,
    /// 1-based line; 0 when the problem has no location in a file.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Where in the config, e.g. `builders[0].steps[1].command`.
    pub key_path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, if we know.
    pub hint: Option<String>,
}

impl ConfigIssue {
    /// An issue without a file location (configs built in code).
    pub fn new(key_path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigIssue {
            file: String::new(),
            line: 0,
            column: 0,
            key_path: key_path.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigIssue {
    /// `file:line:col: message (hint)`; without a location `file: key_path: message (hint)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )?;
        } else {
            if !self.file.is_empty() {
                write!(f, "{}: ", self.file)?;
            }
            if !self.key_path.is_empty() {
                write!(f, "{}: ", self.key_path)?;
            }
            f.write_str(&self.message)?;
        }
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

/// Loading or validating a configuration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The configuration has problems; every one found is listed.
    #[error("{}", display_issues(.issues))]
    Invalid {
        /// All problems, in file order.
        issues: Vec<ConfigIssue>,
    },
}

fn display_issues(issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// Every problem found (for `Io`, a single issue describing it).
    pub fn issues(&self) -> Vec<ConfigIssue> {
        match self {
            ConfigError::Io { path, source } => vec![ConfigIssue {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                key_path: String::new(),
                message: format!("cannot read config file: {source}"),
                hint: None,
            }],
            ConfigError::Invalid { issues } => issues.clone(),
        }
    }
}
