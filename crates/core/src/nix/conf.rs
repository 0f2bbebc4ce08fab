//! `NixConf`: a lossless nix.conf document, read the way Nix 2.8 reads it.
//!
//! Nix's grammar (libutil/config.cc `applyConfig`): the file is split on `\n`; everything from
//! the first `#` on a line is a comment; the rest is split on spaces, tabs and `\r`. An empty
//! line is skipped. `include PATH` / `!include PATH` (exactly two tokens) read another file
//! (relative to this file's directory; `!` ignores a missing file). Otherwise the second token
//! must be `=`, and the value is the remaining tokens joined by single spaces (so `a =  b   c`
//! is `b c`, and `a=b` is an error for Nix). A later assignment replaces an earlier one;
//! `extra-NAME = v` appends `v` to NAME for list settings (Nix 2.8 ignores `extra-` on string
//! settings such as `builders`, with "unknown setting").

use std::path::Path;

use super::block;
use super::lines::{LineDoc, LineEnding, RawLine};

/// What one line means to Nix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfLine {
    /// Empty, whitespace or comment only.
    Blank,
    /// `include PATH` or `!include PATH` (`optional` for the latter).
    Include { path: String, optional: bool },
    /// `name = value`; `value` is Nix's normalized value (tokens joined by one space).
    Setting { name: String, value: String },
    /// A line Nix rejects ("illegal configuration line"). Kept as it is.
    Invalid,
}

/// Nix's tokenizer: the part before `#`, split on space, tab, CR and LF.
pub(crate) fn tokens(body: &[u8]) -> Vec<String> {
    let code = match body.iter().position(|&b| b == b'#') {
        Some(i) => &body[..i],
        None => body,
    };
    code.split(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .filter(|t| !t.is_empty())
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect()
}

impl ConfLine {
    pub fn classify(body: &[u8]) -> ConfLine {
        let t = tokens(body);
        match t.as_slice() {
            [] => ConfLine::Blank,
            [kw, path] if kw == "include" || kw == "!include" => {
                ConfLine::Include { path: path.clone(), optional: kw.starts_with('!') }
            }
            [kw, ..] if kw == "include" || kw == "!include" => ConfLine::Invalid,
            [name, eq, rest @ ..] if eq == "=" => ConfLine::Setting { name: name.clone(), value: rest.join(" ") },
            _ => ConfLine::Invalid,
        }
    }
}

/// A nix.conf file: its exact bytes as lines, each with its meaning.
/// `NixConf::parse(b).render() == b` for every byte string `b`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NixConf {
    doc: LineDoc,
}

impl NixConf {
    pub fn parse(bytes: &[u8]) -> NixConf {
        NixConf { doc: LineDoc::parse(bytes) }
    }

    pub fn render(&self) -> Vec<u8> {
        self.doc.render()
    }

    pub(crate) fn from_doc(doc: LineDoc) -> NixConf {
        NixConf { doc }
    }

    /// The raw lines (body without terminator, and the terminator).
    pub fn raw_lines(&self) -> &[RawLine] {
        &self.doc.lines
    }

    /// Every line's meaning, in order.
    pub fn lines(&self) -> impl Iterator<Item = ConfLine> + '_ {
        self.doc.lines.iter().map(|l| ConfLine::classify(&l.body))
    }

    /// The assignments in file order, as (name, normalized value).
    pub fn settings(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.lines().filter_map(|l| match l {
            ConfLine::Setting { name, value } => Some((name, value)),
            _ => None,
        })
    }

    /// The include lines in order, as (path, optional).
    pub fn includes(&self) -> impl Iterator<Item = (String, bool)> + '_ {
        self.lines().filter_map(|l| match l {
            ConfLine::Include { path, optional } => Some((path, optional)),
            _ => None,
        })
    }

    /// The value this file gives `name` (includes are not followed): the last `name = v`, with
    /// every later `extra-name = w` appended (space separated), as Nix does for list settings.
    /// `None` when the file never sets it.
    pub fn effective(&self, name: &str) -> Option<String> {
        effective_in(&self.settings().collect::<Vec<_>>(), name)
    }

    /// Like `effective`, but only plain `name = v` lines count (the last one wins). This is what
    /// Nix 2.8 does for string settings such as `builders`.
    pub fn last_assignment(&self, name: &str) -> Option<String> {
        last_assignment_in(&self.settings().collect::<Vec<_>>(), name)
    }

    /// The line ending new lines get in this file.
    pub fn preferred_ending(&self) -> LineEnding {
        self.doc.preferred_ending()
    }
}

/// A setting's value after applying `settings` in order (see `NixConf::effective`).
pub fn effective_in(settings: &[(String, String)], name: &str) -> Option<String> {
    let extra = format!("extra-{name}");
    let mut value: Option<String> = None;
    for (n, v) in settings {
        if n == name {
            value = Some(v.clone());
        } else if *n == extra {
            value = Some(match value {
                Some(cur) if !cur.is_empty() && !v.is_empty() => format!("{cur} {v}"),
                Some(cur) if v.is_empty() => cur,
                _ => v.clone(),
            });
        }
    }
    value
}

