//! Which commit the image comes from: the OCI annotations `org.opencontainers.image.revision`,
//! `.source`, `.created` and `.version`, set as image labels and named in the app's `CycloneDX`
//! SBOM. The values come from the platform (`BP_OCI_REVISION`, `BP_OCI_SOURCE`,
//! `BP_OCI_CREATED`, `SOURCE_DATE_EPOCH`; Paketo's image-labels buildpack reads the same
//! names) or, where those are unset, from the app's Git checkout. Every value is data from
//! outside, checked before use; never the wall clock, so two builds of a commit stay equal.
//!
//! `decide` is pure; `read_git` runs `git` (plumbing only, with no user or system config and no
//! pager) on the app's `.git` when there is one.

use libcnb::data::launch::Label;
use serde_json::{Value, json};
use std::fmt;
use std::path::Path;
use std::process::Command;

pub(crate) const REVISION: &str = "BP_OCI_REVISION";
pub(crate) const SOURCE: &str = "BP_OCI_SOURCE";
pub(crate) const CREATED: &str = "BP_OCI_CREATED";
pub(crate) const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// What the app's Git checkout says, each value as Git printed it (checked in `decide`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GitFacts {
    /// `git rev-parse HEAD`.
    pub(crate) head: Option<String>,
    /// The committer time of `HEAD`, in seconds since the epoch.
    pub(crate) commit_time: Option<i64>,
    /// `remote.origin.url`.
    pub(crate) origin: Option<String>,
}

/// Where a value came from, for the build log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Env(&'static str),
    Git,
    Pyproject,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env(name) => write!(f, "`{name}`"),
            Origin::Git => f.write_str("the app's Git checkout"),
            Origin::Pyproject => f.write_str("`[project] version` in `pyproject.toml`"),
        }
    }
}

/// A provenance value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sourced {
    pub(crate) value: String,
    pub(crate) origin: Origin,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Provenance {
    /// The full commit SHA, lower case.
    pub(crate) revision: Option<Sourced>,
    /// The repository URL, without credentials.
    pub(crate) source: Option<Sourced>,
    /// RFC 3339, UTC.
    pub(crate) created: Option<Sourced>,
    pub(crate) version: Option<Sourced>,
    /// Credentials were removed from the source URL.
    pub(crate) source_had_credentials: bool,
}

/// A provenance value from the platform that is not what its name promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProvenanceError {
    /// `BP_OCI_REVISION` is not a full commit SHA.
    Revision {
        value: String,
    },
    /// `value` is shown with any credentials masked.
    Source {
        value: String,
        reason: String,
    },
    Created {
        value: String,
    },
    SourceDateEpoch {
        value: String,
    },
}

/// The project's name and static version, from the root `pyproject.toml`.
pub(crate) struct ProjectInfo<'a> {
    pub(crate) name: Option<&'a str>,
    pub(crate) version: Option<&'a str>,
}

/// The provenance of the build. `env` reads the platform's variables; `git` is what the app's
/// checkout says, when it is one. A value set by the platform always wins; Git's commit time is
/// used only for the commit the revision names.
pub(crate) fn decide(
    env: &dyn Fn(&str) -> Option<String>,
    git: &GitFacts,
    project: &ProjectInfo<'_>,
) -> Result<Provenance, ProvenanceError> {
    let set = |name: &str| env(name).filter(|value| !value.trim().is_empty());
    let mut provenance = Provenance::default();

    let git_head = git.head.as_deref().and_then(commit_sha);
    if let Some(value) = set(REVISION) {
        let sha = commit_sha(&value).ok_or(ProvenanceError::Revision {
            value: value.clone(),
        })?;
        provenance.revision = Some(Sourced {
            value: sha,
            origin: Origin::Env(REVISION),
        });
    } else if let Some(sha) = &git_head {
        provenance.revision = Some(Sourced {
            value: sha.clone(),
            origin: Origin::Git,
        });
    }

    let source = match set(SOURCE) {
        Some(value) => Some((source_url(&value)?, Origin::Env(SOURCE))),
        // A remote Git can't make sense of is left out rather than failing the build.
        None => git
            .origin
            .as_deref()
            .and_then(|origin| source_url(origin).ok())
            .map(|url| (url, Origin::Git)),
    };
    if let Some(((url, had_credentials), origin)) = source {
        provenance.source = Some(Sourced { value: url, origin });
        provenance.source_had_credentials = had_credentials;
    }

    let revision_is_heads =
        provenance.revision.as_ref().map(|r| &r.value) == git_head.as_ref() && git_head.is_some();
    provenance.created = if let Some(value) = set(CREATED) {
        let timestamp: jiff::Timestamp =
            value.trim().parse().map_err(|_| ProvenanceError::Created {
                value: value.clone(),
            })?;
        Some(Sourced {
            value: timestamp.to_string(),
            origin: Origin::Env(CREATED),
        })
    } else if let Some(value) = set(SOURCE_DATE_EPOCH) {
        let invalid = || ProvenanceError::SourceDateEpoch {
            value: value.clone(),
        };
        let seconds: i64 = value.trim().parse().map_err(|_| invalid())?;
        let timestamp = jiff::Timestamp::from_second(seconds).map_err(|_| invalid())?;
        Some(Sourced {
            value: timestamp.to_string(),
            origin: Origin::Env(SOURCE_DATE_EPOCH),
        })
    } else if revision_is_heads {
        git.commit_time
            .and_then(|seconds| jiff::Timestamp::from_second(seconds).ok())
            .map(|timestamp| Sourced {
                value: timestamp.to_string(),
                origin: Origin::Git,
            })
    } else {
        None
    };

    provenance.version = project
        .version
        .filter(|version| version.parse::<pep440_rs::Version>().is_ok())
        .map(|version| Sourced {
            value: version.to_string(),
            origin: Origin::Pyproject,
        });
    Ok(provenance)
}

