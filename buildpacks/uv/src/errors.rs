//! Every message the uv buildpack shows a user when it fails.

use crate::download::DownloadError;
use crate::inventory::InventoryError;
use luban_common::message::ErrorMessage;
use luban_common::redact::redact_urls;

#[derive(Debug)]
pub(crate) enum UvBuildpackError {
    Inventory(InventoryError),
    Download(DownloadError),
}

impl From<UvBuildpackError> for libcnb::Error<UvBuildpackError> {
    fn from(error: UvBuildpackError) -> Self {
        libcnb::Error::BuildpackError(error)
    }
}

pub(crate) fn on_error(error: &libcnb::Error<UvBuildpackError>) {
    message(error).print();
}

pub(crate) fn message(error: &libcnb::Error<UvBuildpackError>) -> ErrorMessage {
    match error {
        libcnb::Error::BuildpackError(error) => buildpack_message(error),
        other => ErrorMessage::internal("uv", other),
    }
}

fn buildpack_message(error: &UvBuildpackError) -> ErrorMessage {
    match error {
        UvBuildpackError::Inventory(InventoryError::UnsupportedArch { arch, supported }) => {
            ErrorMessage::new(
                format!("uv is not available for the `{arch}` architecture"),
                format!(
                    "This buildpack pins uv builds for: {}. The build's target is `{arch}`.",
                    supported.join(", ")
                ),
            )
            .hint("Build for one of the supported architectures (for example `pack build --platform linux/amd64`).")
        }
        UvBuildpackError::Inventory(InventoryError::InvalidMirrorUrl(value)) => ErrorMessage::new(
            "`BP_UV_MIRROR_URL` is not an http(s) URL",
            format!("Found `BP_UV_MIRROR_URL={}`.", redact_urls(value)),
        )
        .hint("Set it to the URL that replaces `https://github.com/astral-sh/uv/releases/download`, for example `https://mirror.example.com/uv`, or unset it."),
        UvBuildpackError::Download(DownloadError::Request {
            url,
            attempts,
            reason,
        }) => ErrorMessage::new(
            "Could not download uv",
            format!(
                "Downloading `{}` failed after {attempts} attempt{}: {}.",
                redact_urls(url),
                if *attempts == 1 { "" } else { "s" },
                redact_urls(reason)
            ),
        )
        .hint("Check that the build can reach that host. In an air-gapped network, mirror the uv release files and set `BP_UV_MIRROR_URL` to the mirror."),
        UvBuildpackError::Download(DownloadError::ChecksumMismatch {
            url,
            expected,
            actual,
        }) => ErrorMessage::new(
            "The downloaded uv does not match its pinned checksum",
            format!(
                "Downloaded: `{}`\nExpected sha256: {expected}\nActual sha256:   {actual}\n\nNothing from the download was used.",
                redact_urls(url)
            ),
        )
        .hint("A mirror must serve the official release files unchanged. If you set `BP_UV_MIRROR_URL`, re-copy the files from the uv release; otherwise the download was corrupted or tampered with in transit."),
        UvBuildpackError::Download(DownloadError::Unpack { url, error }) => ErrorMessage::new(
            "Could not unpack the uv download",
            format!("The archive from `{}` matched its checksum but could not be unpacked: {error}.", redact_urls(url)),
        )
        .hint("Check that the build's disk is not full, then re-run the build."),
        UvBuildpackError::Download(DownloadError::MissingBinary { url, name }) => ErrorMessage::new(
            "The uv download has no uv binary",
            format!("The archive from `{}` matched its checksum but contains no `{name}` file.", redact_urls(url)),
        )
        .hint("The pinned inventory in `buildpack.toml` points at the wrong release file; report this to the builder's maintainers."),
        UvBuildpackError::Download(DownloadError::Certificate { url, reason, ca_file }) => ErrorMessage::new(
            "Could not download uv: the server's certificate is not trusted",
            format!(
                "Connecting to `{}` failed on its TLS certificate: {}.\nThe download trusted {}. Certificate errors are not retried.",
                redact_urls(url),
                redact_urls(reason),
                match ca_file {
                    Some(path) => format!("the certificates in `{}`", path.display()),
                    None => "Mozilla's root certificates".to_string(),
                }
            ),
        )
        .hint("If the mirror (or a proxy that inspects TLS) uses a company CA, give the build a bundle with it: `SSL_CERT_FILE=<path>` in the build env (`pack build --env SSL_CERT_FILE=…` with the file mounted, or the CA ConfigMap of the Argo build)."),
        UvBuildpackError::Download(DownloadError::CaBundle { path, reason }) => ErrorMessage::new(
            "`SSL_CERT_FILE` can't be used",
            format!("`SSL_CERT_FILE` is `{}`, but {reason}.", path.display()),
        )
        .hint("Point `SSL_CERT_FILE` at a PEM file of CA certificates, or unset it to use the build image's bundle."),
        UvBuildpackError::Download(DownloadError::Io(error)) => ErrorMessage::new(
            "Could not write the uv download to disk",
            format!("{error}."),
        )
        .hint("Check that the build's disk is not full, then re-run the build."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(error: &UvBuildpackError) -> String {
        buildpack_message(error).to_string()
    }

    #[test]
    fn unsupported_arch() {
        insta::assert_snapshot!(render(&UvBuildpackError::Inventory(
            InventoryError::UnsupportedArch {
                arch: "riscv64".into(),
                supported: vec!["amd64".into(), "arm64".into()],
            }
        )));
    }

    #[test]
    fn invalid_mirror() {
        insta::assert_snapshot!(render(&UvBuildpackError::Inventory(
            InventoryError::InvalidMirrorUrl("ftp://bob:hunter2@mirror".into())
        )));
    }

    #[test]
    fn download_failed() {
        insta::assert_snapshot!(render(&UvBuildpackError::Download(DownloadError::Request {
            url: "https://user:token@mirror.example.com/uv/0.12.6/uv-x86_64-unknown-linux-musl.tar.gz".into(),
            attempts: 3,
            reason: "Connection refused (os error 111)".into(),
        })));
    }

    #[test]
    fn untrusted_certificate() {
        insta::assert_snapshot!(render(&UvBuildpackError::Download(
            DownloadError::Certificate {
                url: "https://mirror.example.com/uv/0.12.6/uv-x86_64-unknown-linux-musl.tar.gz"
                    .into(),
                reason: "invalid peer certificate: UnknownIssuer".into(),
                ca_file: Some("/etc/ssl/certs/ca-certificates.crt".into()),
            }
        )));
    }

    #[test]
    fn unusable_ca_file() {
        insta::assert_snapshot!(render(&UvBuildpackError::Download(
            DownloadError::CaBundle {
                path: "/workspace/ca.pem".into(),
                reason: "it holds no PEM certificate".into(),
            }
        )));
    }

    #[test]
    fn checksum_mismatch() {
        insta::assert_snapshot!(render(&UvBuildpackError::Download(
            DownloadError::ChecksumMismatch {
                url: "https://mirror.example.com/uv/0.12.6/uv-x86_64-unknown-linux-musl.tar.gz"
                    .into(),
                expected: "a".repeat(64),
                actual: "b".repeat(64),
            }
        )));
    }

    #[test]
    fn unpack_failed() {
        insta::assert_snapshot!(render(&UvBuildpackError::Download(DownloadError::Unpack {
            url: "https://example.com/uv.tar.gz".into(),
            error: std::io::Error::other("unexpected end of file"),
        })));
    }

    #[test]
    fn missing_binary() {
        insta::assert_snapshot!(render(&UvBuildpackError::Download(
            DownloadError::MissingBinary {
                url: "https://example.com/uv.tar.gz".into(),
                name: "uv",
            }
        )));
    }

    #[test]
    fn disk_error() {
        insta::assert_snapshot!(render(&UvBuildpackError::Download(DownloadError::Io(
            std::io::Error::other("No space left on device")
        ))));
    }
}
