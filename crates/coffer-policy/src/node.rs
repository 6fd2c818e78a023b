//! A YAML/JSON document tree that remembers where each value came from.
//!
//! Policy errors must name the line and column of the offending value, so we
//! build our own tree from the YAML parser's events (JSON is parsed by the
//! same YAML 1.2 parser; it is a subset). Custom tags such as `!Ref` are kept
//! on the node for the intrinsic resolver.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Line and column, both 1-based.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A value with its position and optional local tag (`!Ref`, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
    /// The tag suffix for local tags (`Ref` for `!Ref`), if any.
    pub tag: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Numbers keep their text: CloudFormation treats most of them as strings.
    Number(String),
    String(String),
    Seq(Vec<Node>),
    /// Keys in document order; duplicates are rejected at parse time.
    Map(Vec<(Key, Node)>),
    /// `Ref: AWS::NoValue`: the enclosing property or item is removed.
    Absent,
    /// An intrinsic that could not be resolved (already reported): readers
    /// skip it silently so one mistake is not reported twice.
    Unresolved,
}

/// A mapping key with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

/// A syntax error in a YAML or JSON file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pos} {message}")]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

impl Node {
    pub fn new(value: Value, pos: Pos) -> Self {
        Self {
            value,
            pos,
            tag: None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) | Value::Number(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar's text as CloudFormation sees it: booleans and numbers are
    /// strings too (`Default: false`, `!Equals [!Ref Flag, true]`).
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) | Value::Number(s) => Some(s),
            Value::Bool(true) => Some("true"),
            Value::Bool(false) => Some("false"),
            _ => None,
        }
    }

    /// A short description of the value's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Absent => "AWS::NoValue",
            Value::Unresolved => "an unresolved value",
        }
    }

    /// Converts to JSON (used for free-form documents such as access
    /// policies). Numbers stay numbers where they parse; NoValue entries drop.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null | Value::Absent | Value::Unresolved => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => n
                .parse::<i64>()
                .map(serde_json::Value::from)
                .or_else(|_| n.parse::<f64>().map(serde_json::Value::from))
                .unwrap_or_else(|_| serde_json::Value::String(n.clone())),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => serde_json::Value::Array(
                items
                    .iter()
                    .filter(|n| n.value != Value::Absent)
                    .map(Node::to_json)
                    .collect(),
            ),
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .filter(|(_, n)| n.value != Value::Absent)
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ if looks_numeric(text) => Value::Number(text.to_string()),
        _ => Value::String(text.to_string()),
    }
}

fn looks_numeric(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() {
        return false;
    }
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    // Floats like 1.5 or 1e3; anything else (dates, versions "1.2.3") stays text.
    digits.parse::<f64>().is_ok() && !digits.contains(['i', 'I', 'n', 'N'])
}

/// How many values (scalars, lists and mappings) a document may expand to
/// through aliases. Real policy files hold a few thousand; a "billion
/// laughs" file of a few lines expands to billions, each a deep copy.
pub const MAX_VALUES: usize = 1_000_000;

enum Frame {
    Seq {
        pos: Pos,
        tag: Option<String>,
        anchor: usize,
        items: Vec<Node>,
        /// Values in this collection, itself included.
        size: usize,
    },
    Map {
        pos: Pos,
        tag: Option<String>,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
        size: usize,
    },
}

