//! Keeps credentials out of build output, line by line:
//! - URL userinfo: `scheme://user:password@host` becomes `scheme://user:****@host`, and a bare
//!   `scheme://token@host` becomes `scheme://****@host`, also when the password holds
//!   unencoded `/ # ? :` or spaces (everything up to the line's first `@` after `://` is taken
//!   as userinfo when it has the shape `user:…`);
//! - scheme-less `user:secret@host` (as in `git` remotes and some index settings);
//! - query parameters whose name says secret (`token`, `password`, `secret`, `key`, `sig`,
//!   `auth`…): `?token=****`;
//! - `Authorization:` and `Proxy-Authorization:` header values;
//! - the values themselves of the build env's secrets (`UV_INDEX_<NAME>_PASSWORD`, any variable
//!   whose name says password, token, secret, credential or auth), as given and
//!   percent-encoded, wherever they appear: a program that quotes a file or a setting it
//!   couldn't parse prints the bare value, with no URL around it. [`mask_secret_values`] sets
//!   them once, at the start of a build.
//!
//! It errs on the side of redacting: a `host:port` followed later on the same line by an `@`
//! loses its port and what follows up to the `@`.

const MASK: &str = "****";

/// Secret values shorter than this are not masked: they would mask ordinary words.
const MIN_SECRET_LEN: usize = 6;

static SECRET_VALUES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Masks, from now on, the values of the secrets in `env` (a build env) wherever the
/// buildpack's output carries them. The first call wins; later ones change nothing.
pub fn mask_secret_values<'a>(
    env: impl IntoIterator<Item = (&'a std::ffi::OsString, &'a std::ffi::OsString)>,
) {
    let _ = SECRET_VALUES.set(secret_values(env));
}

/// The words that make a variable's name say it holds a secret.
pub const SECRET_NAME_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "TOKEN",
    "SECRET",
    "CREDENTIAL",
    "AUTH",
];

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    SECRET_NAME_WORDS.iter().any(|word| name.contains(word))
}

/// The values to mask, longest first (so a value that contains another is masked whole), with
/// their percent-encoded forms.
fn secret_values<'a>(
    env: impl IntoIterator<Item = (&'a std::ffi::OsString, &'a std::ffi::OsString)>,
) -> Vec<String> {
    let mut values: Vec<String> = env
        .into_iter()
        .filter(|(name, _)| name.to_str().is_some_and(is_secret_name))
        .filter_map(|(_, value)| value.to_str().map(|v| v.trim().to_string()))
        .filter(|value| value.chars().count() >= MIN_SECRET_LEN)
        .flat_map(|value| {
            let encoded = percent_encode(&value);
            [value, encoded]
        })
        .collect();
    values.sort_by_key(|value| std::cmp::Reverse(value.len()));
    values.dedup();
    values
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn mask_values(line: &str, values: &[String]) -> String {
    values.iter().fold(line.to_string(), |line, value| {
        if line.contains(value.as_str()) {
            line.replace(value.as_str(), MASK)
        } else {
            line
        }
    })
}

/// Redacts the credentials in `text`.
#[must_use]
pub fn redact_urls(text: &str) -> String {
    text.split_inclusive('\n').map(redact_line).collect()
}

fn redact_line(line: &str) -> String {
    let line = mask_values(line, SECRET_VALUES.get().map_or(&[], Vec::as_slice));
    let line = redact_authorization(&line);
    let line = redact_url_userinfo(&line);
    let line = redact_schemeless_userinfo(&line);
    redact_query_secrets(&line)
}

fn redact_authorization(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let Some(pos) = lower.find("authorization:") else {
        return line.to_string();
    };
    let value_start = pos + "authorization:".len();
    let ending = if line.ends_with('\n') { "\n" } else { "" };
    format!("{} {MASK}{ending}", &line[..value_start])
}

/// Whether `userinfo` (between `://` and `@`) looks like credentials: `user:anything` with a
/// plain user name, or a single token without `/`, spaces or quotes.
fn is_userinfo(userinfo: &str) -> bool {
    let plain = |s: &str| {
        !s.is_empty()
            && !s
                .chars()
                .any(|c| c == '/' || c.is_whitespace() || "\"'`<>()[]{}".contains(c))
    };
    match userinfo.split_once(':') {
        Some((user, _)) => plain(user),
        None => plain(userinfo),
    }
}

fn mask_userinfo(userinfo: &str) -> String {
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:{MASK}"),
        None => MASK.to_string(),
    }
}

