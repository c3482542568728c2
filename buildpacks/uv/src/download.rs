//! Downloads the uv release archive, checks its sha256, and unpacks `uv` and `uvx`.
//!
//! The archive streams to a temporary file while it is hashed; nothing is unpacked until the
//! digest matches the pinned one, so a changed file on a mirror never reaches the build.

use flate2::read::GzDecoder;
use luban_common::digest::hex;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) const ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);
const BINARIES: [&str; 2] = ["uv", "uvx"];

#[derive(Debug)]
pub(crate) enum DownloadError {
    /// Every attempt failed; `reason` is the last failure.
    Request {
        url: String,
        attempts: u32,
        reason: String,
    },
    ChecksumMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    Unpack {
        url: String,
        error: io::Error,
    },
    MissingBinary {
        url: String,
        name: &'static str,
    },
    Io(io::Error),
}

/// Downloads `url` into `bin_dir`, verified against `sha256`. Retries network failures
/// (with backoff) but never a checksum mismatch.
pub(crate) fn download_verified(
    url: &str,
    sha256: &str,
    bin_dir: &Path,
    scratch: &Path,
) -> Result<Vec<PathBuf>, DownloadError> {
    let mut archive = tempfile::tempfile_in(scratch).map_err(DownloadError::Io)?;
    let actual = fetch_with_retries(url, &mut archive, ATTEMPTS, Duration::from_secs(1))?;
    if !actual.eq_ignore_ascii_case(sha256) {
        return Err(DownloadError::ChecksumMismatch {
            url: url.to_string(),
            expected: sha256.to_string(),
            actual,
        });
    }
    archive.rewind().map_err(DownloadError::Io)?;
    unpack_binaries(archive, bin_dir).map_err(|error| match error {
        UnpackError::Io(error) => DownloadError::Unpack {
            url: url.to_string(),
            error,
        },
        UnpackError::Missing(name) => DownloadError::MissingBinary {
            url: url.to_string(),
            name,
        },
    })
}

fn fetch_with_retries(
    url: &str,
    out: &mut File,
    attempts: u32,
    first_backoff: Duration,
) -> Result<String, DownloadError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .user_agent("luban-uv-buildpack")
        .build()
        .into();
    let mut backoff = first_backoff;
    let mut attempt = 1;
    loop {
        out.set_len(0).map_err(DownloadError::Io)?;
        out.rewind().map_err(DownloadError::Io)?;
        match fetch_once(&agent, url, out) {
            Ok(digest) => return Ok(digest),
            Err(failure) if failure.retryable && attempt < attempts => {
                std::thread::sleep(backoff);
                backoff *= 2;
                attempt += 1;
            }
            Err(failure) => {
                return Err(DownloadError::Request {
                    url: url.to_string(),
                    attempts: attempt,
                    reason: failure.reason,
                });
            }
        }
    }
}

struct Failure {
    reason: String,
    retryable: bool,
}

fn fetch_once(agent: &ureq::Agent, url: &str, out: &mut File) -> Result<String, Failure> {
    let mut response = agent.get(url).call().map_err(|error| Failure {
        retryable: match &error {
            ureq::Error::StatusCode(code) => *code == 429 || *code >= 500,
            ureq::Error::BadUri(_) => false,
            _ => true,
        },
        reason: match error {
            ureq::Error::StatusCode(code) => format!("the server answered HTTP {code}"),
            other => other.to_string(),
        },
    })?;
    let mut reader = response.body_mut().as_reader();
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = reader.read(&mut buffer).map_err(|error| Failure {
            reason: format!("the download broke off: {error}"),
            retryable: true,
        })?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        out.write_all(&buffer[..read]).map_err(|error| Failure {
            reason: format!("could not write the download to disk: {error}"),
            retryable: false,
        })?;
    }
    Ok(hex(&hasher.finalize()))
}

