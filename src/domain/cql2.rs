//! CQL2 text (OGC 21-065r2), the filter language of OGC API – Features Part 3: a hand-written
//! recursive-descent parser from text to a typed [`Expr`], checked against a list of queryables as it is read.
//! `db::ogc` turns an `Expr` into SQL with every value a bound parameter; this module only reads.
//!
//! What is read: the Basic CQL2 class (comparisons `= <> < <= > >=` between properties and literals, `AND`,
//! `OR`, `NOT`, parentheses, `IS [NOT] NULL`, `TRUE`/`FALSE`) and the advanced comparison operators
//! (`[NOT] LIKE` with `%` and `_`, `[NOT] BETWEEN`, `[NOT] IN (…)`). Literals: strings in single quotes (`''`
//! is a quote), numbers, booleans, `DATE('2026-11-01')` and `TIMESTAMP('2026-11-01T08:00:00Z')`. Keywords are
//! case-insensitive, property names are not (they may be double-quoted). Precedence, loosest first: `OR`,
//! `AND`, `NOT`, then a predicate.
//!
//! Spatial (the Basic Spatial Functions class, and a little more): `S_INTERSECTS(geometry, …)` with a
//! `POINT(x y)`, `BBOX(minx, miny, maxx, maxy)`, `LINESTRING(…)` or `POLYGON((…), …)` in CRS84 (lon/lat
//! degrees), either argument first. Each coordinate pair is a term.
//!
//! Types are checked as in the standard: a property is compared with a value of its own type only (a date with
//! `DATE(…)`, a timestamp with `TIMESTAMP(…)`), booleans only with `=`/`<>`, `LIKE` applies to text. An error
//! says where (the character, from 1) and what was expected.
//!
//! Limits: the text is at most [`TEXT_BYTES_MAX`] bytes, parentheses and `NOT` nest at most [`DEPTH_MAX`]
//! deep, and a filter has at most [`TERMS_MAX`] terms (predicates and values).

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

pub const TEXT_BYTES_MAX: usize = 4096;
pub const DEPTH_MAX: usize = 32;
pub const TERMS_MAX: usize = 200;

/// The type of a queryable or of a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Text,
    Number,
    Boolean,
    Date,
    Timestamp,
    Geometry,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Text => "text",
            Type::Number => "a number",
            Type::Boolean => "a boolean",
            Type::Date => "a date",
            Type::Timestamp => "a timestamp",
            Type::Geometry => "a geometry",
        }
    }

    /// How to write a literal of this type, for error messages.
    fn how(self) -> &'static str {
        match self {
            Type::Text => "a string in single quotes, e.g. 'closed'",
            Type::Number => "a number, e.g. 2",
            Type::Boolean => "TRUE or FALSE",
            Type::Date => "DATE('2026-11-01')",
            Type::Timestamp => "TIMESTAMP('2026-11-01T08:00:00Z')",
            Type::Geometry => "S_INTERSECTS(geometry, BBOX(120.5, 31.8, 120.6, 31.9))",
        }
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
    Boolean(bool),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
}

impl Value {
    pub fn type_of(&self) -> Type {
        match self {
            Value::Text(_) => Type::Text,
            Value::Number(_) => Type::Number,
            Value::Boolean(_) => Type::Boolean,
            Value::Date(_) => Type::Date,
            Value::Timestamp(_) => Type::Timestamp,
        }
    }
}

/// A geometry literal in CRS84: longitude, latitude in degrees.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    Point([f64; 2]),
    LineString(Vec<[f64; 2]>),
    /// The outer ring first, then any holes; every ring closed.
    Polygon(Vec<Vec<[f64; 2]>>),
    /// minlon, minlat, maxlon, maxlat.
    Bbox([f64; 4]),
}

impl Geometry {
    /// Well-known text, written from the numbers (never from the caller's text).
    pub fn wkt(&self) -> String {
        let points = |ps: &[[f64; 2]]| ps.iter().map(|[x, y]| format!("{x} {y}")).collect::<Vec<_>>().join(", ");
        match self {
            Geometry::Point([x, y]) => format!("POINT({x} {y})"),
            Geometry::LineString(ps) => format!("LINESTRING({})", points(ps)),
            Geometry::Polygon(rings) => {
                let rings: Vec<String> = rings.iter().map(|r| format!("({})", points(r))).collect();
                format!("POLYGON({})", rings.join(", "))
            }
            Geometry::Bbox([a, b, c, d]) => {
                format!("POLYGON(({a} {b}, {c} {b}, {c} {d}, {a} {d}, {a} {b}))")
            }
        }
    }
}

/// One side of a comparison. A property is the queryable's own `&'static str`, never the caller's text.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Property(&'static str),
    Value(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Eq => "=",
            Comparison::Ne => "<>",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
        }
    }
}