fn redact_url_userinfo(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find("://") {
        let (before, after) = rest.split_at(pos + 3);
        out.push_str(before);
        // The userinfo ends at the first `@` of the line that comes before the next URL, or,
        // for a password that itself holds `://`, before the next white space.
        let next_url = after.find("://").unwrap_or(after.len());
        let word_end = after.find(char::is_whitespace).unwrap_or(after.len());
        let at = [next_url, word_end]
            .into_iter()
            .filter_map(|end| after[..end].find('@'))
            .find(|&at| is_userinfo(&after[..at]));
        match at {
            Some(at) => {
                out.push_str(&mask_userinfo(&after[..at]));
                rest = &after[at..];
            }
            _ => rest = after,
        }
    }
    out.push_str(rest);
    out
}

fn redact_schemeless_userinfo(line: &str) -> String {
    let is_boundary = |c: char| c.is_whitespace() || "\"'`=(,[<".contains(c);
    let mut out = String::with_capacity(line.len());
    let mut word_start = 0;
    for (i, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        if !is_boundary(c) {
            continue;
        }
        let word = &line[word_start..i];
        out.push_str(&redact_schemeless_word(word));
        if i < line.len() {
            out.push(c);
        }
        word_start = i + c.len_utf8();
    }
    out
}

/// `user:secret@host` → `user:****@host`, for a word without `://`.
fn redact_schemeless_word(word: &str) -> String {
    // A URL (its scheme has no `:`); a `://` after the first `:` is inside a password.
    if word.find("://").is_some_and(|i| !word[..i].contains(':')) {
        return word.to_string();
    }
    let Some((userinfo, host)) = word.split_once('@') else {
        return word.to_string();
    };
    let Some((user, secret)) = userinfo.split_once(':') else {
        return word.to_string();
    };
    let user_ok = !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c));
    let host_ok = host.starts_with(|c: char| c.is_ascii_alphanumeric());
    // Already redacted stays as it is; a password that merely contains the mask is a password.
    if user_ok && host_ok && !secret.is_empty() && secret != MASK {
        format!("{user}:{MASK}@{host}")
    } else {
        word.to_string()
    }
}

fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "token",
        "password",
        "passwd",
        "secret",
        "key",
        "sig",
        "auth",
        "credential",
    ]
    .iter()
    .any(|word| name.contains(word))
}