enum UnpackError {
    Io(io::Error),
    Missing(&'static str),
}

/// Unpacks `uv` and `uvx` from a release archive (`uv-<target>/uv`) into `bin_dir`.
fn unpack_binaries(archive: impl Read, bin_dir: &Path) -> Result<Vec<PathBuf>, UnpackError> {
    std::fs::create_dir_all(bin_dir).map_err(UnpackError::Io)?;
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    let mut unpacked = Vec::new();
    for entry in tar.entries().map_err(UnpackError::Io)? {
        let mut entry = entry.map_err(UnpackError::Io)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(UnpackError::Io)?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(binary) = BINARIES.iter().find(|b| **b == name) {
            let target = bin_dir.join(binary);
            entry.unpack(&target).map_err(UnpackError::Io)?;
            set_executable(&target).map_err(UnpackError::Io)?;
            unpacked.push(target);
        }
    }
    if unpacked.iter().any(|p| p.ends_with("uv")) {
        Ok(unpacked)
    } else {
        Err(UnpackError::Missing("uv"))
    }
}

fn set_executable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::BufRead;
    use std::net::TcpListener;

    fn release_archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        for (path, contents) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, *contents).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    /// Serves `responses` in order, one per connection, on a loopback port; returns the URL.
    fn serve(responses: Vec<(u16, Vec<u8>)>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/uv.tar.gz", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for (status, body) in responses {
                let (mut stream, _) = listener.accept().unwrap();
                let mut reader = io::BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .unwrap();
                stream.write_all(&body).unwrap();
            }
        });
        url
    }

    #[test]
    fn verified_download_unpacks_both_binaries() {
        let archive = release_archive(&[
            ("uv-x86_64-unknown-linux-musl/uv", b"uv binary"),
            ("uv-x86_64-unknown-linux-musl/uvx", b"uvx binary"),
            ("uv-x86_64-unknown-linux-musl/LICENSE", b"text"),
        ]);
        let sha = luban_common::digest::sha256_bytes(&archive);
        let url = serve(vec![(200, archive)]);
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        download_verified(&url, &sha, &bin, dir.path()).unwrap();
        assert_eq!(std::fs::read(bin.join("uv")).unwrap(), b"uv binary");
        assert_eq!(std::fs::read(bin.join("uvx")).unwrap(), b"uvx binary");
        assert!(!bin.join("LICENSE").exists());
    }

    #[test]
    fn checksum_mismatch_unpacks_nothing() {
        let archive = release_archive(&[("uv-x/uv", b"tampered")]);
        let actual = luban_common::digest::sha256_bytes(&archive);
        let url = serve(vec![(200, archive)]);
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let expected = "0".repeat(64);
        match download_verified(&url, &expected, &bin, dir.path()) {
            Err(DownloadError::ChecksumMismatch {
                url: u,
                expected: e,
                actual: a,
            }) => {
                assert_eq!((u, e, a), (url, expected, actual));
            }
            other => panic!("expected a checksum mismatch, got {other:?}"),
        }
        assert!(!bin.exists());
    }

    #[test]
    fn server_errors_are_retried() {
        let archive = release_archive(&[("uv-x/uv", b"uv")]);
        let sha = luban_common::digest::sha256_bytes(&archive);
        let url = serve(vec![(503, Vec::new()), (200, archive)]);
        let dir = tempfile::tempdir().unwrap();
        let mut file = tempfile::tempfile().unwrap();
        let digest = fetch_with_retries(&url, &mut file, 3, Duration::from_millis(1)).unwrap();
        assert_eq!(digest, sha);
        drop(dir);
    }

    #[test]
    fn not_found_is_not_retried() {
        let url = serve(vec![(404, Vec::new())]);
        let mut file = tempfile::tempfile().unwrap();
        match fetch_with_retries(&url, &mut file, 3, Duration::from_millis(1)) {
            Err(DownloadError::Request {
                attempts, reason, ..
            }) => {
                assert_eq!(attempts, 1);
                assert_eq!(reason, "the server answered HTTP 404");
            }
            other => panic!("expected a request error, got {other:?}"),
        }
    }

    #[test]
    fn unreachable_server_fails_after_all_attempts() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut file = tempfile::tempfile().unwrap();
        match fetch_with_retries(
            &format!("http://127.0.0.1:{port}/uv.tar.gz"),
            &mut file,
            3,
            Duration::from_millis(1),
        ) {
            Err(DownloadError::Request { attempts, .. }) => assert_eq!(attempts, 3),
            other => panic!("expected a request error, got {other:?}"),
        }
    }

    #[test]
    fn archive_without_uv_is_rejected() {
        let archive = release_archive(&[("uv-x/README", b"no binaries")]);
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            unpack_binaries(&archive[..], dir.path()),
            Err(UnpackError::Missing("uv"))
        ));
    }
}
