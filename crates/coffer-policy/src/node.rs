//! A YAML/JSON document tree that remembers where each value came from.
//!
//! Policy errors must name the line and column of the offending value, so we
//! build our own tree from the YAML parser's events (JSON is parsed by the
//! same YAML 1.2 parser; it is a subset). Custom tags such as `!Ref` are kept
//! on the node for the intrinsic resolver. Aliases are expanded as copies,
//! within an allowance of values and bytes shared by the files of a load.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::set::MAX_DEPTH;

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

/// The size of a value once its aliases are expanded: how many values
/// (scalars, lists and mappings) it holds, how many bytes of text (scalars
/// and mapping keys), and how deep its lists and mappings nest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Size {
    values: usize,
    bytes: u64,
    depth: usize,
}

impl Size {
    fn scalar(text: &str) -> Self {
        Self {
            values: 1,
            bytes: text.len() as u64,
            depth: 0,
        }
    }

    fn collection() -> Self {
        Self {
            values: 1,
            bytes: 0,
            depth: 1,
        }
    }

    /// Adds an item (or a mapping key) of this collection.
    fn add(&mut self, item: Size) {
        self.values = self.values.saturating_add(item.values);
        self.bytes = self.bytes.saturating_add(item.bytes);
        self.depth = self.depth.max(item.depth.saturating_add(1));
    }
}

fn too_deep(pos: Pos) -> SyntaxError {
    SyntaxError {
        pos,
        message: format!("lists and mappings nest more than {MAX_DEPTH} levels deep here (aliases expanded); write the structure flatter"),
    }
}

/// What aliases may copy into the documents of one load, and what they
/// copied so far. Without aliases a document holds at most its file's text;
/// each alias is a deep copy of its anchor's value, so a few lines can copy
/// billions of values ("billion laughs") or a large string many times over.
/// One allowance serves every file of a load, so that many small files
/// cannot each copy the whole of it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AliasAllowance {
    max_values: usize,
    max_bytes: u64,
    copied_values: usize,
    copied_bytes: u64,
}

impl AliasAllowance {
    pub fn new(max_values: usize, max_bytes: u64) -> Self {
        Self {
            max_values,
            max_bytes,
            copied_values: 0,
            copied_bytes: 0,
        }
    }

    /// Counts a copy of `size` made at `pos`, refusing it before it is
    /// made when it would take the copies past the allowance.
    fn copy(&mut self, size: Size, pos: Pos) -> Result<(), SyntaxError> {
        let values = self.copied_values.saturating_add(size.values);
        let bytes = self.copied_bytes.saturating_add(size.bytes);
        let past = if bytes > self.max_bytes {
            format!("{} of text", byte_size(self.max_bytes))
        } else if values > self.max_values {
            format!("{} values", self.max_values)
        } else {
            (self.copied_values, self.copied_bytes) = (values, bytes);
            return Ok(());
        };
        Err(SyntaxError {
            pos,
            message: format!(
                "expanding this alias takes what aliases copy past {past}, the limit for the files loaded together; a policy file that expands this much is most likely an alias bomb (\"billion laughs\"); write the repeated parts out, or alias fewer or smaller values"
            ),
        })
    }
}

/// A size in bytes as people read it: `64 MiB`, `70.2 MiB`, `512 KiB`,
/// `1000 bytes`.
pub(crate) fn byte_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    match bytes {
        0 => "0 bytes".to_string(),
        b if b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= MIB => format!("{:.1} MiB", b as f64 / MIB as f64),
        b if b % KIB == 0 => format!("{} KiB", b / KIB),
        b if b >= KIB => format!("{:.1} KiB", b as f64 / KIB as f64),
        b => format!("{b} bytes"),
    }
}

enum Frame {
    Seq {
        pos: Pos,
        tag: Option<String>,
        anchor: usize,
        items: Vec<Node>,
        /// This collection's size, itself included.
        size: Size,
    },
    Map {
        pos: Pos,
        tag: Option<String>,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        /// Hashes of the keys so far: a duplicate key is found without
        /// comparing each key with every earlier one, which made a mapping
        /// of n keys (a template's Resources) cost n² comparisons.
        key_hashes: HashSet<u64>,
        pending_key: Option<Key>,
        size: Size,
    },
}