fn redact_query_secrets(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find(['?', '&']) {
        let (before, after) = rest.split_at(pos + 1);
        out.push_str(before);
        let name_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_-.".contains(c)))
            .unwrap_or(after.len());
        let (name, tail) = after.split_at(name_end);
        if let (true, Some(value)) = (is_secret_parameter(name), tail.strip_prefix('=')) {
            let value_end = value
                .find(|c: char| c == '&' || c == '#' || c.is_whitespace() || "\"'`".contains(c))
                .unwrap_or(value.len());
            out.push_str(name);
            out.push('=');
            out.push_str(MASK);
            rest = &value[value_end..];
        } else {
            rest = after;
        }
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
    fn redacts_passwords_with_unencoded_characters() {
        // `Zq:///!~`: found by the property test, a password holding `://`.
        for secret in [
            "pa/ss",
            "pa#ss",
            "pa?ss",
            "pa ss",
            "p:a:ss",
            "pa/ss?x#y z",
            "Zq:///!~",
        ] {
            let line = format!("index https://alice:{secret}@pypi.example.com/simple/ used\n");
            let redacted = redact_urls(&line);
            assert_eq!(
                redacted, "index https://alice:****@pypi.example.com/simple/ used\n",
                "{secret:?}"
            );
        }
    }

    #[test]
    fn redacts_schemeless_userinfo_query_tokens_and_authorization() {
        assert_eq!(
            redact_urls("remote alice:s3cret@git.example.com/repo.git"),
            "remote alice:****@git.example.com/repo.git"
        );
        // Found by the property test: a password holding the mask is still a password.
        assert_eq!(
            redact_urls("remote deploy:Zq****A?@git.example.com/app.git"),
            "remote deploy:****@git.example.com/app.git"
        );
        // Also found by it: a password holding `://`.
        assert_eq!(
            redact_urls("remote: deploy:Zq://Aa:@git.example.com/app.git"),
            "remote: deploy:****@git.example.com/app.git"
        );
        assert_eq!(
            redact_urls("GET https://files.example/x.whl?sig=abc&token=t0k&v=1 ok"),
            "GET https://files.example/x.whl?sig=****&token=****&v=1 ok"
        );
        assert_eq!(
            redact_urls("> Authorization: Bearer eyJabc\nnext"),
            "> Authorization: ****\nnext"
        );
        assert_eq!(
            redact_urls("proxy-authorization: Basic dXNlcjpwYXNz"),
            "proxy-authorization: ****"
        );
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for text in [
            "Resolved 12 packages in 0.4s",
            "see https://pypi.org/simple?page=2 and write to a@b.c",
            "time 12:30 at the office",
            "mirror http://127.0.0.1:8080/python/downloads.json",
            "Installed flask==3.1.0 from https://files.example/flask-3.1.0-py3-none-any.whl",
        ] {
            assert_eq!(redact_urls(text), text);
        }
    }

    #[test]
    fn masks_the_bare_values_of_the_build_envs_secrets() {
        let env: Vec<(std::ffi::OsString, std::ffi::OsString)> = [
            ("UV_INDEX_PRIVATE_PASSWORD", "hunter2/Zq x"),
            ("UV_INDEX_PRIVATE_USERNAME", "ci-bot-user"),
            ("DEPLOY_TOKEN", "tok"),
            ("BP_UV_GROUPS", "production"),
        ]
        .into_iter()
        .map(|(n, v)| (n.into(), v.into()))
        .collect();
        let values = secret_values(env.iter().map(|(n, v)| (n, v)));
        // A short value would mask ordinary words; names that say nothing secret are kept.
        assert_eq!(values, ["hunter2%2FZq%20x", "hunter2/Zq x"]);
        assert_eq!(
            mask_values(
                "error: Couldn't parse requirement in `cfg/x` at position 0: hunter2/Zq x\n",
                &values
            ),
            "error: Couldn't parse requirement in `cfg/x` at position 0: ****\n"
        );
        assert_eq!(
            mask_values("GET https://u:hunter2%2FZq%20x@h/", &values),
            "GET https://u:****@h/"
        );
        assert_eq!(mask_values("production build", &values), "production build");
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

#[cfg(test)]
mod property_tests {
    use super::RedactingWriter;
    use proptest::prelude::*;
    use std::io::Write;

    /// What a build log carries a secret in: index URLs (with unencoded characters in the
    /// password), git remotes, signed download URLs and HTTP headers.
    fn log_with(secret: &str, kind: usize) -> String {
        let line = match kind % 5 {
            0 => format!("Using index https://ci-user:{secret}@pypi.internal/simple"),
            1 => format!("  error: failed to fetch http://{secret}@mirror.example/uv.tar.gz"),
            2 => format!("remote: deploy:{secret}@git.example.com/app.git"),
            3 => format!("GET https://files.example/a.whl?X-Token={secret} 200"),
            _ => format!("> Authorization: Bearer {secret}"),
        };
        format!("Resolved 3 packages in 12ms\n{line}\n   Built app @ file:///workspace\n")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn no_secret_survives_any_chunking(
            // Characters a password may hold unencoded, without `@` (which ends userinfo) and
            // without `&`, which ends a query value (a secret holding one would be two values).
            body in "[A-Za-z0-9/#?:!$%^*_~.-]{6,24}",
            kind in 0usize..5,
            cuts in proptest::collection::vec(0usize..200, 0..8),
        ) {
            // Query values and the token-only userinfo end at `#`, `?`, `/` or `:`; keep the
            // secret in one piece for those kinds.
            let secret = match kind % 5 {
                1 | 3 => format!("Zq{}", body.replace(['/', '#', '?', ':'], "x")),
                _ => format!("Zq{body}"),
            };
            let log = log_with(&secret, kind);
            let bytes = log.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut out = Vec::new();
            {
                let mut writer = RedactingWriter::new(&mut out);
                let mut from = 0;
                for cut in cuts.into_iter().chain(std::iter::once(bytes.len())) {
                    writer.write_all(&bytes[from..cut]).unwrap();
                    from = cut;
                }
            }
            let out = String::from_utf8(out).unwrap();
            prop_assert!(!out.contains(&secret), "{secret:?} in {out:?}");
            prop_assert!(out.contains("Resolved 3 packages"));
        }
    }
}