/// The last plain assignment of `name` in `settings` (see `NixConf::last_assignment`).
pub fn last_assignment_in(settings: &[(String, String)], name: &str) -> Option<String> {
    settings.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

/// The settings Nix applies, in order, when it reads the config file at `path`: include lines
/// are followed through `read` (a path relative to the including file's directory; a file
/// `read` cannot give is skipped, as `!include` does), Builderbar's own marked blocks are left
/// out, and nesting stops at 16 levels. `read` returns a file's bytes, or `None` if absent.
pub fn expanded_settings(path: &Path, read: &mut dyn FnMut(&Path) -> Option<Vec<u8>>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    expand_into(path, read, 0, &mut out);
    out
}

fn expand_into(
    path: &Path,
    read: &mut dyn FnMut(&Path) -> Option<Vec<u8>>,
    depth: usize,
    out: &mut Vec<(String, String)>,
) {
    if depth > 16 {
        return;
    }
    let Some(bytes) = read(path) else { return };
    let doc = block::strip_blocks(&LineDoc::parse(&bytes)).unwrap_or_else(|_| LineDoc::parse(&bytes));
    for line in NixConf::from_doc(doc).lines() {
        match line {
            ConfLine::Setting { name, value } => out.push((name, value)),
            ConfLine::Include { path: inc, .. } => {
                let dir = path.parent().unwrap_or(Path::new("/"));
                expand_into(&dir.join(inc), read, depth + 1, out);
            }
            ConfLine::Blank | ConfLine::Invalid => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_like_nix() {
        let c = NixConf::parse(
            b"# comment\n  max-jobs\t=  4   # four\r\nsubstituters = a  b\nextra-substituters = c\n\
              include /x/y.conf\n!include nix.custom.conf\nbad=line\nkey =\n",
        );
        assert_eq!(c.effective("max-jobs").as_deref(), Some("4"));
        assert_eq!(c.effective("substituters").as_deref(), Some("a b c"));
        assert_eq!(c.effective("key").as_deref(), Some(""));
        assert_eq!(c.effective("bad"), None);
        assert_eq!(
            c.includes().collect::<Vec<_>>(),
            [("/x/y.conf".to_string(), false), ("nix.custom.conf".to_string(), true)]
        );
        let kinds: Vec<_> = c.lines().collect();
        assert_eq!(kinds[0], ConfLine::Blank);
        assert_eq!(kinds[6], ConfLine::Invalid);
    }

    #[test]
    fn later_assignment_wins_and_extra_appends() {
        let c = NixConf::parse(b"extra-trusted-users = a\ntrusted-users = root\nextra-trusted-users = bob\n");
        assert_eq!(c.effective("trusted-users").as_deref(), Some("root bob"));
        let c = NixConf::parse(b"trusted-users = root\nextra-trusted-users = bob\ntrusted-users = x\n");
        assert_eq!(c.effective("trusted-users").as_deref(), Some("x"));
        let c = NixConf::parse(b"builders = a ; b\nextra-builders = c\n");
        assert_eq!(c.last_assignment("builders").as_deref(), Some("a ; b"));
    }

    #[test]
    fn expands_includes_relative_to_the_including_file() {
        let files: std::collections::HashMap<&str, &[u8]> = [
            ("/etc/nix/nix.conf", &b"a = 1\ninclude sub/x.conf\n!include missing.conf\nb = 2\n"[..]),
            ("/etc/nix/sub/x.conf", b"a = 3\ninclude y.conf\n"),
            ("/etc/nix/sub/y.conf", b"extra-a = 4\n# >>> builderbar >>> x\na = ours\n# <<< builderbar <<<\n"),
        ]
        .into_iter()
        .collect();
        let mut read = |p: &Path| files.get(p.to_str().unwrap()).map(|b| b.to_vec());
        let s = expanded_settings(Path::new("/etc/nix/nix.conf"), &mut read);
        assert_eq!(effective_in(&s, "a").as_deref(), Some("3 4"));
        assert_eq!(last_assignment_in(&s, "b").as_deref(), Some("2"));
        // A file that includes itself stops at the depth limit.
        let mut read = |_: &Path| Some(b"include nix.conf\nx = 1\n".to_vec());
        assert_eq!(expanded_settings(Path::new("/n/nix.conf"), &mut read).len(), 17);
    }

    #[test]
    fn lossless_for_unicode_and_invalid_utf8() {
        let b = "ключ = значение ✓\r\n\t# ☃\n\u{feff}x = y".as_bytes();
        assert_eq!(NixConf::parse(b).render(), b);
        let b = b"a = \xff\xfe\nb = c";
        assert_eq!(NixConf::parse(b).render(), b);
        assert_eq!(NixConf::parse(b).effective("b").as_deref(), Some("c"));
    }
}
