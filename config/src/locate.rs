//! Maps key paths such as `devices[1].address` to line numbers in the original text.

use toml_edit::{Document, Item, Table, TableLike, Value};

use crate::Problem;

/// A parsed document that remembers where each key was written.
pub(crate) struct Located {
    doc: Document<String>,
    line_starts: Vec<usize>,
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

impl Located {
    /// Parses TOML, turning a syntax error into a [`Problem`] with its line.
    pub(crate) fn parse(text: &str) -> Result<Located, Problem> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect::<Vec<_>>();
        match Document::parse(text.to_string()) {
            Ok(doc) => Ok(Located { doc, line_starts }),
            Err(e) => {
                let line = e.span().map(|s| line_of_offset(&line_starts, s.start));
                Err(Problem {
                    path: String::new(),
                    line,
                    message: format!("not valid TOML: {}", e.message().trim()),
                })
            }
        }
    }

    /// The 1-based line of the deepest part of `path` that exists in the document.
    pub(crate) fn line_of(&self, path: &str) -> Option<usize> {
        let offset = self.offset_of(path)?;
        Some(line_of_offset(&self.line_starts, offset))
    }

    fn offset_of(&self, path: &str) -> Option<usize> {
        let mut best = None;
        let mut node = Node::Item(self.doc.as_item());
        for seg in segments(path) {
            let Some((span, next)) = node.child(&seg) else {
                break;
            };
            best = span.or(best);
            node = next;
        }
        best
    }
}

/// A position in the document while walking a key path.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
    Table(&'a Table),
}

impl<'a> Node<'a> {
    fn table_like(self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(Item::Value(v)) | Node::Value(v) => {
                v.as_inline_table().map(|t| t as &dyn TableLike)
            }
            Node::Item(i) => i.as_table_like(),
            Node::Table(t) => Some(t),
        }
    }

    /// The child named by `seg`, with the byte offset where it is written.
    fn child(self, seg: &Segment<'_>) -> Option<(Option<usize>, Node<'a>)> {
        match *seg {
            Segment::Key(k) => {
                let (key, item) = self.table_like()?.get_key_value(k)?;
                let next = match item {
                    Item::Value(v) => Node::Value(v),
                    other => Node::Item(other),
                };
                Some((key.span().map(|s| s.start), next))
            }
            Segment::Index(n) => match self {
                Node::Item(Item::ArrayOfTables(arr)) => {
                    let t = arr.get(n)?;
                    Some((t.span().map(|s| s.start), Node::Table(t)))
                }
                Node::Item(Item::Value(v)) | Node::Value(v) => {
                    let v = v.as_array()?.get(n)?;
                    Some((v.span().map(|s| s.start), Node::Value(v)))
                }
                _ => None,
            },
        }
    }
}

fn segments(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('.').filter(|s| !s.is_empty()).flat_map(|part| {
        let mut out = Vec::new();
        let (name, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Segment::Key(name));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            if let Ok(n) = idx.trim_end_matches(']').parse() {
                out.push(Segment::Index(n));
            }
        }
        out
    })
}

fn line_of_offset(line_starts: &[usize], offset: usize) -> usize {
    match line_starts.binary_search(&offset) {
        Ok(i) => i + 1,
        Err(i) => i,
    }
}
