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
use std::sync::Arc;
use std::time::{Duration, Instant};
use ureq::tls::{RootCerts, TlsConfig};

pub(crate) const ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);
const BINARIES: [&str; 2] = ["uv", "uvx"];
/// The CA bundles of the build images (Debian, Amazon Linux), used when `SSL_CERT_FILE` is
/// unset, so a mirror signed by a company CA the image trusts works.
const SYSTEM_CA_BUNDLES: [&str; 2] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// What a download may take: attempts with exponential backoff, a size cap (a uv release is
/// about 20 MB; a mirror that streams without end must not fill the disk) and an overall
/// deadline across attempts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) attempts: u32,
    pub(crate) first_backoff: Duration,
    pub(crate) max_bytes: u64,
    pub(crate) deadline: Duration,
}

pub(crate) const LIMITS: Limits = Limits {
    attempts: ATTEMPTS,
    first_backoff: Duration::from_secs(1),
    max_bytes: 256 * 1024 * 1024,
    deadline: Duration::from_mins(5),
};

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
    /// The server's certificate isn't trusted: never retried.
    Certificate {
        url: String,
        reason: String,
        ca_file: Option<PathBuf>,
    },
    /// `SSL_CERT_FILE` names a file without certificates.
    CaBundle {
        path: PathBuf,
        reason: String,
    },
    Io(io::Error),
}

/// The roots the download trusts: `SSL_CERT_FILE` when set (the same setting uv and the
/// lifecycle honour), else the build image's CA bundle, else Mozilla's roots.
pub(crate) fn trust(
    ssl_cert_file: Option<&Path>,
) -> Result<(RootCerts, Option<PathBuf>), DownloadError> {
    let file = match ssl_cert_file {
        Some(path) => Some(path.to_path_buf()),
        None => SYSTEM_CA_BUNDLES
            .iter()
            .map(PathBuf::from)
            .find(|path| path.is_file()),
    };
    let Some(path) = file else {
        return Ok((RootCerts::WebPki, None));
    };
    let pem = std::fs::read(&path).map_err(|error| DownloadError::CaBundle {
        path: path.clone(),
        reason: error.to_string(),
    })?;
    let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(DownloadError::CaBundle {
            path,
            reason: "it holds no PEM certificate".into(),
        });
    }
    Ok((RootCerts::Specific(Arc::new(certs)), Some(path)))
}