/// A full commit SHA (SHA-1 or SHA-256), lower-cased, or `None`.
fn commit_sha(value: &str) -> Option<String> {
    let value = value.trim();
    (matches!(value.len(), 40 | 64) && value.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| value.to_ascii_lowercase())
}

/// The repository URL to publish: parsed, credentials removed (and said so). Git's scp-like
/// `user@host:path` becomes `ssh://host/path`.
fn source_url(value: &str) -> Result<(String, bool), ProvenanceError> {
    let value = value.trim();
    let invalid = |reason: &str| ProvenanceError::Source {
        value: mask_credentials(value),
        reason: reason.to_string(),
    };
    let mut url = match url::Url::parse(value) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            scp_like(value).ok_or_else(|| invalid("it is neither a URL nor Git's `host:path`"))?
        }
        Err(error) => return Err(invalid(&error.to_string())),
    };
    if !matches!(url.scheme(), "https" | "http" | "ssh" | "git") {
        return Err(invalid(
            "the scheme must be `https`, `http`, `ssh` or `git`",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it names no host"));
    }
    let had_credentials = url.password().is_some()
        || (!url.username().is_empty() && url.scheme() != "ssh" && url.scheme() != "git");
    // Neither a user name nor a password belongs in a published label.
    let _ = url.set_password(None);
    let _ = url.set_username("");
    url.set_query(None);
    url.set_fragment(None);
    Ok((url.to_string(), had_credentials))
}

/// Git's `[user@]host:path` form, as a `ssh://` URL.
fn scp_like(value: &str) -> Option<url::Url> {
    let (authority, path) = value.split_once(':')?;
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() || path.is_empty() || host.contains('/') || path.starts_with("//") {
        return None;
    }
    url::Url::parse(&format!("ssh://{host}/{}", path.trim_start_matches('/'))).ok()
}

/// The value with whatever sits between `://` and `@` replaced, for messages.
pub(crate) fn mask_credentials(value: &str) -> String {
    if let Some((scheme, rest)) = value.split_once("://") {
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            return format!("{scheme}://***{}", &rest[at..]);
        }
    }
    value.to_string()
}

impl Provenance {
    /// The OCI annotations, as image labels.
    pub(crate) fn labels(&self) -> Vec<Label> {
        [
            ("org.opencontainers.image.revision", &self.revision),
            ("org.opencontainers.image.source", &self.source),
            ("org.opencontainers.image.created", &self.created),
            ("org.opencontainers.image.version", &self.version),
        ]
        .into_iter()
        .filter_map(|(key, value)| {
            value.as_ref().map(|value| Label {
                key: key.to_string(),
                value: value.value.clone(),
            })
        })
        .collect()
    }

