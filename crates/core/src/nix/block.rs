//! Our managed block: the only lines Builderbar adds to a user's nix.conf or machines file.
//!
//! The block is appended at the end of the file, between a begin and an end marker comment:
//!
//! ```text
//! # >>> builderbar >>> added by Builderbar, removed by `builderbar unsetup`
//! builders-use-substitutes = true
//! # <<< builderbar <<<
//! ```
//!
//! Removing it restores the original bytes exactly. New lines take the file's dominant line
//! ending (LF or CRLF). If the original did not end with a newline, the block is joined to it
//! with one newline and the end marker gets none, so the file still ends without a newline;
//! removal takes that joining newline out again. The markers contain no `;`, because Nix splits
//! machines files on `;` as well as on newlines, and `#` starts a comment in both formats.

use super::lines::{LineDoc, LineEnding, RawLine};
use crate::error::UserFacing;

/// First line of our block.
pub const BEGIN_MARKER: &str = "# >>> builderbar >>> added by Builderbar, removed by `builderbar unsetup`";
/// Last line of our block.
pub const END_MARKER: &str = "# <<< builderbar <<<";
const BEGIN_PREFIX: &str = "# >>> builderbar >>>";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("line {line} opens a Builderbar block (`{BEGIN_PREFIX}`) that is never closed by `{END_MARKER}`")]
    MissingEnd { line: usize },
    #[error("line {line} closes a Builderbar block (`{END_MARKER}`) that was never opened")]
    MissingBegin { line: usize },
}

impl UserFacing for BlockError {
    fn hint(&self) -> String {
        "The file was edited by hand inside Builderbar's marked lines. Restore or delete both marker \
         lines and what is between them, then run setup again."
            .into()
    }
}

fn is_begin(l: &RawLine) -> bool {
    l.text().trim().starts_with(BEGIN_PREFIX)
}

fn is_end(l: &RawLine) -> bool {
    l.text().trim() == END_MARKER
}

/// The (begin, end) line indexes of every block of ours, in order.
pub fn find_blocks(doc: &LineDoc) -> Result<Vec<(usize, usize)>, BlockError> {
    let mut blocks = Vec::new();
    let mut open: Option<usize> = None;
    for (i, l) in doc.lines.iter().enumerate() {
        if is_begin(l) {
            if let Some(b) = open {
                return Err(BlockError::MissingEnd { line: b + 1 });
            }
            open = Some(i);
        } else if is_end(l) {
            match open.take() {
                Some(b) => blocks.push((b, i)),
                None => return Err(BlockError::MissingBegin { line: i + 1 }),
            }
        }
    }
    match open {
        Some(b) => Err(BlockError::MissingEnd { line: b + 1 }),
        None => Ok(blocks),
    }
}

/// The lines between the markers of our first block, if there is one.
pub fn block_body(doc: &LineDoc) -> Result<Option<Vec<String>>, BlockError> {
    Ok(find_blocks(doc)?.first().map(|&(b, e)| doc.lines[b + 1..e].iter().map(|l| l.text().into_owned()).collect()))
}

/// Removes every block of ours, restoring the bytes that were there before `append_block`.
pub fn strip_blocks(doc: &LineDoc) -> Result<LineDoc, BlockError> {
    let blocks = find_blocks(doc)?;
    let mut lines = doc.lines.clone();
    for &(b, e) in blocks.iter().rev() {
        let joined_without_newline = lines[e].ending == LineEnding::None;
        let joiner = lines[b].ending;
        lines.drain(b..=e);
        if joined_without_newline && b > 0 && b == lines.len() {
            // We added `joiner` after the original last line; take exactly those bytes off again.
            let prev = &mut lines[b - 1];
            let mut bytes = prev.body.clone();
            bytes.extend_from_slice(prev.ending.as_bytes());
            if let Some(orig) = bytes.strip_suffix(joiner.as_bytes()) {
                *prev = RawLine::new(orig, LineEnding::None);
            }
        }
    }
    Ok(LineDoc { lines })
}

/// Appends a block with `body` lines at the end. Expects a document without a block of ours
/// (strip first); an empty `body` adds nothing.
pub fn append_block(doc: &LineDoc, body: &[String]) -> LineDoc {
    if body.is_empty() {
        return doc.clone();
    }
    let eol = doc.preferred_ending();
    let mut out = doc.clone();
    let mut last_ending = eol;
    if let Some(last) = out.lines.last_mut() {
        if last.ending == LineEnding::None {
            last.ending = eol;
            last_ending = LineEnding::None;
        }
    }
    out.lines.push(RawLine::new(BEGIN_MARKER, eol));
    out.lines.extend(body.iter().map(|l| RawLine::new(l.as_bytes(), eol)));
    out.lines.push(RawLine::new(END_MARKER, last_ending));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(orig: &[u8]) {
        let doc = LineDoc::parse(orig);
        let added = append_block(&doc, &["a = b".into()]);
        let bytes = added.render();
        let reparsed = LineDoc::parse(&bytes);
        assert_eq!(block_body(&reparsed).unwrap(), Some(vec!["a = b".to_string()]));
        assert_eq!(
            strip_blocks(&reparsed).unwrap().render(),
            orig,
            "{orig:?} -> {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }

    #[test]
    fn removal_restores_every_kind_of_ending() {
        for orig in [&b""[..], b"\n", b"x", b"x\n", b"x\r\n", b"x\r", b"x\r\ny\r\nz", b"x\r\ny\r\nz\r", b"\r\n\r\nz"] {
            round_trip(orig);
        }
    }

    #[test]
    fn keeps_no_trailing_newline_and_crlf() {
        let out = append_block(&LineDoc::parse(b"x = 1\r\ny = 2"), &["a = b".into()]).render();
        assert_eq!(out, format!("x = 1\r\ny = 2\r\n{BEGIN_MARKER}\r\na = b\r\n{END_MARKER}").as_bytes());
    }

    #[test]
    fn unbalanced_markers_are_errors() {
        let d = LineDoc::parse(format!("{BEGIN_MARKER}\nx\n").as_bytes());
        assert_eq!(strip_blocks(&d), Err(BlockError::MissingEnd { line: 1 }));
        let d = LineDoc::parse(format!("x\n{END_MARKER}\n").as_bytes());
        assert_eq!(strip_blocks(&d), Err(BlockError::MissingBegin { line: 2 }));
    }
}
