//! What a Django project's `manage.py` says about it, read as text (no Django code runs).

/// The settings module `manage.py` names in `DJANGO_SETTINGS_MODULE` (`"mysite.settings"`),
/// when it is a dotted module name.
#[must_use]
pub fn settings_module(manage_py: &str) -> Option<String> {
    let start = manage_py.find("DJANGO_SETTINGS_MODULE")?;
    let rest = &manage_py[start + "DJANGO_SETTINGS_MODULE".len()..];
    // Past the key's closing quote: `", "mysite.settings"` or `"] = "mysite.settings"`.
    let rest = &rest[rest.find([',', '='])?..];
    let quote = rest.find(['"', '\''])?;
    let rest = &rest[quote + 1..];
    let module = &rest[..rest.find(['"', '\''])?];
    let valid = !module.is_empty()
        && module.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    valid.then(|| module.to_string())
}

/// The files, relative to the directory of `manage.py`, that may hold the settings of
/// `module`: the module itself, or a settings package's `__init__.py` and the `base.py` most
/// split settings (cookiecutter-django's among them) keep the database in.
#[must_use]
pub fn settings_files(module: &str) -> Vec<String> {
    let path = module.replace('.', "/");
    let mut files = vec![
        format!("{path}.py"),
        format!("{path}/__init__.py"),
        format!("{path}/base.py"),
    ];
    if let Some((package, _)) = path.rsplit_once('/') {
        files.push(format!("{package}/base.py"));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_settings_module() {
        assert_eq!(
            settings_module(
                "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"mysite.settings\")"
            ),
            Some("mysite.settings".into())
        );
        assert_eq!(
            settings_module("os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings.local'"),
            Some("config.settings.local".into())
        );
        assert_eq!(settings_module("nothing"), None);
        assert_eq!(settings_module("DJANGO_SETTINGS_MODULE = '../etc'"), None);
        assert_eq!(
            settings_files("config.settings.local"),
            [
                "config/settings/local.py",
                "config/settings/local/__init__.py",
                "config/settings/local/base.py",
                "config/settings/base.py"
            ]
        );
    }
}
