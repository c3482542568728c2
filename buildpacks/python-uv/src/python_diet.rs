//! What an app never runs is left out of the `python` layer: the standard library's test
//! suite, IDLE, Tk (tkinter, turtle and Tcl/Tk's script libraries: an app image has no
//! display), ensurepip's bundled wheels (uv makes the venv; `python -m venv --without-pip`
//! still works) and static libraries. Shared objects and the interpreter lose their debug
//! symbols (`strip --strip-debug`, where the build image has binutils). Headers stay: sdists
//! compile against them at build time.

use std::path::{Path, PathBuf};

/// Paths under `lib/pythonX.Y/` that are removed.
const STDLIB_REMOVED: &[&str] = &[
    "test",
    "idlelib",
    "tkinter",
    "turtle.py",
    "turtledemo",
    "ensurepip/_bundled",
];

/// What `prune` removed, and the binaries the caller strips.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Diet {
    pub(crate) removed: Vec<PathBuf>,
    /// ELF files to strip (the caller runs `strip` on them).
    pub(crate) binaries: Vec<PathBuf>,
}

/// Removes what an app never runs from the Python installation at `home` (the directory with
/// `bin/` and `lib/`), and lists the binaries to strip.
///
/// # Errors
/// When a directory can't be read or a path can't be removed.
pub(crate) fn prune(home: &Path, lib_dir_name: &str) -> std::io::Result<Diet> {
    let mut diet = Diet::default();
    let lib = home.join("lib");
    let stdlib = lib.join(lib_dir_name);
    let mut doomed: Vec<PathBuf> = STDLIB_REMOVED.iter().map(|p| stdlib.join(p)).collect();
    for entry in read_dir_sorted(&lib)? {
        let name = file_name(&entry);
        let tcl_tk =
            (name.starts_with("tcl") || name.starts_with("tk") || name.starts_with("itcl"))
                && entry.is_dir();
        if tcl_tk || is_static_library(&entry) {
            doomed.push(entry);
        }
    }
    for entry in read_dir_sorted(&stdlib)? {
        if file_name(&entry).starts_with("config-") && entry.is_dir() {
            doomed.extend(
                read_dir_sorted(&entry)?
                    .into_iter()
                    .filter(|path| is_static_library(path)),
            );
        }
    }
    let dynload = stdlib.join("lib-dynload");
    doomed.extend(
        read_dir_sorted(&dynload)?
            .into_iter()
            .filter(|path| file_name(path).starts_with("_tkinter")),
    );
    for path in doomed {
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
        diet.removed.push(path);
    }
    diet.binaries = elf_files(&home.join("bin"))?;
    diet.binaries.extend(elf_files(&lib)?);
    diet.binaries.extend(elf_files(&dynload)?);
    Ok(diet)
}

/// Regular files (not symlinks) in `dir` that start with the ELF magic.
fn elf_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in read_dir_sorted(dir)? {
        let is_file = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file());
        if is_file && is_elf(&path) {
            found.push(path);
        }
    }
    Ok(found)
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

fn read_dir_sorted(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|entry| entry.map(|e| e.path()))
            .collect::<std::io::Result<Vec<_>>>()?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(error),
    };
    entries.sort();
    Ok(entries)
}

fn is_static_library(path: &Path) -> bool {
    path.extension().is_some_and(|extension| extension == "a")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The total size of the regular files under `dir`, in bytes.
pub(crate) fn size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => size(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installation() -> tempfile::TempDir {
        let dir = luban_test_support::app_dir(&[
            ("bin/python3.12", "\x7fELF python"),
            ("bin/python3", "#!/bin/sh not elf"),
            ("lib/libpython3.12.so.1.0", "\x7fELF lib"),
            ("lib/libpython3.12.a", "!<arch>"),
            ("lib/tcl8.6/init.tcl", ""),
            ("lib/tk8.6/tk.tcl", ""),
            ("lib/pkgconfig/python3.pc", ""),
            ("lib/python3.12/os.py", ""),
            ("lib/python3.12/turtle.py", ""),
            ("lib/python3.12/test/test_os.py", ""),
            ("lib/python3.12/idlelib/idle.py", ""),
            ("lib/python3.12/tkinter/__init__.py", ""),
            ("lib/python3.12/turtledemo/demo.py", ""),
            ("lib/python3.12/ensurepip/__init__.py", ""),
            ("lib/python3.12/ensurepip/_bundled/pip.whl", ""),
            ("lib/python3.12/unittest/test/test_case.py", ""),
            (
                "lib/python3.12/config-3.12-x86_64-linux-gnu/libpython3.12.a",
                "!<arch>",
            ),
            ("lib/python3.12/config-3.12-x86_64-linux-gnu/Makefile", ""),
            (
                "lib/python3.12/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so",
                "\x7fELF ssl",
            ),
            (
                "lib/python3.12/lib-dynload/_tkinter.cpython-312-x86_64-linux-gnu.so",
                "\x7fELF tk",
            ),
            ("include/python3.12/Python.h", ""),
        ]);
        std::os::unix::fs::symlink(
            "libpython3.12.so.1.0",
            dir.path().join("lib/libpython3.12.so"),
        )
        .expect("symlink");
        dir
    }

    #[test]
    fn leaves_out_what_apps_never_run_and_keeps_what_they_and_sdists_need() {
        let home = installation();
        let diet = prune(home.path(), "python3.12").expect("prune");
        let exists = |p: &str| home.path().join(p).exists();
        for gone in [
            "lib/libpython3.12.a",
            "lib/tcl8.6",
            "lib/tk8.6",
            "lib/python3.12/test",
            "lib/python3.12/idlelib",
            "lib/python3.12/tkinter",
            "lib/python3.12/turtle.py",
            "lib/python3.12/turtledemo",
            "lib/python3.12/ensurepip/_bundled",
            "lib/python3.12/config-3.12-x86_64-linux-gnu/libpython3.12.a",
            "lib/python3.12/lib-dynload/_tkinter.cpython-312-x86_64-linux-gnu.so",
        ] {
            assert!(!exists(gone), "{gone} should be gone");
        }
        for kept in [
            "bin/python3.12",
            "lib/libpython3.12.so",
            "lib/pkgconfig/python3.pc",
            "lib/python3.12/os.py",
            "lib/python3.12/ensurepip/__init__.py",
            "lib/python3.12/unittest/test/test_case.py",
            "lib/python3.12/config-3.12-x86_64-linux-gnu/Makefile",
            "include/python3.12/Python.h",
        ] {
            assert!(exists(kept), "{kept} should stay");
        }
        let binaries: Vec<String> = diet
            .binaries
            .iter()
            .map(|p| {
                p.strip_prefix(home.path())
                    .expect("inside")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            binaries,
            [
                "bin/python3.12",
                "lib/libpython3.12.so.1.0",
                "lib/python3.12/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so"
            ]
        );
        assert_eq!(diet.removed.len(), 11);
    }

    #[test]
    fn a_second_prune_finds_nothing_to_remove() {
        let home = installation();
        prune(home.path(), "python3.12").expect("prune");
        assert!(
            prune(home.path(), "python3.12")
                .expect("again")
                .removed
                .is_empty()
        );
    }

    #[test]
    fn size_counts_files_once() {
        let home = installation();
        assert!(size(home.path()) > 0);
        assert_eq!(size(&home.path().join("missing")), 0);
    }
}