    /// A `CycloneDX` document whose `metadata.component` is the app, with the commit it was
    /// built from as the component's pedigree and the repository as its VCS reference. The
    /// serial number is derived from the content, so it is the same for the same commit.
    pub(crate) fn sbom(&self, name: Option<&str>) -> Vec<u8> {
        let mut component = serde_json::Map::new();
        component.insert("type".into(), json!("application"));
        component.insert("name".into(), json!(name.unwrap_or("app")));
        if let Some(version) = &self.version {
            component.insert("version".into(), json!(version.value));
        }
        if let Some(source) = &self.source {
            component.insert(
                "externalReferences".into(),
                json!([{"type": "vcs", "url": source.value}]),
            );
        }
        if let Some(revision) = &self.revision {
            let mut commit = serde_json::Map::new();
            commit.insert("uid".into(), json!(revision.value));
            if let Some(source) = &self.source {
                commit.insert("url".into(), json!(source.value));
            }
            component.insert("pedigree".into(), json!({"commits": [commit]}));
        }
        let properties: Vec<Value> = self
            .labels()
            .into_iter()
            .map(|label| json!({"name": label.key, "value": label.value}))
            .collect();
        let document = json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "metadata": {"component": Value::Object(component), "properties": properties},
        });
        crate::sbom::with_serial_number(document)
    }
}

/// Reads `HEAD`, its committer time and `origin`'s URL from `<app>/.git` with `git`, which
/// sees no user or system configuration, no pager and no directory above the app. Anything
/// Git can't answer is left out.
pub(crate) fn read_git(app_dir: &Path, path: Option<&std::ffi::OsStr>) -> GitFacts {
    let git_dir = app_dir.join(".git");
    if !git_dir.exists() {
        return GitFacts::default();
    }
    let run = |args: &[&str]| -> Option<String> {
        let mut command = Command::new("git");
        command
            .env_clear()
            .envs(path.map(|path| ("PATH", path)))
            .env("GIT_DIR", &git_dir)
            .env(
                "GIT_CEILING_DIRECTORIES",
                app_dir.parent().unwrap_or(app_dir),
            )
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("GIT_NO_REPLACE_OBJECTS", "1")
            .env("HOME", "/nonexistent")
            .env("LC_ALL", "C")
            // The checkout may belong to another user (a volume a platform cloned into).
            .args([
                "--no-pager",
                "-c",
                "safe.directory=*",
                "-c",
                "core.fsmonitor=false",
            ])
            .args(args)
            .stdin(std::process::Stdio::null());
        let output = command.output().ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
            .filter(|text| !text.is_empty())
    };
    let head = run(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]);
    let commit_time = head
        .as_ref()
        .and_then(|_| run(&["cat-file", "commit", "HEAD"]))
        .and_then(|commit| committer_time(&commit));
    let origin = run(&["config", "--get", "remote.origin.url"]);
    GitFacts {
        head,
        commit_time,
        origin,
    }
}