/// Parses one YAML (or JSON) document with the whole alias allowance of a
/// load; tests parse one document at a time.
#[cfg(test)]
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    use crate::set::{MAX_ALIAS_BYTES, MAX_ALIAS_VALUES};
    parse_within(
        text,
        &mut AliasAllowance::new(MAX_ALIAS_VALUES, MAX_ALIAS_BYTES),
    )
}

/// Parses one YAML (or JSON) document, its aliases copying within
/// `aliases` (shared by the documents of one load).
///
/// # Errors
/// On a syntax error, a duplicate mapping key, a complex (non-scalar) key, a
/// file holding more than one document, or aliases that copy more than
/// `aliases` allows.
pub(crate) fn parse_within(text: &str, aliases: &mut AliasAllowance) -> Result<Node, SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchored node with its size.
    let mut anchors: HashMap<usize, (Node, Size)> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut n_documents = 0;
    let key_hasher = RandomState::new();
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| SyntaxError {
            pos: Pos {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            message: format!("syntax error: {}", e.info()),
        })?;
        let pos = pos_of(&span);
        // The finished node, its anchor, and its size.
        let finished: Option<(Node, usize, Size)> = match event {
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
                let size = Size::scalar(&text);
                let value = match style {
                    ScalarStyle::Plain => plain_scalar(&text),
                    _ => Value::String(text.to_string()),
                };
                let mut node = Node::new(value, pos);
                node.tag = tag.map(|t| local_tag(&t.handle, &t.suffix));
                Some((node, anchor, size))
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((node, size)) => {
                    if stack.len().saturating_add(size.depth) > MAX_DEPTH {
                        return Err(too_deep(pos));
                    }
                    // Counted before the copy is made: the copy is the bomb.
                    aliases.copy(*size, pos)?;
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
                if stack.len() >= MAX_DEPTH {
                    return Err(too_deep(pos));
                }
                stack.push(Frame::Seq {
                    pos,
                    tag: tag.map(|t| local_tag(&t.handle, &t.suffix)),
                    anchor,
                    items: Vec::new(),
                    size: Size::collection(),
                });
                None
            }
            Event::MappingStart(anchor, tag) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(too_deep(pos));
                }
                stack.push(Frame::Map {
                    pos,
                    tag: tag.map(|t| local_tag(&t.handle, &t.suffix)),
                    anchor,
                    entries: Vec::new(),
                    key_hashes: HashSet::new(),
                    pending_key: None,
                    size: Size::collection(),
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
                size.add(node_size);
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                key_hashes,
                pending_key,
                size,
                ..
            }) => {
                size.add(node_size);
                match pending_key.take() {
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
                        // A hash seen before is a duplicate unless two keys
                        // collide: the earlier key is looked up to be sure.
                        if !key_hashes.insert(key_hasher.hash_one(&name)) {
                            if let Some((first, _)) = entries.iter().find(|(k, _)| k.name == name) {
                                return Err(SyntaxError {
                                    pos: node.pos,
                                    message: format!(
                                        "duplicate key {name:?} (first defined at line {}); each key may appear once",
                                        first.pos.line
                                    ),
                                });
                            }
                        }
                        *pending_key = Some(Key {
                            name,
                            pos: node.pos,
                        });
                    }
                    Some(key) => entries.push((key, node)),
                }
            }
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
    use crate::set::MAX_ALIAS_VALUES;

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
    fn aliases_may_not_copy_past_the_value_limit() {
        // 9^7 values (4.8 million): refused at the first alias past the
        // limit, on the last line, before the copies are made.
        let err = parse(&alias_bomb(6)).unwrap_err();
        assert_eq!(err.pos.line, 7);
        assert!(
            err.message.starts_with(
                "expanding this alias takes what aliases copy past 1000000 values, the limit for the files loaded together;"
            ),
            "{err}"
        );
        // Sharing the same anchor is fine while it stays small.
        let doc = parse(&alias_bomb(3)).unwrap();
        let Value::Seq(items) = &doc.get("a3").unwrap().value else {
            panic!()
        };
        assert_eq!(items.len(), 9);
    }

    /// A long string behind an anchor, aliased `n_aliases` times.
    fn long_string_aliased(n_bytes: usize, n_aliases: usize) -> String {
        let mut text = format!("a: &a {}\nb:\n", "x".repeat(n_bytes));
        for _ in 0..n_aliases {
            text.push_str("  - *a\n");
        }
        text
    }

    #[test]
    fn aliases_may_not_copy_past_the_byte_limit() {
        // Few values, many bytes: ten copies of 1000 bytes fit in 10,000;
        // the eleventh alias (line 13) is refused before it is copied.
        let mut aliases = AliasAllowance::new(MAX_ALIAS_VALUES, 10_000);
        parse_within(&long_string_aliased(1000, 10), &mut aliases).unwrap();
        let mut aliases = AliasAllowance::new(MAX_ALIAS_VALUES, 10_000);
        let err = parse_within(&long_string_aliased(1000, 11), &mut aliases).unwrap_err();
        assert_eq!(err.pos, Pos { line: 13, col: 5 });
        assert!(
            err.message.starts_with(
                "expanding this alias takes what aliases copy past 9.8 KiB of text, the limit for the files loaded together;"
            ),
            "{err}"
        );
        // Mapping keys are text too.
        let mut aliases = AliasAllowance::new(MAX_ALIAS_VALUES, 10);
        let err = parse_within("a: &a {abcdef: 1}\nb: *a\nc: *a\n", &mut aliases).unwrap_err();
        assert_eq!(err.pos.line, 3);
    }

    #[test]
    fn the_alias_allowance_is_shared_by_the_files_of_a_load() {
        let mut aliases = AliasAllowance::new(MAX_ALIAS_VALUES, 10_000);
        parse_within(&long_string_aliased(1000, 6), &mut aliases).unwrap();
        let err = parse_within(&long_string_aliased(1000, 6), &mut aliases).unwrap_err();
        assert_eq!(err.pos.line, 7);
    }

    #[test]
    fn lists_and_mappings_nest_at_most_max_depth_levels() {
        // Block sequences nest one level per "- ", all on one line.
        let nested = |levels: usize| format!("a:\n  {}x\n", "- ".repeat(levels - 1));
        parse(&nested(MAX_DEPTH)).unwrap();
        let err = parse(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(
            err.pos,
            Pos {
                line: 2,
                col: 3 + 2 * (MAX_DEPTH - 1)
            }
        );
        assert_eq!(
            err.message,
            "lists and mappings nest more than 128 levels deep here (aliases expanded); write the structure flatter"
        );
        // An alias counts the depth of what it copies.
        let deep_anchor = format!("a: &deep {}{}\n", "[".repeat(100), "]".repeat(100));
        parse(&format!("{deep_anchor}b: [[[[*deep]]]]\n")).unwrap();
        let err = parse(&format!(
            "{deep_anchor}b: {}*deep{}\n",
            "[".repeat(28),
            "]".repeat(28)
        ))
        .unwrap_err();
        assert_eq!(err.pos, Pos { line: 2, col: 32 });
    }

    #[test]
    fn duplicate_keys_are_found_in_large_mappings() {
        let mut text: String = (0..5000).map(|idx| format!("k{idx}: {idx}\n")).collect();
        text.push_str("k1234: again\n");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.pos.line, 5001);
        assert!(err.message.contains("first defined at line 1235"), "{err}");
    }

    #[test]
    fn byte_sizes_read_as_people_write_them() {
        assert_eq!(byte_size(64 * 1024 * 1024), "64 MiB");
        assert_eq!(byte_size(70 * 1024 * 1024 + 200 * 1024), "70.2 MiB");
        assert_eq!(byte_size(512 * 1024), "512 KiB");
        assert_eq!(byte_size(1000), "1000 bytes");
    }
}