/// A parsed, type-checked filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `TRUE` or `FALSE` standing as a predicate.
    Literal(bool),
    Compare(Operand, Comparison, Operand),
    Like {
        property: &'static str,
        pattern: String,
        negated: bool,
    },
    Between {
        property: &'static str,
        low: Value,
        high: Value,
        negated: bool,
    },
    In {
        property: &'static str,
        values: Vec<Value>,
        negated: bool,
    },
    IsNull {
        property: &'static str,
        negated: bool,
    },
    Intersects {
        property: &'static str,
        geometry: Geometry,
    },
}

/// What went wrong and where: `position` counts characters from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.position, self.message)
    }
}

impl std::error::Error for Error {}

/// Reads `text` against `queryables` (name and type of each property a filter may name).
pub fn parse(text: &str, queryables: &[(&'static str, Type)]) -> Result<Expr, Error> {
    if text.len() > TEXT_BYTES_MAX {
        return Err(Error { position: 1, message: format!("the filter is longer than {TEXT_BYTES_MAX} bytes") });
    }
    // PostgreSQL's text cannot hold NUL: refused here rather than failing the statement.
    if let Some(at) = text.find('\0') {
        return Err(Error { position: text[..at].chars().count() + 1, message: "a NUL character".into() });
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser { text, tokens, next: 0, depth: 0, terms: 0, queryables };
    let expr = parser.or()?;
    match parser.peek() {
        Tok::End => Ok(expr),
        _ => Err(parser.expected("AND, OR or the end of the filter")),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A name or keyword; `quoted` when written in double quotes (then never a keyword).
    Word {
        text: String,
        quoted: bool,
    },
    Str(String),
    Number(f64),
    Op(Comparison),
    LParen,
    RParen,
    Comma,
    End,
}

/// A token and the byte offset where it starts.
type Spanned = (Tok, usize);

fn tokenize(text: &str) -> Result<Vec<Spanned>, Error> {
    let bytes = text.as_bytes();
    let err = |at: usize, message: String| Error { position: text[..at].chars().count() + 1, message };
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => {
                tokens.push((Tok::LParen, start));
                i += 1;
            }
            b')' => {
                tokens.push((Tok::RParen, start));
                i += 1;
            }
            b',' => {
                tokens.push((Tok::Comma, start));
                i += 1;
            }
            b'=' => {
                tokens.push((Tok::Op(Comparison::Eq), start));
                i += 1;
            }
            b'<' | b'>' => {
                let (op, len) = match (c, bytes.get(i + 1)) {
                    (b'<', Some(b'>')) => (Comparison::Ne, 2),
                    (b'<', Some(b'=')) => (Comparison::Le, 2),
                    (b'>', Some(b'=')) => (Comparison::Ge, 2),
                    (b'<', _) => (Comparison::Lt, 1),
                    _ => (Comparison::Gt, 1),
                };
                tokens.push((Tok::Op(op), start));
                i += len;
            }
            b'\'' => {
                // A string: '' stands for one quote. The text is UTF-8 and ' is ASCII, so byte steps are safe.
                let mut value = String::new();
                let mut j = i + 1;
                loop {
                    match text[j..].find('\'') {
                        None => return Err(err(start, "a string is not closed: ' expected".into())),
                        Some(k) => {
                            value.push_str(&text[j..j + k]);
                            j += k + 1;
                            if bytes.get(j) == Some(&b'\'') {
                                value.push('\'');
                                j += 1;
                            } else {
                                break;
                            }
                        }
                    }
                }
                tokens.push((Tok::Str(value), start));
                i = j;
            }
            b'"' => {
                let Some(k) = text[i + 1..].find('"') else {
                    return Err(err(start, "a quoted property name is not closed: \" expected".into()));
                };
                tokens.push((Tok::Word { text: text[i + 1..i + 1 + k].to_string(), quoted: true }, start));
                i += k + 2;
            }
            b'0'..=b'9' | b'.' | b'-' | b'+' => {
                let mut j = i;
                if matches!(c, b'-' | b'+') {
                    j += 1;
                }
                let digits_from = j;
                while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
                    j += 1;
                }
                if j < bytes.len() && matches!(bytes[j], b'e' | b'E') {
                    j += 1;
                    if j < bytes.len() && matches!(bytes[j], b'-' | b'+') {
                        j += 1;
                    }
                    while j < bytes.len() && bytes[j].is_ascii_digit() {
                        j += 1;
                    }
                }
                let number = text[i..j].parse::<f64>().ok().filter(|n| n.is_finite() && j > digits_from);
                match number {
                    Some(n) => tokens.push((Tok::Number(n), start)),
                    None => return Err(err(start, format!("{:?} is not a number", &text[i..j.max(i + 1)]))),
                }
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i;
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || matches!(bytes[j], b'_' | b'.' | b':')) {
                    j += 1;
                }
                tokens.push((Tok::Word { text: text[i..j].to_string(), quoted: false }, start));
                i = j;
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(err(start, format!("unexpected character {ch:?}")));
            }
        }
    }
    tokens.push((Tok::End, text.len()));
    Ok(tokens)
}

