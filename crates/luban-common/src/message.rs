//! One shape for every error a Luban buildpack prints: what happened, what was found, how to fix it.

use bullet_stream::global::print;
use std::fmt::{self, Display};

/// A user-facing error: a one-line headline, the details, and an optional hint that says how to fix it.
///
/// Rendered without colour so it reads the same in CI logs; commands and paths go in backticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMessage {
    pub headline: String,
    pub body: String,
    pub hint: Option<String>,
}

impl ErrorMessage {
    #[must_use]
    pub fn new(headline: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            headline: headline.into(),
            body: body.into(),
            hint: None,
        }
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// An error of libcnb or the platform rather than of the app: what every buildpack says
    /// when it fails for a reason the user's input doesn't explain.
    #[must_use]
    pub fn internal(buildpack: &str, error: &dyn Display) -> Self {
        Self::new(
            format!("The {buildpack} buildpack hit an internal error"),
            error.to_string(),
        )
        .hint("This is a bug in Luban or a problem with the build environment. Re-run the build; if it fails again, report it with the build log.")
    }

    /// Prints the message to the build output as an error block.
    pub fn print(&self) {
        print::error(self.to_string());
    }
}

impl Display for ErrorMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error: {}", self.headline.trim_end())?;
        let body = self.body.trim();
        if !body.is_empty() {
            write!(f, "\n\n{body}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n\nhint: {}", hint.trim())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_headline_body_and_hint() {
        let message = ErrorMessage::new("Something broke", "  Found `x`.\n").hint("Run `y`.");
        assert_eq!(
            message.to_string(),
            "Error: Something broke\n\nFound `x`.\n\nhint: Run `y`."
        );
    }

    #[test]
    fn internal_error() {
        assert_eq!(
            ErrorMessage::internal("uv", &"cannot write layer").to_string(),
            "Error: The uv buildpack hit an internal error\n\ncannot write layer\n\n\
             hint: This is a bug in Luban or a problem with the build environment. \
             Re-run the build; if it fails again, report it with the build log."
        );
    }

    #[test]
    fn renders_without_hint() {
        assert_eq!(
            ErrorMessage::new("Broke", "Details.").to_string(),
            "Error: Broke\n\nDetails."
        );
    }
}
