//! The commands the README and `docs/` tell a user to run are either run by CI or marked as
//! examples, so no instruction rots unnoticed.
//!
//! Every fenced block says what it is in its info string:
//! - `sh ci`: commands CI runs as written; each line must appear in `.ci/run` or a
//!   GitHub Actions workflow's `run:` (after `make`/script names are matched literally);
//! - `sh example`: commands shown for a site to adapt (names, registries, secrets), not run;
//! - `text` (output, listings, expressions), `yaml`, `toml`: not commands.

use std::path::{Path, PathBuf};

/// A fenced block of a Markdown file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub file: PathBuf,
    /// 1-based line of the opening fence.
    pub line: usize,
    pub info: String,
    pub body: Vec<String>,
}

/// The fenced blocks of Markdown `text` (from `file`).
#[must_use]
pub fn blocks(file: &Path, text: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match open.take() {
                Some(block) => found.push(block),
                None => {
                    open = Some(Block {
                        file: file.to_path_buf(),
                        line: index + 1,
                        info: info.trim().to_string(),
                        body: Vec::new(),
                    });
                }
            }
        } else if let Some(block) = open.as_mut() {
            block.body.push(line.to_string());
        }
    }
    found
}

/// The info strings a block may have.
const KINDS: &[&str] = &["sh ci", "sh example", "text", "yaml", "toml"];

/// What is wrong with the blocks, given the text of what CI runs (`.ci/run` and the workflows).
#[must_use]
pub fn problems(blocks: &[Block], ci: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for block in blocks {
        let place = format!("{}:{}", block.file.display(), block.line);
        if !KINDS.contains(&block.info.as_str()) {
            problems.push(format!(
                "{place}: a fenced block must say what it is (```{}), not ```{}",
                KINDS.join(" / ```"),
                block.info
            ));
            continue;
        }
        if block.info != "sh ci" {
            continue;
        }
        for command in &block.body {
            // What runs, without the comment that explains it.
            let command = command.split(" #").next().unwrap_or_default().trim();
            if !command.is_empty() && !ci.contains(command) {
                problems.push(format!(
                    "{place}: `{command}` is marked as run by CI, but neither .ci/run nor a GitHub workflow runs it"
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn every_command_in_the_docs_is_run_by_ci_or_marked_as_an_example() {
        let root = crate::repo_root();
        let mut files = vec![root.join("README.md")];
        let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        docs.sort();
        files.extend(docs);
        let mut ci = read(&root.join(".ci/run"));
        for workflow in std::fs::read_dir(root.join(".github/workflows")).unwrap() {
            ci.push_str(&read(&workflow.unwrap().path()));
        }
        let all: Vec<Block> = files
            .iter()
            .flat_map(|f| blocks(f.strip_prefix(&root).unwrap_or(f), &read(f)))
            .collect();
        assert!(all.len() > 5, "no fenced blocks found");
        let problems = problems(&all, &ci);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn unmarked_blocks_and_commands_ci_does_not_run_are_reported() {
        let text = "a\n```\nmake demo\n```\n```sh ci\nmake demo   # the demo\nmake nothing\n```\n```sh example\nkubectl apply -f x\n```\n";
        let found = blocks(Path::new("README.md"), text);
        assert_eq!(found.len(), 3);
        assert_eq!(
            problems(&found, "run: make demo\n"),
            [
                "README.md:2: a fenced block must say what it is (```sh ci / ```sh example / ```text / ```yaml / ```toml), not ```",
                "README.md:5: `make nothing` is marked as run by CI, but neither .ci/run nor a GitHub workflow runs it",
            ]
        );
    }
}