/// The committer time of a raw commit object (`committer Name <email> 1700000000 +0000`).
fn committer_time(commit: &str) -> Option<i64> {
    let header = commit.split("\n\n").next()?;
    let line = header
        .lines()
        .find_map(|line| line.strip_prefix("committer "))?;
    let mut fields = line.rsplit(' ');
    let _zone = fields.next()?;
    fields.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
    const OTHER: &str = "89abcdef0123456789abcdef0123456789abcdef";

    fn decide_with(env: &[(&str, &str)], git: &GitFacts) -> Result<Provenance, ProvenanceError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        decide(
            &|name| env.get(name).cloned(),
            git,
            &ProjectInfo {
                name: Some("app"),
                version: Some("1.2.0"),
            },
        )
    }

    fn git() -> GitFacts {
        GitFacts {
            head: Some(SHA.into()),
            commit_time: Some(1_763_900_000),
            origin: Some("git@github.com:acme/shop.git".into()),
        }
    }

    fn label(provenance: &Provenance, key: &str) -> Option<String> {
        provenance
            .labels()
            .into_iter()
            .find(|l| l.key == format!("org.opencontainers.image.{key}"))
            .map(|l| l.value)
    }

    #[test]
    fn the_platform_wins_over_git() {
        let p = decide_with(
            &[
                (REVISION, &OTHER.to_uppercase()),
                (SOURCE, "https://git.example/acme/shop"),
            ],
            &git(),
        )
        .unwrap();
        assert_eq!(label(&p, "revision").as_deref(), Some(OTHER));
        assert_eq!(
            label(&p, "source").as_deref(),
            Some("https://git.example/acme/shop")
        );
        // Git's commit time is another commit's: left out.
        assert_eq!(label(&p, "created"), None);
        assert_eq!(label(&p, "version").as_deref(), Some("1.2.0"));
    }

    #[test]
    fn git_alone_gives_revision_source_and_commit_time() {
        let p = decide_with(&[], &git()).unwrap();
        assert_eq!(label(&p, "revision").as_deref(), Some(SHA));
        assert_eq!(
            label(&p, "source").as_deref(),
            Some("ssh://github.com/acme/shop.git")
        );
        assert_eq!(
            label(&p, "created").as_deref(),
            Some("2025-11-23T12:13:20Z")
        );
        assert_eq!(p.revision.unwrap().origin, Origin::Git);
    }

    #[test]
    fn created_comes_from_bp_oci_created_then_source_date_epoch() {
        let p = decide_with(
            &[
                (CREATED, "2026-01-02T03:04:05+01:00"),
                (SOURCE_DATE_EPOCH, "0"),
            ],
            &git(),
        )
        .unwrap();
        assert_eq!(
            label(&p, "created").as_deref(),
            Some("2026-01-02T02:04:05Z")
        );
        let p = decide_with(&[(SOURCE_DATE_EPOCH, "315532800")], &GitFacts::default()).unwrap();
        assert_eq!(
            label(&p, "created").as_deref(),
            Some("1980-01-01T00:00:00Z")
        );
    }

    #[test]
    fn nothing_known_gives_no_labels_but_the_version() {
        let p = decide_with(&[(REVISION, "  ")], &GitFacts::default()).unwrap();
        assert_eq!(p.labels().len(), 1);
    }

    #[test]
    fn credentials_never_reach_the_label() {
        let p = decide_with(
            &[(
                SOURCE,
                "https://deploy:ghp_secret@github.com/acme/shop.git?x=1#y",
            )],
            &GitFacts::default(),
        )
        .unwrap();
        assert_eq!(
            label(&p, "source").as_deref(),
            Some("https://github.com/acme/shop.git")
        );
        assert!(p.source_had_credentials);
        let git = GitFacts {
            origin: Some("https://x-access-token:tok@github.com/acme/shop".into()),
            ..GitFacts::default()
        };
        let p = decide_with(&[], &git).unwrap();
        assert_eq!(
            label(&p, "source").as_deref(),
            Some("https://github.com/acme/shop")
        );
    }

    #[test]
    fn bad_values_fail_with_what_was_given() {
        for revision in [
            "main",
            "0123456",
            &format!("{SHA}0"),
            &format!("{}g", &SHA[..39]),
        ] {
            assert!(
                matches!(
                    decide_with(&[(REVISION, revision)], &git()),
                    Err(ProvenanceError::Revision { .. })
                ),
                "{revision}"
            );
        }
        assert_eq!(
            decide_with(&[(SOURCE, "ftp://user:pw@host/x")], &git()),
            Err(ProvenanceError::Source {
                value: "ftp://***@host/x".into(),
                reason: "the scheme must be `https`, `http`, `ssh` or `git`".into()
            })
        );
        assert!(matches!(
            decide_with(&[(SOURCE, "not a url")], &git()),
            Err(ProvenanceError::Source { .. })
        ));
        assert!(matches!(
            decide_with(&[(CREATED, "yesterday")], &git()),
            Err(ProvenanceError::Created { .. })
        ));
        assert!(matches!(
            decide_with(&[(SOURCE_DATE_EPOCH, "1e9")], &git()),
            Err(ProvenanceError::SourceDateEpoch { .. })
        ));
    }

    #[test]
    fn a_remote_git_cannot_parse_is_left_out() {
        let git = GitFacts {
            origin: Some("../local/path".into()),
            ..git()
        };
        assert_eq!(label(&decide_with(&[], &git).unwrap(), "source"), None);
    }

    #[test]
    fn committer_time_is_read_from_the_raw_commit() {
        let commit = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1600000000 +0200\ncommitter C D <c@x> 1700000000 -0500\n\ncommitter 1 +0000\n";
        assert_eq!(committer_time(commit), Some(1_700_000_000));
        assert_eq!(committer_time("tree x\n"), None);
    }

    #[test]
    fn the_sbom_names_the_commit_and_is_stable() {
        let p = decide_with(&[(SOURCE, "https://git.example/acme/shop")], &git()).unwrap();
        let sbom = p.sbom(Some("shop"));
        assert_eq!(sbom, p.sbom(Some("shop")));
        let document: Value = serde_json::from_slice(&sbom).unwrap();
        let component = &document["metadata"]["component"];
        assert_eq!(component["name"], "shop");
        assert_eq!(component["pedigree"]["commits"][0]["uid"], SHA);
        assert_eq!(
            component["externalReferences"][0]["url"],
            "https://git.example/acme/shop"
        );
        assert!(
            document["serialNumber"]
                .as_str()
                .unwrap()
                .starts_with("urn:uuid:")
        );
        let other = decide_with(&[(REVISION, OTHER)], &git()).unwrap();
        assert_ne!(other.sbom(Some("shop")), sbom);
    }
}
