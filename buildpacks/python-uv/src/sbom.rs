//! The `CycloneDX` SBOM of the venv, made deterministic: uv writes a random `serialNumber` and
//! the time of the build, which would give two builds of the same commit different images.

use luban_common::digest::sha256_bytes;
use serde_json::Value;

/// Rewrites uv's `CycloneDX` JSON: `metadata.timestamp` (the time of the build, optional in
/// `CycloneDX`) is dropped and `serialNumber` becomes a UUID derived from the rest of the
/// document. Output that isn't a JSON object is returned unchanged.
pub(crate) fn deterministic(sbom: &[u8]) -> Vec<u8> {
    let Ok(Value::Object(mut document)) = serde_json::from_slice::<Value>(sbom) else {
        return sbom.to_vec();
    };
    document.remove("serialNumber");
    if let Some(Value::Object(metadata)) = document.get_mut("metadata") {
        metadata.remove("timestamp");
    }
    with_serial_number(Value::Object(document))
}

/// The document, pretty-printed, with a `serialNumber` (after `specVersion`) that is a UUID
/// derived from the rest of its content: stable for the same content.
pub(crate) fn with_serial_number(document: Value) -> Vec<u8> {
    let hex = sha256_bytes(document.to_string().as_bytes());
    // A version-4-shaped UUID from the digest.
    let serial = Value::String(format!(
        "urn:uuid:{}-{}-4{}-8{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    ));
    let Value::Object(fields) = document else {
        return Vec::new();
    };
    let mut ordered = serde_json::Map::new();
    for (key, value) in fields {
        let after = key == "specVersion";
        ordered.insert(key, value);
        if after {
            ordered.insert("serialNumber".into(), serial.clone());
        }
    }
    if !ordered.contains_key("serialNumber") {
        ordered.insert("serialNumber".into(), serial);
    }
    serde_json::to_vec_pretty(&Value::Object(ordered)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const UV_SBOM: &str = r#"{
  "bomFormat": "CycloneDX",
  "specVersion": "1.5",
  "version": 1,
  "serialNumber": "urn:uuid:RANDOM",
  "metadata": {"timestamp": "TIME", "component": {"name": "app"}},
  "components": [{"name": "flask", "version": "3.1.0"}]
}"#;

    fn with(serial: &str, time: &str) -> Vec<u8> {
        UV_SBOM
            .replace("RANDOM", serial)
            .replace("TIME", time)
            .into_bytes()
    }

    #[test]
    fn serial_number_and_time_no_longer_vary() {
        let a = deterministic(&with("1111", "2026-11-23T06:00:00Z"));
        let b = deterministic(&with("2222", "2026-11-23T07:00:00Z"));
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert!(text.contains(r#""serialNumber": "urn:uuid:"#), "{text}");
        assert!(!text.contains("timestamp"), "{text}");
        // A different content has a different serial number.
        let other = deterministic(
            UV_SBOM
                .replace("RANDOM", "1111")
                .replace("3.1.0", "3.1.1")
                .as_bytes(),
        );
        assert_ne!(deterministic(&with("1111", "x")), other);
    }

    #[test]
    fn other_output_is_left_alone() {
        assert_eq!(deterministic(b"not json"), b"not json");
    }
}