/// Parses one YAML (or JSON) document.
///
/// # Errors
/// On a syntax error, a duplicate mapping key, a complex (non-scalar) key, a
/// file holding more than one document, or one that expands to more than
/// [`MAX_VALUES`] values through aliases.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchored node with the number of values it holds.
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut n_documents = 0;
    // Values in the document so far, aliases expanded.
    let mut n_values: usize = 0;
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| SyntaxError {
            pos: Pos {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            message: format!("syntax error: {}", e.info()),
        })?;
        let pos = pos_of(&span);
        // The finished node, its anchor, and how many values it holds.
        let finished: Option<(Node, usize, usize)> = match event {
            Event::DocumentStart(_) => {
                n_documents += 1;
                if n_documents > 1 {
                    return Err(SyntaxError {
                        pos,
                        message: "a policy file holds one document; split the `---` documents into separate files".into(),
                    });
                }
                None
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = match style {
                    ScalarStyle::Plain => plain_scalar(&text),
                    _ => Value::String(text.to_string()),
                };
                let mut node = Node::new(value, pos);
                node.tag = tag.map(|t| local_tag(&t.handle, &t.suffix));
                n_values += 1;
                Some((node, anchor, 1))
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((node, size)) => {
                    // Counted before the copy is made: the copy is the bomb.
                    n_values = n_values.saturating_add(*size);
                    if n_values > MAX_VALUES {
                        return Err(SyntaxError {
                            pos,
                            message: format!(
                                "this document expands to more than {MAX_VALUES} values through aliases; a policy file that large is most likely an alias bomb (\"billion laughs\"); write the repeated parts out, or nest fewer aliases"
                            ),
                        });
                    }
                    let mut node = node.clone();
                    node.pos = pos;
                    Some((node, 0, *size))
                }
                None => {
                    return Err(SyntaxError {
                        pos,
                        message: "alias refers to an unknown anchor".into(),
                    });
                }
            },
            Event::SequenceStart(anchor, tag) => {
                n_values += 1;
                stack.push(Frame::Seq {
                    pos,
                    tag: tag.map(|t| local_tag(&t.handle, &t.suffix)),
                    anchor,
                    items: Vec::new(),
                    size: 1,
                });
                None
            }
            Event::MappingStart(anchor, tag) => {
                n_values += 1;
                stack.push(Frame::Map {
                    pos,
                    tag: tag.map(|t| local_tag(&t.handle, &t.suffix)),
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                    size: 1,
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    pos,
                    tag,
                    anchor,
                    items,
                    size,
                }) => Some((
                    Node {
                        value: Value::Seq(items),
                        pos,
                        tag,
                    },
                    anchor,
                    size,
                )),
                Some(Frame::Map {
                    pos,
                    tag,
                    anchor,
                    entries,
                    size,
                    ..
                }) => Some((
                    Node {
                        value: Value::Map(entries),
                        pos,
                        tag,
                    },
                    anchor,
                    size,
                )),
                None => None,
            },
            _ => None,
        };
        let Some((node, anchor, node_size)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, (node.clone(), node_size));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, size, .. }) => {
                *size = size.saturating_add(node_size);
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                pending_key,
                size,
                ..
            }) => match pending_key.take() {
                None => {
                    let name = match &node.value {
                        Value::String(s) | Value::Number(s) => s.clone(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => String::new(),
                        _ => {
                            return Err(SyntaxError {
                                pos: node.pos,
                                message: "mapping keys must be plain strings".into(),
                            })
                        }
                    };
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.name == name) {
                        return Err(SyntaxError {
                            pos: node.pos,
                            message: format!(
                                "duplicate key {name:?} (first defined at line {}); each key may appear once",
                                first.pos.line
                            ),
                        });
                    }
                    *pending_key = Some(Key {
                        name,
                        pos: node.pos,
                    });
                }
                Some(key) => {
                    *size = size.saturating_add(node_size);
                    entries.push((key, node));
                }
            },
        }
    }
    Ok(root.unwrap_or_else(|| Node::new(Value::Null, Pos { line: 1, col: 1 })))
}

/// `!Ref` → `Ref`; core-schema tags (`!!str`) are not intrinsics → None.
fn local_tag(handle: &str, suffix: &str) -> String {
    if handle == "!" {
        suffix.to_string()
    } else {
        format!("{handle}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_tags_are_kept() {
        let doc = parse("a:\n  b: !Ref Thing\n  c: [1, \"2\", x]\n").unwrap();
        let b = doc.get("a").unwrap().get("b").unwrap();
        assert_eq!(b.pos, Pos { line: 2, col: 6 });
        assert_eq!(b.tag.as_deref(), Some("Ref"));
        assert_eq!(b.as_str(), Some("Thing"));
        let c = doc.get("a").unwrap().get("c").unwrap();
        let Value::Seq(items) = &c.value else {
            panic!()
        };
        assert_eq!(items[0].value, Value::Number("1".into()));
        assert_eq!(items[1].value, Value::String("2".into()));
        assert_eq!(items[2].pos, Pos { line: 3, col: 15 });
    }

    #[test]
    fn json_parses_with_positions() {
        let doc = parse(
            "{\n  \"Resources\": {\n    \"V\": {\"Type\": \"AWS::Backup::BackupVault\"}\n  }\n}",
        )
        .unwrap();
        let t = doc
            .get("Resources")
            .unwrap()
            .get("V")
            .unwrap()
            .get("Type")
            .unwrap();
        assert_eq!(t.pos.line, 3);
        assert_eq!(t.as_str(), Some("AWS::Backup::BackupVault"));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.pos.line, 3);
        assert!(err.message.contains("first defined at line 1"));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1);
        assert!(err.message.starts_with("syntax error"));
    }

    #[test]
    fn anchors_and_aliases_expand() {
        let doc = parse("x: &l {a: 1}\ny: *l\n").unwrap();
        assert_eq!(doc.get("y").unwrap().get("a").unwrap().as_str(), Some("1"));
    }

    /// Nine aliases of the level above on each of `levels` levels.
    fn alias_bomb(levels: usize) -> String {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..=levels {
            let above = format!("*a{}", level - 1);
            let items = [above.as_str(); 9].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        text
    }

    #[test]
    fn aliases_may_not_expand_past_the_limit() {
        // 9^7 values (4.8 million): refused at the first alias past the
        // limit, on the last line, before the copies are made.
        let err = parse(&alias_bomb(6)).unwrap_err();
        assert_eq!(err.pos.line, 7);
        assert!(
            err.message
                .starts_with("this document expands to more than 1000000 values through aliases;"),
            "{err}"
        );
        // Sharing the same anchor is fine while it stays small.
        let doc = parse(&alias_bomb(3)).unwrap();
        let Value::Seq(items) = &doc.get("a3").unwrap().value else {
            panic!()
        };
        assert_eq!(items.len(), 9);
    }
}
