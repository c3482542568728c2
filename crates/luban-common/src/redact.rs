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
