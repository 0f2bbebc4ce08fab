//! Bytes <-> lines without loss: every line keeps its body and its own terminator (LF, CRLF or none).

/// How one line ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnding {
    /// `\n`
    Lf,
    /// `\r\n`
    CrLf,
    /// The last line of a file that does not end with a newline.
    None,
}

impl LineEnding {
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnding::Lf => b"\n",
            LineEnding::CrLf => b"\r\n",
            LineEnding::None => b"",
        }
    }
}

/// One line: its bytes without the terminator, and the terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    pub body: Vec<u8>,
    pub ending: LineEnding,
}

impl RawLine {
    pub fn new(body: impl Into<Vec<u8>>, ending: LineEnding) -> RawLine {
        RawLine { body: body.into(), ending }
    }

    /// The body as text (invalid UTF-8 replaced; only for display and comparisons).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

/// A file as a list of lines. `render(parse(b)) == b` for every byte string `b`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineDoc {
    pub lines: Vec<RawLine>,
}

impl LineDoc {
    /// Splits on `\n` (as Nix does); a `\r` right before it makes the ending CRLF. A file that does
    /// not end with a newline has a last line with `LineEnding::None`; an empty file has no lines.
    pub fn parse(bytes: &[u8]) -> LineDoc {
        let mut lines = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (body, ending) = match rest[..i].strip_suffix(b"\r") {
                        Some(body) => (body, LineEnding::CrLf),
                        None => (&rest[..i], LineEnding::Lf),
                    };
                    lines.push(RawLine::new(body, ending));
                    rest = &rest[i + 1..];
                }
                None => {
                    lines.push(RawLine::new(rest, LineEnding::None));
                    rest = &[];
                }
            }
        }
        LineDoc { lines }
    }

    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.lines.iter().map(|l| l.body.len() + 2).sum());
        for l in &self.lines {
            out.extend_from_slice(&l.body);
            out.extend_from_slice(l.ending.as_bytes());
        }
        out
    }

    /// The ending new lines should get: CRLF when most terminated lines use it, else LF.
    pub fn preferred_ending(&self) -> LineEnding {
        let crlf = self.lines.iter().filter(|l| l.ending == LineEnding::CrLf).count();
        let lf = self.lines.iter().filter(|l| l.ending == LineEnding::Lf).count();
        if crlf > lf {
            LineEnding::CrLf
        } else {
            LineEnding::Lf
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_odd_inputs() {
        for b in [&b""[..], b"\n", b"a", b"a\n", b"a\r\n", b"a\r", b"\r\n\r\n", b"a\n\nb", b"\r", b"x\r\ry\n"] {
            assert_eq!(LineDoc::parse(b).render(), b, "{b:?}");
        }
    }

    #[test]
    fn endings_are_per_line() {
        let d = LineDoc::parse(b"a\r\nb\nc");
        let endings: Vec<_> = d.lines.iter().map(|l| l.ending).collect();
        assert_eq!(endings, [LineEnding::CrLf, LineEnding::Lf, LineEnding::None]);
        assert_eq!(LineDoc::parse(b"a\r\nb\r\nc\n").preferred_ending(), LineEnding::CrLf);
        assert_eq!(LineDoc::parse(b"a\r\nb\n").preferred_ending(), LineEnding::Lf);
    }
}