/// Downloads `url` into `bin_dir`, verified against `sha256`. Retries network failures
/// (with backoff) but never a checksum mismatch.
pub(crate) fn download_verified(
    url: &str,
    sha256: &str,
    bin_dir: &Path,
    scratch: &Path,
    ssl_cert_file: Option<&Path>,
) -> Result<Vec<PathBuf>, DownloadError> {
    let mut archive = tempfile::tempfile_in(scratch).map_err(DownloadError::Io)?;
    let actual = fetch_with_retries(url, &mut archive, &LIMITS, ssl_cert_file)?;
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
    limits: &Limits,
    ssl_cert_file: Option<&Path>,
) -> Result<String, DownloadError> {
    let (roots, ca_file) = trust(ssl_cert_file)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .timeout_global(Some(limits.deadline))
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .user_agent("luban-uv-buildpack")
        .build()
        .into();
    let started = Instant::now();
    let mut backoff = limits.first_backoff;
    let mut attempt = 1;
    loop {
        out.set_len(0).map_err(DownloadError::Io)?;
        out.rewind().map_err(DownloadError::Io)?;
        match fetch_once(&agent, url, out, limits.max_bytes) {
            Ok(digest) => return Ok(digest),
            Err(failure) if failure.certificate => {
                return Err(DownloadError::Certificate {
                    url: url.to_string(),
                    reason: failure.reason,
                    ca_file,
                });
            }
            Err(failure)
                if failure.retryable
                    && attempt < limits.attempts
                    && started.elapsed() + backoff < limits.deadline =>
            {
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
    certificate: bool,
}

/// Whether a request failed on the server's certificate (not trusted, expired, wrong name).
fn is_certificate_error(error: &ureq::Error) -> bool {
    let text = format!("{error} {error:?}").to_ascii_lowercase();
    text.contains("certificate") || text.contains("unknownissuer")
}

fn fetch_once(
    agent: &ureq::Agent,
    url: &str,
    out: &mut File,
    max_bytes: u64,
) -> Result<String, Failure> {
    let mut response = agent.get(url).call().map_err(|error| Failure {
        retryable: match &error {
            ureq::Error::StatusCode(code) => *code == 429 || *code >= 500,
            ureq::Error::BadUri(_) => false,
            _ => true,
        },
        certificate: is_certificate_error(&error),
        reason: match error {
            ureq::Error::StatusCode(code) => format!("the server answered HTTP {code}"),
            other => other.to_string(),
        },
    })?;
    // ureq's own body limit is lifted: the cap below is ours, and says what happened.
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let read = reader.read(&mut buffer).map_err(|error| Failure {
            reason: format!("the download broke off: {error}"),
            retryable: true,
            certificate: false,
        })?;
        if read == 0 {
            break;
        }
        total += read as u64;
        if total > max_bytes {
            return Err(Failure {
                reason: format!(
                    "the download is larger than {} MiB, far more than a uv release",
                    max_bytes / (1024 * 1024)
                ),
                retryable: false,
                certificate: false,
            });
        }
        hasher.update(&buffer[..read]);
        out.write_all(&buffer[..read]).map_err(|error| Failure {
            reason: format!("could not write the download to disk: {error}"),
            retryable: false,
            certificate: false,
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

    const FAST: Limits = Limits {
        attempts: 3,
        first_backoff: Duration::from_millis(1),
        max_bytes: 1024 * 1024,
        deadline: Duration::from_secs(20),
    };

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
        download_verified(&url, &sha, &bin, dir.path(), None).unwrap();
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
        match download_verified(&url, &expected, &bin, dir.path(), None) {
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
        let digest = fetch_with_retries(&url, &mut file, &FAST, None).unwrap();
        assert_eq!(digest, sha);
        drop(dir);
    }

    #[test]
    fn not_found_is_not_retried() {
        let url = serve(vec![(404, Vec::new())]);
        let mut file = tempfile::tempfile().unwrap();
        match fetch_with_retries(&url, &mut file, &FAST, None) {
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
            &FAST,
            None,
        ) {
            Err(DownloadError::Request { attempts, .. }) => assert_eq!(attempts, 3),
            other => panic!("expected a request error, got {other:?}"),
        }
    }

    #[test]
    fn oversized_downloads_stop_at_the_cap_and_are_not_retried() {
        let url = serve(vec![(200, vec![0; 2 * 1024 * 1024])]);
        let mut file = tempfile::tempfile().unwrap();
        match fetch_with_retries(&url, &mut file, &FAST, None) {
            Err(DownloadError::Request {
                attempts, reason, ..
            }) => {
                assert_eq!(attempts, 1);
                assert!(reason.contains("larger than 1 MiB"), "{reason}");
            }
            other => panic!("expected a request error, got {other:?}"),
        }
    }

    #[test]
    fn no_retry_past_the_deadline() {
        let url = serve(vec![(503, vec![]), (503, vec![]), (503, vec![])]);
        let mut file = tempfile::tempfile().unwrap();
        let limits = Limits {
            first_backoff: Duration::from_secs(2),
            deadline: Duration::from_secs(1),
            ..FAST
        };
        let started = Instant::now();
        match fetch_with_retries(&url, &mut file, &limits, None) {
            Err(DownloadError::Request { attempts, .. }) => assert_eq!(attempts, 1),
            other => panic!("expected a request error, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_ca_file_without_certificates_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate").unwrap();
        assert!(matches!(
            trust(Some(&file)),
            Err(DownloadError::CaBundle { .. })
        ));
    }

    /// A CA and a server certificate it signed for 127.0.0.1, made with openssl in `dir`;
    /// returns the CA's file.
    fn make_certificates(dir: &Path) -> PathBuf {
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl is needed for this test");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let key = ["-newkey", "rsa:2048", "-nodes", "-days", "1"];
        openssl(
            &[
                &["req", "-x509"],
                &key[..],
                &[
                    "-subj",
                    "/CN=Test CA",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                ],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req"],
                &key[..3],
                &[
                    "-subj",
                    "/CN=127.0.0.1",
                    "-keyout",
                    "key.pem",
                    "-out",
                    "server.csr",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            dir.join("ext.cnf"),
            "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ]);
        dir.join("ca.pem")
    }

    /// openssl's `s_server` serving the files of `dir` over HTTPS; returns it and its port.
    fn https_server(dir: &Path) -> (std::process::Child, u16) {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = std::process::Command::new("openssl")
            .args([
                "s_server", "-quiet", "-WWW", "-key", "key.pem", "-cert", "cert.pem",
            ])
            .args(["-accept", &port.to_string()])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (server, port)
    }

    /// An HTTPS server whose CA the download doesn't know fails at once, naming the
    /// certificate, without retries; with the CA in `SSL_CERT_FILE` it is trusted.
    #[test]
    fn untrusted_certificates_fail_at_once_and_ssl_cert_file_is_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let ca = make_certificates(dir.path());
        std::fs::write(dir.path().join("uv.tar.gz"), b"payload").unwrap();
        let (mut server, port) = https_server(dir.path());
        let url = format!("https://127.0.0.1:{port}/uv.tar.gz");
        let mut file = tempfile::tempfile().unwrap();
        let untrusted = fetch_with_retries(&url, &mut file, &FAST, None);
        let trusted = fetch_with_retries(&url, &mut file, &FAST, Some(&ca));
        let _ = server.kill();
        let _ = server.wait();
        match untrusted {
            Err(DownloadError::Certificate { reason, .. }) => {
                assert!(
                    reason.to_ascii_lowercase().contains("certificate"),
                    "{reason}"
                );
            }
            other => panic!("expected a certificate error, got {other:?}"),
        }
        assert_eq!(
            trusted.unwrap(),
            luban_common::digest::sha256_bytes(b"payload")
        );
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
