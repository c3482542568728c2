//! Keeps credentials out of build output: `scheme://user:password@host` becomes
//! `scheme://user:****@host`, and a bare `scheme://token@host` becomes `scheme://****@host`.

/// Redacts the credentials of every URL in `text`.
#[must_use]
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (before, after) = rest.split_at(pos + 3);
        out.push_str(before);
        let authority_end = after
            .find(|c: char| {
                c == '/'
                    || c == '?'
                    || c == '#'
                    || c.is_whitespace()
                    || c == '"'
                    || c == '\''
                    || c == '`'
            })
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _password)) => {
                        out.push_str(user);
                        out.push_str(":****");
                    }
                    None => out.push_str("****"),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact_urls("index https://alice:s3cret@pypi.example.com/simple/ used"),
            "index https://alice:****@pypi.example.com/simple/ used"
        );
    }

    #[test]
    fn redacts_token_only_userinfo() {
        assert_eq!(
            redact_urls("`https://tok3n@host/x`"),
            "`https://****@host/x`"
        );
    }

    #[test]
    fn leaves_plain_urls_and_emails_alone() {
        let text = "see https://pypi.org/simple and write to a@b.c";
        assert_eq!(redact_urls(text), text);
    }

    #[test]
    fn redacts_several_urls() {
        assert_eq!(
            redact_urls("http://a:b@h1 http://c:d@h2:8080/p"),
            "http://a:****@h1 http://c:****@h2:8080/p"
        );
    }
}

/// A writer that redacts URL credentials line by line before passing output on, for streaming
/// the output of programs that may print an index URL with its password.
pub struct RedactingWriter<W: std::io::Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: std::io::Write> RedactingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            pending: Vec::new(),
        }
    }

    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(line);
        self.inner.write_all(redact_urls(&text).as_bytes())
    }
}

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.write_line(&line)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.write_line(&rest)?;
        }
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

#[cfg(test)]
mod writer_tests {
    use super::RedactingWriter;
    use std::io::Write;

    #[test]
    fn redacts_across_split_writes_and_flushes_the_rest() {
        let mut out = Vec::new();
        {
            let mut writer = RedactingWriter::new(&mut out);
            writer.write_all(b"Using index https://bob:hun").unwrap();
            writer.write_all(b"ter2@pypi.internal/simple\nResolved 3 packages\nno newline at end http://a:b@h").unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Using index https://bob:****@pypi.internal/simple\nResolved 3 packages\nno newline at end http://a:****@h"
        );
    }
}