// ---------------------------------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Spanned>,
    next: usize,
    depth: usize,
    terms: usize,
    queryables: &'a [(&'static str, Type)],
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.next].0
    }

    fn advance(&mut self) -> Tok {
        let tok = self.tokens[self.next].0.clone();
        if tok != Tok::End {
            self.next += 1;
        }
        tok
    }

    /// The character position (from 1) of the token `index`.
    fn position_of(&self, index: usize) -> usize {
        self.text[..self.tokens[index].1].chars().count() + 1
    }

    fn error_at(&self, index: usize, message: String) -> Error {
        Error { position: self.position_of(index), message }
    }

    /// "expected X, found Y" at the next token.
    fn expected(&self, what: &str) -> Error {
        let found = match self.peek() {
            Tok::End => "the end of the filter".to_string(),
            Tok::Word { text, quoted: false } => text.clone(),
            Tok::Word { text, quoted: true } => format!("\"{text}\""),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Number(n) => n.to_string(),
            Tok::Op(op) => op.as_str().to_string(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::Comma => ",".into(),
        };
        self.error_at(self.next, format!("expected {what}, found {found}"))
    }

    /// Whether the next token is the keyword `word` (any case, not quoted).
    fn at_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Word { text, quoted: false } if text.eq_ignore_ascii_case(word))
    }

    fn keyword(&mut self, word: &str) -> bool {
        let found = self.at_keyword(word);
        if found {
            self.advance();
        }
        found
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), Error> {
        if *self.peek() == tok {
            self.advance();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn term(&mut self) -> Result<(), Error> {
        self.terms += 1;
        if self.terms > TERMS_MAX {
            return Err(self.error_at(self.next.saturating_sub(1), format!("more than {TERMS_MAX} terms")));
        }
        Ok(())
    }

    fn deeper(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > DEPTH_MAX {
            return Err(self.error_at(self.next, format!("nested more than {DEPTH_MAX} deep")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, Error> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, Error> {
        let mut left = self.not()?;
        while self.keyword("AND") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, Error> {
        if self.keyword("NOT") {
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, Error> {
        if *self.peek() == Tok::LParen {
            self.advance();
            self.deeper()?;
            let inner = self.or()?;
            self.depth -= 1;
            self.expect(Tok::RParen, "AND, OR or )")?;
            return Ok(inner);
        }
        self.predicate()
    }

    /// The type of a property named by the caller, or an error listing the queryables.
    fn property(&self, name: &str, at: usize) -> Result<(&'static str, Type), Error> {
        self.queryables.iter().find(|(q, _)| *q == name).copied().ok_or_else(|| {
            let names: Vec<&str> = self.queryables.iter().map(|(q, _)| *q).collect();
            self.error_at(at, format!("unknown property {name:?}; the queryables are {}", names.join(", ")))
        })
    }

    /// A property or a literal: the left side of a predicate or the right side of a comparison.
    fn operand(&mut self) -> Result<(Operand, Type), Error> {
        let at = self.next;
        if let Tok::Word { text, quoted } = self.peek().clone() {
            let keyword =
                !quoted && ["TRUE", "FALSE", "DATE", "TIMESTAMP"].iter().any(|k| text.eq_ignore_ascii_case(k));
            if !keyword {
                self.advance();
                let (name, ty) = self.property(&text, at)?;
                return Ok((Operand::Property(name), ty));
            }
        }
        let value = self.value("a property or a literal")?;
        let ty = value.type_of();
        Ok((Operand::Value(value), ty))
    }

    /// A literal: string, number, boolean, DATE(…) or TIMESTAMP(…).
    fn value(&mut self, what: &str) -> Result<Value, Error> {
        let value = match self.peek().clone() {
            Tok::Str(s) => {
                self.advance();
                Value::Text(s)
            }
            Tok::Number(n) => {
                self.advance();
                Value::Number(n)
            }
            Tok::Word { text, quoted: false } if text.eq_ignore_ascii_case("TRUE") => {
                self.advance();
                Value::Boolean(true)
            }
            Tok::Word { text, quoted: false } if text.eq_ignore_ascii_case("FALSE") => {
                self.advance();
                Value::Boolean(false)
            }
            Tok::Word { text, quoted: false }
                if text.eq_ignore_ascii_case("DATE") || text.eq_ignore_ascii_case("TIMESTAMP") =>
            {
                self.advance();
                let date = text.eq_ignore_ascii_case("DATE");
                self.expect(Tok::LParen, "( after DATE or TIMESTAMP")?;
                let inner = self.next;
                let Tok::Str(s) = self.peek().clone() else {
                    return Err(self.expected("a quoted date or timestamp"));
                };
                self.advance();
                let value = if date {
                    parse_date(&s).map(Value::Date).ok_or_else(|| {
                        self.error_at(inner, format!("'{s}' is not a date: DATE('YYYY-MM-DD') expected"))
                    })?
                } else {
                    parse_timestamp(&s).map(Value::Timestamp).ok_or_else(|| {
                        self.error_at(
                            inner,
                            format!("'{s}' is not a timestamp: TIMESTAMP('2026-11-01T08:00:00Z') (RFC 3339) expected"),
                        )
                    })?
                };
                self.expect(Tok::RParen, ")")?;
                value
            }
            _ => return Err(self.expected(what)),
        };
        self.term()?;
        Ok(value)
    }

    /// A value that must have the property's type.
    fn typed_value(&mut self, property: &'static str, ty: Type) -> Result<Value, Error> {
        let at = self.next;
        let value = self.value(ty.how())?;
        if value.type_of() != ty {
            return Err(self.mismatch(at, property, ty, value.type_of()));
        }
        Ok(value)
    }

    fn mismatch(&self, at: usize, property: &str, ty: Type, found: Type) -> Error {
        self.error_at(at, format!("{property} is {}: compare it with {}, not {}", ty.name(), ty.how(), found.name()))
    }

    fn predicate(&mut self) -> Result<Expr, Error> {
        let start = self.next;
        if self.at_keyword("S_INTERSECTS") && self.tokens[self.next + 1].0 == Tok::LParen {
            return self.intersects();
        }
        // TRUE or FALSE alone is a predicate; followed by a comparison it is a value.
        if (self.at_keyword("TRUE") || self.at_keyword("FALSE")) && !matches!(self.tokens[self.next + 1].0, Tok::Op(_))
        {
            let value = self.at_keyword("TRUE");
            self.advance();
            self.term()?;
            return Ok(Expr::Literal(value));
        }
        let (left, left_ty) = match self.peek() {
            Tok::Word { .. } | Tok::Str(_) | Tok::Number(_) => self.operand()?,
            _ => return Err(self.expected("a property, a literal, NOT or (")),
        };
        self.term()?;
        if let Tok::Op(op) = *self.peek() {
            self.advance();
            let right_at = self.next;
            let (right, right_ty) = match self.peek() {
                Tok::Word { .. } | Tok::Str(_) | Tok::Number(_) => self.operand()?,
                _ => return Err(self.expected("a property or a literal")),
            };
            if left_ty != right_ty {
                // Name the property whose type was not respected.
                return Err(match (&left, &right) {
                    (Operand::Property(p), _) => self.mismatch(right_at, p, left_ty, right_ty),
                    (_, Operand::Property(p)) => self.mismatch(start, p, right_ty, left_ty),
                    _ => self
                        .error_at(right_at, format!("{} cannot be compared with {}", left_ty.name(), right_ty.name())),
                });
            }
            if left_ty == Type::Boolean && !matches!(op, Comparison::Eq | Comparison::Ne) {
                return Err(self.error_at(right_at - 1, "booleans are compared with = or <> only".into()));
            }
            return Ok(Expr::Compare(left, op, right));
        }
        let Operand::Property(property) = left else {
            return Err(self.expected("a comparison operator (=, <>, <, <=, >, >=)"));
        };
        if self.keyword("IS") {
            let negated = self.keyword("NOT");
            if !self.keyword("NULL") {
                return Err(self.expected("NULL"));
            }
            return Ok(Expr::IsNull { property, negated });
        }
        let negated = self.keyword("NOT");
        if self.keyword("LIKE") {
            if left_ty != Type::Text {
                return Err(
                    self.error_at(self.next - 1, format!("LIKE applies to text; {property} is {}", left_ty.name()))
                );
            }
            let Tok::Str(pattern) = self.peek().clone() else {
                return Err(self.expected("a pattern in single quotes after LIKE"));
            };
            // A backslash escapes the next character (as in PostgreSQL), so it cannot be the last one.
            if pattern.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1 {
                return Err(self.error_at(self.next, "a LIKE pattern cannot end with its escape character \\".into()));
            }
            self.advance();
            self.term()?;
            return Ok(Expr::Like { property, pattern, negated });
        }
        if self.keyword("BETWEEN") {
            let low = self.typed_value(property, left_ty)?;
            if !self.keyword("AND") {
                return Err(self.expected("AND between the two bounds of BETWEEN"));
            }
            let high = self.typed_value(property, left_ty)?;
            return Ok(Expr::Between { property, low, high, negated });
        }
        if self.keyword("IN") {
            self.expect(Tok::LParen, "( after IN")?;
            let mut values = vec![self.typed_value(property, left_ty)?];
            while *self.peek() == Tok::Comma {
                self.advance();
                values.push(self.typed_value(property, left_ty)?);
            }
            self.expect(Tok::RParen, ", or ) in the IN list")?;
            return Ok(Expr::In { property, values, negated });
        }
        Err(self.expected(if negated {
            "LIKE, BETWEEN or IN after NOT"
        } else {
            "a comparison operator (=, <>, <, <=, >, >=), LIKE, BETWEEN, IN or IS"
        }))
    }
}

impl Parser<'_> {
    /// `S_INTERSECTS(a, b)`: one argument the geometry property, the other a geometry literal.
    fn intersects(&mut self) -> Result<Expr, Error> {
        self.advance();
        self.advance();
        let first = self.spatial_argument()?;
        self.expect(Tok::Comma, ", between the arguments of S_INTERSECTS")?;
        let second = self.spatial_argument()?;
        self.expect(Tok::RParen, ") after the arguments of S_INTERSECTS")?;
        match (first, second) {
            (Ok(property), Err(geometry)) | (Err(geometry), Ok(property)) => {
                Ok(Expr::Intersects { property, geometry })
            }
            (Ok(_), Ok(_)) => Err(self.error_at(self.next - 1, "S_INTERSECTS takes one geometry literal".into())),
            (Err(_), Err(_)) => Err(self.error_at(self.next - 1, "S_INTERSECTS takes the geometry property".into())),
        }
    }

    /// A geometry property (`Ok`) or a geometry literal (`Err`).
    fn spatial_argument(&mut self) -> Result<Result<&'static str, Geometry>, Error> {
        let at = self.next;
        let Tok::Word { text, quoted } = self.peek().clone() else {
            return Err(self.expected("the geometry property or POINT, LINESTRING, POLYGON or BBOX"));
        };
        let literal = |w: &str| !quoted && text.eq_ignore_ascii_case(w);
        if literal("BBOX") {
            self.advance();
            self.expect(Tok::LParen, "( after BBOX")?;
            let mut numbers = vec![self.number()?];
            while *self.peek() == Tok::Comma {
                self.advance();
                numbers.push(self.number()?);
            }
            self.expect(Tok::RParen, ", or ) in BBOX")?;
            let &[a, b, c, d] = numbers.as_slice() else {
                return Err(self.error_at(at, "BBOX takes four numbers: minlon, minlat, maxlon, maxlat".into()));
            };
            if !(a <= c && b <= d) {
                return Err(self.error_at(at, "BBOX is minlon, minlat, maxlon, maxlat: min after max".into()));
            }
            self.position(at, [a, b])?;
            self.position(at, [c, d])?;
            self.term()?;
            return Ok(Err(Geometry::Bbox([a, b, c, d])));
        }
        if literal("POINT") {
            self.advance();
            self.expect(Tok::LParen, "( after POINT")?;
            let point = self.point(at)?;
            self.expect(Tok::RParen, ") after the point's two coordinates")?;
            return Ok(Err(Geometry::Point(point)));
        }
        if literal("LINESTRING") {
            self.advance();
            let line = self.points(at)?;
            if line.len() < 2 {
                return Err(self.error_at(at, "a LINESTRING has at least two points".into()));
            }
            return Ok(Err(Geometry::LineString(line)));
        }
        if literal("POLYGON") {
            self.advance();
            self.expect(Tok::LParen, "( after POLYGON")?;
            let mut rings = Vec::new();
            loop {
                let ring_at = self.next;
                let ring = self.points(ring_at)?;
                if ring.len() < 4 || ring.first() != ring.last() {
                    return Err(self.error_at(
                        ring_at,
                        "a POLYGON's ring has at least four points and ends where it starts".into(),
                    ));
                }
                rings.push(ring);
                if *self.peek() != Tok::Comma {
                    break;
                }
                self.advance();
            }
            self.expect(Tok::RParen, ", or ) after a POLYGON's ring")?;
            return Ok(Err(Geometry::Polygon(rings)));
        }
        self.advance();
        let (name, ty) = self.property(&text, at)?;
        if ty != Type::Geometry {
            return Err(self.error_at(at, format!("{name} is {}; S_INTERSECTS takes a geometry", ty.name())));
        }
        Ok(Ok(name))
    }

    fn number(&mut self) -> Result<f64, Error> {
        match *self.peek() {
            Tok::Number(n) => {
                self.advance();
                Ok(n)
            }
            _ => Err(self.expected("a number")),
        }
    }

    /// `x y`: longitude and latitude, one term.
    fn point(&mut self, at: usize) -> Result<[f64; 2], Error> {
        let point = [self.number()?, self.number()?];
        self.position(at, point)?;
        self.term()?;
        Ok(point)
    }

    /// `(x y, x y, …)`.
    fn points(&mut self, at: usize) -> Result<Vec<[f64; 2]>, Error> {
        self.expect(Tok::LParen, "( before the points")?;
        let mut points = vec![self.point(at)?];
        while *self.peek() == Tok::Comma {
            self.advance();
            points.push(self.point(at)?);
        }
        self.expect(Tok::RParen, ", or ) after a point")?;
        Ok(points)
    }

    fn position(&self, at: usize, [x, y]: [f64; 2]) -> Result<(), Error> {
        if (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y) {
            Ok(())
        } else {
            Err(self.error_at(at, format!("{x} {y} is not a longitude and latitude in degrees (CRS84)")))
        }
    }
}

/// A date `YYYY-MM-DD` with a year from 1 to 9999 (PostgreSQL takes no date before 4713 BC).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    use chrono::Datelike;
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().filter(|d| (1..=9999).contains(&d.year()))
}

/// An RFC 3339 timestamp (with its offset), as UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

// ---------------------------------------------------------------------------------------------------------
// Writing back: every node parenthesised, so that reading the text again gives the same tree.

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Value::Number(n) => write!(f, "{n}"),
            Value::Boolean(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Value::Date(d) => write!(f, "DATE('{}')", d.format("%Y-%m-%d")),
            Value::Timestamp(t) => write!(f, "TIMESTAMP('{}')", t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Property(p) => write!(f, "\"{p}\""),
            Operand::Value(v) => write!(f, "{v}"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = |negated: &bool| if *negated { "NOT " } else { "" };
        match self {
            Expr::And(a, b) => write!(f, "({a} AND {b})"),
            Expr::Or(a, b) => write!(f, "({a} OR {b})"),
            Expr::Not(e) => write!(f, "NOT {e}"),
            Expr::Literal(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Expr::Compare(l, op, r) => write!(f, "{l} {} {r}", op.as_str()),
            Expr::Like { property, pattern, negated } => {
                write!(f, "\"{property}\" {}LIKE {}", not(negated), Value::Text(pattern.clone()))
            }
            Expr::Between { property, low, high, negated } => {
                write!(f, "\"{property}\" {}BETWEEN {low} AND {high}", not(negated))
            }
            Expr::In { property, values, negated } => {
                let list: Vec<String> = values.iter().map(ToString::to_string).collect();
                write!(f, "\"{property}\" {}IN ({})", not(negated), list.join(", "))
            }
            Expr::IsNull { property, negated } => write!(f, "\"{property}\" IS {}NULL", not(negated)),
            Expr::Intersects { property, geometry: Geometry::Bbox([a, b, c, d]) } => {
                write!(f, "S_INTERSECTS(\"{property}\", BBOX({a}, {b}, {c}, {d}))")
            }
            Expr::Intersects { property, geometry } => write!(f, "S_INTERSECTS(\"{property}\", {})", geometry.wkt()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &[(&str, Type)] = &[
        ("status", Type::Text),
        ("return_count", Type::Number),
        ("overdue", Type::Boolean),
        ("deadline", Type::Date),
        ("first_observed_at", Type::Timestamp),
        ("geometry", Type::Geometry),
    ];

    fn p(text: &str) -> Expr {
        parse(text, Q).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> Error {
        parse(text, Q).expect_err(text)
    }

    fn status(value: &str) -> Expr {
        Expr::Compare(Operand::Property("status"), Comparison::Eq, Operand::Value(Value::Text(value.into())))
    }

    #[test]
    fn comparisons_and_precedence() {
        assert_eq!(p("status = 'closed'"), status("closed"));
        assert_eq!(p("  \"status\"='closed' "), status("closed"));
        // OR binds loosest: a OR (b AND c).
        assert_eq!(
            p("status = 'a' or status = 'b' AND status = 'c'"),
            Expr::Or(Box::new(status("a")), Box::new(Expr::And(Box::new(status("b")), Box::new(status("c")))))
        );
        assert_eq!(
            p("(status = 'a' OR status = 'b') AND status = 'c'"),
            Expr::And(Box::new(Expr::Or(Box::new(status("a")), Box::new(status("b")))), Box::new(status("c")))
        );
        // NOT binds tighter than AND.
        assert_eq!(
            p("NOT status = 'a' AND status = 'b'"),
            Expr::And(Box::new(Expr::Not(Box::new(status("a")))), Box::new(status("b")))
        );
        for (op, cmp) in [
            ("=", Comparison::Eq),
            ("<>", Comparison::Ne),
            ("<", Comparison::Lt),
            ("<=", Comparison::Le),
            (">", Comparison::Gt),
            (">=", Comparison::Ge),
        ] {
            assert_eq!(
                p(&format!("return_count {op} -2.5e1")),
                Expr::Compare(Operand::Property("return_count"), cmp, Operand::Value(Value::Number(-25.0)))
            );
        }
        assert_eq!(
            p("2 < return_count"),
            Expr::Compare(Operand::Value(Value::Number(2.0)), Comparison::Lt, Operand::Property("return_count"))
        );
        assert_eq!(p("true"), Expr::Literal(true));
        assert_eq!(
            p("overdue = TRUE"),
            Expr::Compare(Operand::Property("overdue"), Comparison::Eq, Operand::Value(Value::Boolean(true)))
        );
    }

    #[test]
    fn advanced_operators_and_temporal_literals() {
        assert_eq!(
            p("status not in ('closed', 'cancelled')"),
            Expr::In {
                property: "status",
                values: vec![Value::Text("closed".into()), Value::Text("cancelled".into())],
                negated: true
            }
        );
        assert_eq!(
            p("status LIKE 'in\\_%'"),
            Expr::Like { property: "status", pattern: "in\\_%".into(), negated: false }
        );
        assert_eq!(
            p("deadline BETWEEN DATE('2026-11-01') AND date('2026-11-30')"),
            Expr::Between {
                property: "deadline",
                low: Value::Date(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()),
                high: Value::Date(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
                negated: false
            }
        );
        assert_eq!(
            p("first_observed_at >= TIMESTAMP('2026-11-01T08:00:00+08:00')"),
            Expr::Compare(
                Operand::Property("first_observed_at"),
                Comparison::Ge,
                Operand::Value(Value::Timestamp(parse_timestamp("2026-11-01T00:00:00Z").unwrap()))
            )
        );
        assert_eq!(p("deadline IS NOT NULL"), Expr::IsNull { property: "deadline", negated: true });
        assert_eq!(p("deadline is null"), Expr::IsNull { property: "deadline", negated: false });
    }

    #[test]
    fn text_written_back_reads_as_the_same_tree() {
        for text in [
            "status = 'it''s' OR NOT (return_count > 3 AND overdue <> FALSE)",
            "status NOT LIKE '%a_' AND deadline NOT BETWEEN DATE('2026-01-01') AND DATE('2026-12-31')",
            "return_count IN (1, 2.5, -3) OR first_observed_at < TIMESTAMP('2026-11-01T08:00:00.25Z')",
            "deadline IS NULL AND NOT NOT FALSE",
            "S_INTERSECTS(geometry, BBOX(120.5, 31.8, 120.6, 31.9)) OR S_INTERSECTS(POINT(120.5 31.8), geometry)",
            "S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 0), (0.1 0.1, 0.2 0.1, 0.2 0.2, 0.1 0.1)))",
            "NOT S_INTERSECTS(geometry, LINESTRING(120 31, 121 32))",
        ] {
            let tree = p(text);
            let again = tree.to_string();
            assert_eq!(p(&again), tree, "{text} → {again}");
        }
    }

    #[test]
    fn an_injection_attempt_is_a_literal() {
        // The quote is doubled, so everything up to the last quote is one string value.
        assert_eq!(p("status = 'x'' or 1=1 --'"), status("x' or 1=1 --"));
        // Without the doubled quote the rest is not CQL2.
        let e = err("status = 'x' or 1=1 --'");
        assert_eq!(e.position, 21, "{e}");
        let e = err("status = 'x'; drop table site");
        assert_eq!(e.position, 13, "{e}");
        assert!(err("status = 'x' -- comment").message.contains("number"));
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        let e = err("status = ");
        assert_eq!(
            (e.position, e.message.as_str()),
            (10, "expected a property or a literal, found the end of the filter")
        );
        let e = err("colour = 'red'");
        assert_eq!(e.position, 1);
        assert!(e.message.starts_with("unknown property \"colour\"; the queryables are status, "), "{e}");
        let e = err("deadline > 3");
        assert_eq!(e.position, 12);
        assert_eq!(e.message, "deadline is a date: compare it with DATE('2026-11-01'), not a number");
        let e = err("first_observed_at > DATE('2026-11-01')");
        assert!(e.message.starts_with("first_observed_at is a timestamp"), "{e}");
        assert!(err("return_count LIKE '1%'").message.contains("LIKE applies to text"));
        assert!(err("overdue < TRUE").message.contains("= or <>"));
        assert_eq!(err("status = 'a' AND").position, 17);
        assert_eq!(err("(status = 'a'").message, "expected AND, OR or ), found the end of the filter");
        assert_eq!(err("status = 'a' status").message, "expected AND, OR or the end of the filter, found status");
        assert!(err("status = 'open").message.contains("not closed"));
        assert!(err("deadline = DATE('2026-13-01')").message.contains("not a date"));
        assert!(err("deadline = DATE('-4800-01-01')").message.contains("not a date"));
        assert!(err("deadline = DATE('20260-01-01')").message.contains("not a date"));
        assert_eq!(err("status = 'a\0'").position, 12);
        let e = err("status LIKE 'a\\'");
        assert!(e.message.contains("cannot end with its escape character"), "{e}");
        assert!(parse("status LIKE 'a\\\\'", Q).is_ok(), "an escaped backslash");
        assert!(err("status IN ()").message.starts_with("expected a string"));
        assert!(err("status BETWEEN 'a' 'b'").message.contains("AND between"));
        assert!(err("status IS 'x'").message.starts_with("expected NULL"));
        assert_eq!(err("状态 = 'x'").position, 1);
        // Positions count characters, not bytes.
        assert_eq!(err("status = '状态' AND ?").position, 19);
    }

    #[test]
    fn spatial_literals_are_read_and_checked() {
        assert_eq!(
            p("s_intersects(BBOX(120.5, 31.8, 120.6, 31.9), geometry)"),
            Expr::Intersects { property: "geometry", geometry: Geometry::Bbox([120.5, 31.8, 120.6, 31.9]) }
        );
        assert_eq!(
            p("S_INTERSECTS(geometry, POINT(-120.5 31))"),
            Expr::Intersects { property: "geometry", geometry: Geometry::Point([-120.5, 31.0]) }
        );
        assert_eq!(Geometry::Bbox([1.0, 2.0, 3.0, 4.0]).wkt(), "POLYGON((1 2, 3 2, 3 4, 1 4, 1 2))");
        assert_eq!(Geometry::Point([120.5, 31.0]).wkt(), "POINT(120.5 31)");
        for (text, says) in [
            ("S_INTERSECTS(status, POINT(1 2))", "status is text; S_INTERSECTS takes a geometry"),
            ("S_INTERSECTS(geometry, geometry)", "one geometry literal"),
            ("S_INTERSECTS(POINT(1 2), POINT(1 2))", "the geometry property"),
            ("S_INTERSECTS(geometry, BBOX(121, 31, 120, 32))", "min after max"),
            ("S_INTERSECTS(geometry, BBOX(120, 31, 121))", "four numbers"),
            ("S_INTERSECTS(geometry, BBOX(120, 31, 0, 121, 32, 0))", "four numbers"),
            ("S_INTERSECTS(geometry, POINT(31 120))", "not a longitude and latitude"),
            ("S_INTERSECTS(geometry, POINT(1))", "expected a number"),
            ("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1)))", "ends where it starts"),
            ("S_INTERSECTS(geometry, LINESTRING(0 0))", "at least two points"),
            ("S_INTERSECTS(geometry, CIRCLE(0 0))", "unknown property \"CIRCLE\""),
            ("geometry = POINT(1 2)", "unknown property \"POINT\""),
            ("geometry = 'POINT(1 2)'", "geometry is a geometry"),
        ] {
            let e = err(text);
            assert!(e.message.contains(says), "{text}: {e}");
        }
        // Each point is a term.
        let line = |n: usize| format!("S_INTERSECTS(geometry, LINESTRING({}))", vec!["1 1"; n].join(","));
        assert!(parse(&line(200), Q).is_ok());
        assert!(err(&line(201)).message.contains("more than 200 terms"));
    }

    #[test]
    fn limits_hold() {
        let long = format!("status = '{}'", "a".repeat(TEXT_BYTES_MAX));
        assert!(err(&long).message.contains("longer than"));
        let deep = format!("{}status = 'a'{}", "(".repeat(DEPTH_MAX), ")".repeat(DEPTH_MAX));
        assert!(parse(&deep, Q).is_ok());
        let deeper = format!("{}status = 'a'{}", "(".repeat(DEPTH_MAX + 1), ")".repeat(DEPTH_MAX + 1));
        assert!(err(&deeper).message.contains("nested"));
        assert!(err(&format!("{}TRUE", "NOT ".repeat(DEPTH_MAX + 1))).message.contains("nested"));
        // 100 comparisons are 200 terms (a property and a value each).
        let many = |n: usize| vec!["return_count = 1"; n].join(" OR ");
        assert!(parse(&many(100), Q).is_ok());
        assert!(err(&many(101)).message.contains("more than 200 terms"));
        let list = |n: usize| format!("status IN ({})", vec!["'a'"; n].join(","));
        assert!(parse(&list(199), Q).is_ok());
        assert!(err(&list(200)).message.contains("terms"));
    }
}
